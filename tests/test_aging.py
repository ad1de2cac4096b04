"""The old-print model and aged twins of photo folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from autocolor import commands, imagefile
from autocolor.data import aging, thin_objects, twins


@pytest.fixture(scope="module")
def light(photo_dir) -> np.ndarray:
    return imagefile.read_image(photo_dir / "chelsea.png").light


LOCAL = [aging.scratches, aging.hairs, aging.dust, aging.creases]
GLOBAL = [aging.soft_focus, aging.uneven_exposure, aging.fade, aging.grain, aging.halftone, aging.jpeg]


@pytest.mark.parametrize("defect", LOCAL + GLOBAL, ids=lambda f: f.__name__)
def test_each_defect_keeps_shape_and_range(defect, light):
    out, mask = defect(light, np.random.default_rng(1))
    assert out.shape == light.shape and out.dtype == np.float32
    assert out.min() >= 0 and out.max() <= 1
    assert (mask is None) == (defect in GLOBAL)
    assert np.abs(out - light).mean() > 1e-4  # it did something


@pytest.mark.parametrize("defect", LOCAL, ids=lambda f: f.__name__)
def test_a_local_defect_changes_only_what_its_mask_covers(defect, light):
    out, mask = defect(light, np.random.default_rng(2))
    assert mask.shape == light.shape and 0 < mask.max() <= 1
    changed = np.abs(out - light) > 0.06
    assert changed.any()
    assert (mask[changed] > 0).mean() > 0.97  # creases also darken a band beside their crack slightly


def test_fading_lifts_blacks_and_dims_whites():
    ramp = np.linspace(0, 1, 256, dtype=np.float32)[None].repeat(8, 0)
    out, _ = aging.fade(ramp, np.random.default_rng(0))
    assert 0.03 <= out.min() <= 0.25 and 0.7 <= out.max() <= 0.97


def test_grain_is_strongest_in_the_mid_tones():
    flat = {v: np.full((128, 128), v, np.float32) for v in (0.05, 0.5)}
    spread = {v: aging.grain(x, np.random.default_rng(3))[0].std() for v, x in flat.items()}
    assert spread[0.5] > 2 * spread[0.05]


def test_ageing_is_seeded_and_quantised(light):
    a, b = (aging.age(light, np.random.default_rng(7)) for _ in range(2))
    c = aging.age(light, np.random.default_rng(8))
    assert np.array_equal(a.light, b.light) and not np.array_equal(a.light, c.light)
    assert np.array_equal(a.light, np.round(a.light * 255) / 255)
    every = aging.age(light, np.random.default_rng(0), aging.OldPrint(**{k: 1.0 for k in (
        "soft_focus", "uneven", "fade", "grain", "creases", "scratches", "hairs", "dust")}))  # fmt: skip
    assert set(every.masks) == {"creases", "scratches", "hairs", "dust"}
    assert 0.001 < (every.defects() > 0.25).mean() < 0.2


def test_data_age_writes_twins_with_masks_and_goes_on_past_bad_files(photo_dir, tmp_path, capsys):
    src = tmp_path / "clean"
    (src / "sub").mkdir(parents=True)
    shutil.copy(photo_dir / "chelsea.png", src / "chelsea.png")
    shutil.copy(photo_dir / "coffee.png", src / "sub" / "coffee.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    assert commands.main(["data", "age", str(src), str(tmp_path / "a"), "--seed", "3"]) == 1
    assert "broken.jpg" in capsys.readouterr().out
    rows = twins.read_manifest(tmp_path / "a")
    assert sorted(r["image"].name for r in rows) == ["chelsea.png", "coffee.png"]
    for r in rows:
        aged, mask = imagefile.read_image(r["image"]), imagefile.read_image(r["mask"])
        assert aged.light.shape == mask.light.shape == imagefile.read_image(r["source"]).light.shape
    (src / "broken.jpg").unlink()
    assert commands.main(["data", "age", str(src), str(tmp_path / "b"), "--seed", "3"]) == 0
    for name in ("images/chelsea.png", "masks/sub/coffee.png"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()
    assert commands.main(["data", "age", str(tmp_path / "missing"), str(tmp_path / "c")]) == 2


def test_photos_that_differ_only_by_suffix_get_twins_of_their_own(photo_dir, tmp_path):
    src = tmp_path / "clean"
    src.mkdir()
    shutil.copy(photo_dir / "chelsea.png", src / "cat.png")
    shutil.copy(photo_dir / "coffee.png", src / "cat.jpg")  # a PNG by content; the name is what counts
    shutil.copy(photo_dir / "astronaut.png", src / "moon.tif")
    assert twins.age_folder(src, tmp_path / "a", report=lambda _: None) == 0
    names = sorted(r["image"].name for r in twins.read_manifest(tmp_path / "a"))
    assert names == ["cat.jpg.png", "cat.png.png", "moon.png"]
    for r in twins.read_manifest(tmp_path / "a"):
        assert imagefile.read_image(r["image"]).light.shape == imagefile.read_image(r["source"]).light.shape


def test_thin_objects_are_thin_and_within_the_photos_range(light):
    lo, hi = np.quantile(light, (0.02, 0.98))
    for seed in range(8):
        out = thin_objects.rod(light, np.random.default_rng(seed))
        changed = np.abs(out - light) > 0.02
        assert 0 < changed.mean() < 0.04  # a rod, not a region
        # never brighter than the photo's white or darker than its black (a scratch is paper-white)
        assert (out <= np.maximum(light, hi) + 1e-3).all() and (out >= np.minimum(light, lo) - 1e-3).all()
