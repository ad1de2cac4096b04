"""Old films: the old-film model, and temporal restoration (dust, scratches, flicker, grain)."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from autocolor import commands
from autocolor.data import film_aging

cv2 = pytest.importorskip("cv2")
from autocolor.restore.film import FilmRestorer, FilmSettings  # noqa: E402

MODEL = film_aging.OldFilm(
    scratches=1.0, scratch_birth=(0.25, 0.25), scratch_life=(60, 60), dust=1.0, dust_per_mp=(400.0, 400.0)
)  # a small clip: enough specks on every frame


@pytest.fixture(scope="module")
def footage(astronaut) -> list[np.ndarray]:
    """A slow pan over a real photo: 24 lightness frames."""
    rgb = np.asarray(Image.open(astronaut).convert("RGB"))
    frames = film_aging.pan(rgb, 24, np.random.default_rng(0), max_side=200)
    return [f.mean(axis=2, dtype=np.float32) / 255 for f in frames]


@pytest.fixture(scope="module")
def aged(footage):
    return list(film_aging.age_clip(footage, np.random.default_rng(2), MODEL))


def psnr(a, b) -> float:
    return float(10 * np.log10(1 / np.mean((np.asarray(a, np.float64) - b) ** 2)))


def test_pan_moves_slowly_over_the_photo(footage):
    assert len(footage) == 24 and footage[0].shape == (200, 200)
    a, b = (np.clip(f * 255, 0, 255).astype(np.uint8) for f in footage[:2])
    flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    assert 0.5 < np.linalg.norm(np.median(flow.reshape(-1, 2), axis=0)) < 4.5


def test_old_film_is_seeded_dust_is_new_each_frame_scratches_run_on(footage, aged):
    again = list(film_aging.age_clip(footage, np.random.default_rng(2), MODEL))
    assert all(np.array_equal(a.light, b.light) for a, b in zip(aged, again, strict=True))
    assert all(a.light.dtype == np.float32 and a.light.min() >= 0 and a.light.max() <= 1 for a in aged)
    dust = [a.masks["dust"] > 0.25 for a in aged]
    assert all(d.any() for d in dust) and (dust[0] & dust[1]).sum() < 0.2 * dust[0].sum()
    columns = [np.flatnonzero((a.masks["scratches"] > 0.25).mean(axis=0) > 0.5) for a in aged]
    first = columns[0]
    assert first.size and all(np.abs(c[:, None] - first[None]).min() < 12 for c in columns[1:6])
    assert np.std([a.light.mean() for a in aged]) > 0.005  # flicker


def _restore(frames, parts="all"):
    out = list(FilmRestorer(None, parts).run((f, k) for k, f in enumerate(frames)))
    assert [k for _, k in out] == list(range(len(frames)))  # every frame, in order, payload kept
    return [r for r, _ in out]


def test_temporal_restoration_removes_dust_scratches_flicker_and_grain(footage, aged):
    restored = _restore([a.light for a in aged])
    middle = slice(2, -2)
    gain = np.mean(
        [psnr(r.light, t) - psnr(a.light, t) for r, a, t in zip(restored, aged, footage, strict=True)][middle]
    )
    assert gain > 0.7  # grain and flicker (no photo restorer here to undo the fading)
    dust = np.stack([a.masks["dust"] > 0.25 for a in aged])[middle]
    truth, out, before = (np.stack(x)[middle][dust] for x in (footage, [r.light for r in restored],
                                                              [a.light for a in aged]))  # fmt: skip
    assert psnr(out, truth) - psnr(before, truth) > 6  # specks (scratches: the still-scratch test)
    flicker = [np.std([float((x - t).mean()) for x, t in zip(xs, footage, strict=True)])
               for xs in ([a.light for a in aged], [r.light for r in restored])]  # fmt: skip
    assert flicker[1] < 0.5 * flicker[0]
    assert all(r.defects is not None and r.defects.shape == r.light.shape for r in restored)


def test_parts_switch_the_steps(aged):
    frames = [a.light for a in aged[:8]]
    levels, grain = _restore(frames, "levels"), _restore(frames, "grain")
    for r, f in zip(levels, frames, strict=True):  # deflicker: one gain and offset per frame
        gain, offset = np.polyfit(f.ravel()[::7], r.light.ravel()[::7], 1)
        assert np.allclose(np.clip(f * gain + offset, 0, 1), r.light, atol=2e-3)
    assert np.std(grain[4].light - frames[4]) > 0.005  # grain averaged away


def test_more_neighbours_average_more_grain(footage):
    rng = np.random.default_rng(3)
    still = footage[0]
    grainy = [np.clip(still + rng.normal(0, 0.04, still.shape), 0, 1).astype(np.float32) for _ in range(12)]
    left = {k: np.std(_restore_with(grainy, FilmSettings(neighbours=k))[6].light - still) for k in (1, 3)}
    assert left[3] < 0.85 * left[1] < 0.85 * 0.04
    with pytest.raises(ValueError, match="neighbours"):
        FilmSettings(neighbours=0)


def _restore_with(frames, settings):
    return [r for r, _ in FilmRestorer(None, "grain", settings).run((f, None) for f in frames)]


def test_a_cut_starts_afresh_and_short_clips_come_out_whole(footage):
    dark = [0.3 * f for f in footage[:5]]
    bright = [np.flipud(0.5 + 0.5 * f) for f in footage[:5]]
    out = _restore(dark + bright, "levels")
    assert abs(out[5].light.mean() - bright[0].mean()) < 0.02  # the dark shot's tone did not leak in
    assert len(_restore(footage[:1])) == 1 and len(_restore(footage[:2])) == 2
    assert _restore([]) == []


def test_a_still_scratch_is_found_and_filled(footage):
    rng = np.random.default_rng(0)
    still = [
        np.clip(footage[0] + rng.normal(0, 0.03, footage[0].shape), 0, 1).astype(np.float32) for _ in range(6)
    ]
    for f in still:  # grainy frames of a still scene, one bright scratch through them all
        f[:, 100:102] = 0.95
    out = _restore(still, "defects")
    before, after = (np.abs(x[:, 100:102] - footage[0][:, 100:102]).mean() for x in (still[3], out[3].light))
    assert after < 0.3 * before
    assert out[3].defects[:, 100:102].mean() > 0.9


@pytest.fixture(scope="module")
def film(footage, tmp_path_factory):
    """The pan as a small gray H.264 film."""
    av = pytest.importorskip("av")
    path = tmp_path_factory.mktemp("films") / "pan.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=8)
        vs.width, vs.height, vs.pix_fmt = 200, 200, "yuv420p"
        for k, light in enumerate(footage[:12]):
            frame = av.VideoFrame.from_ndarray(
                np.repeat((light * 255).astype(np.uint8)[..., None], 3, 2), "rgb24"
            )
            frame.pts, frame.time_base = k, Fraction(1, 8)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def test_data_age_writes_aged_films_as_sequences(film, tmp_path, capsys):
    src = tmp_path / "films"
    src.mkdir()
    (src / "pan.mp4").write_bytes(film.read_bytes())
    (src / "broken.mkv").write_bytes(b"not a film")
    assert commands.main(["data", "age", str(src), str(tmp_path / "aged")]) == 1  # the broken one failed
    assert "broken.mkv" in capsys.readouterr().out
    images = sorted((tmp_path / "aged" / "images" / "pan").glob("*.png"))
    masks = sorted((tmp_path / "aged" / "masks" / "pan").glob("*.png"))
    assert [p.name for p in images] == [f"{k:04d}.png" for k in range(1, 13)] == [p.name for p in masks]
    row = (tmp_path / "aged" / "manifest.csv").read_text().splitlines()[1]
    assert row.startswith("images/pan/%04d.png,masks/pan/%04d.png,")


def test_video_restore_along_time_and_frame_by_frame(film, checkpoint, restorer_checkpoint, tmp_path):
    av = pytest.importorskip("av")
    common = [
        "video",
        str(film),
        "-w",
        str(checkpoint),
        "-s",
        "128",
        "-q",
        "--restorer",
        str(restorer_checkpoint),
    ]
    outs = {}
    for name, extra in (("temporal", []), ("each", ["--each-frame"])):
        outs[name] = tmp_path / f"{name}.mp4"
        assert commands.main([*common, "-o", str(outs[name]), "--restore", *extra]) == 0
    frames = {}
    for name, path in outs.items():
        with av.open(str(path)) as c:
            frames[name] = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames["temporal"]) == len(frames["each"]) == 12
    assert np.abs(frames["temporal"][6].astype(float) - frames["each"][6]).mean() > 0.5
