"""Restoration of old photos: levels, the learned restorer's parts, and ``--restore`` end to end."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import Colorizer, commands, imagefile
from autocolor.data import aging
from autocolor.restore import PARTS, Restorer, net, parse_parts


@pytest.fixture(scope="module")
def light(photo_dir) -> np.ndarray:
    return imagefile.read_image(photo_dir / "coffee.png").light


def test_parts_parse_and_bad_ones_are_named():
    assert parse_parts("all") == PARTS
    assert parse_parts("defects, levels") == ("levels", "defects")
    with pytest.raises(ValueError, match="sharpen"):
        parse_parts("levels,sharpen")
    with pytest.raises(ValueError):
        parse_parts("")


def test_the_correction_splits_into_smooth_tone_and_detail():
    from autocolor.restore import split

    y, x = np.mgrid[0:120, 0:160].astype(np.float32)
    tone = 0.1 + 0.001 * x  # a faded print's gradient
    detail = np.zeros_like(tone)
    detail[60, :] = -0.5  # a scratch removed
    mask = np.zeros_like(tone)
    mask[59:62, :] = 1
    smooth, rest = split(tone + detail, mask)
    np.testing.assert_allclose(smooth + rest, tone + detail, atol=1e-6)
    assert np.abs(smooth - tone)[20:-20, 20:-20].max() < 0.01  # the scratch stays out of the tone
    assert rest[60, 20:-20].max() < -0.45


def test_checkpoint_round_trip_and_tampering(restorer_checkpoint, tmp_path):
    a = net.load(restorer_checkpoint, require_checksum=True)
    x = torch.rand(1, 1, 64, 96)
    with torch.inference_mode():
        out, logit = a(x)
    assert out.shape == logit.shape == x.shape
    bad = tmp_path / "r.pt"
    bad.write_bytes(restorer_checkpoint.read_bytes()[:-10])
    with pytest.raises(Exception, match="r.pt"):
        net.load(bad)


def test_each_part_changes_what_it_owns(restorer_checkpoint, light, monkeypatch):
    r = Restorer.load(restorer_checkpoint, "defects", threshold=0.5)
    net_out = r.run_net(light)  # one network output for every call: the split is what is tested here
    monkeypatch.setattr(Restorer, "run_net", lambda self, x: net_out)
    out = r(light)
    keep = cv2.dilate((out.defects > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)) == 0  # + 1 px
    assert out.light.shape == light.shape and out.defects.shape == light.shape
    np.testing.assert_array_equal(out.light[keep], light[keep])  # defects alone: only defect pixels move
    grain = Restorer.load(restorer_checkpoint, "grain", threshold=1.0)(light)  # no defect found
    assert np.abs(grain.light - light).mean() > 0  # the network's detail everywhere else
    parts = {p: Restorer.load(restorer_checkpoint, p)(light).light - light for p in PARTS}
    whole = Restorer.load(restorer_checkpoint, "all")(light).light - light
    inside = np.logical_and.reduce(
        [(c > -light + 1e-3) & (c < 1 - light - 1e-3) for c in (whole, *parts.values())]
    )
    np.testing.assert_allclose(sum(parts.values())[inside], whole[inside], atol=1e-4)  # the parts add up
    with pytest.raises(ValueError, match="weights"):
        Restorer(None, "levels")


def test_telea_fill_and_tiles_cover_a_large_photo(restorer_checkpoint, monkeypatch):
    from autocolor import restore

    monkeypatch.setattr(restore, "TILE", 96)
    big = np.random.default_rng(0).random((250, 330), dtype=np.float32)
    r = Restorer.load(restorer_checkpoint, "all", fill="telea", threshold=0.0)  # every pixel a defect
    out = r(big)
    assert out.light.shape == big.shape and np.isfinite(out.light).all()
    whole, _ = Restorer.load(restorer_checkpoint).run_net(big)
    monkeypatch.setattr(restore, "TILE", 4096)
    single, _ = Restorer.load(restorer_checkpoint).run_net(big)
    assert np.abs(whole - single)[40:-40, 40:-40].max() < 0.05  # tiles overlap by a margin


def test_the_network_answers_for_the_photo_and_its_mirror_image(restorer_checkpoint):
    from autocolor.restore.view import View

    light = np.random.default_rng(1).random((96, 160), dtype=np.float32)
    one = Restorer.load(restorer_checkpoint, mirror=False)
    clean, prob = Restorer.load(restorer_checkpoint, mirror=True).run_net(light)
    plain, mirrored = one.run_net(light), one.run_net(np.ascontiguousarray(light[:, ::-1]))
    np.testing.assert_allclose(clean, (plain[0] + mirrored[0][:, ::-1]) / 2, atol=1e-6)
    np.testing.assert_allclose(prob, (plain[1] + mirrored[1][:, ::-1]) / 2, atol=1e-6)
    assert np.abs(clean - plain[0]).max() > 1e-4  # the mirror image is a second opinion, not the same
    assert not View.from_pretrained().restorer.mirror  # the network's view is restored as it was chosen


def test_a_scene_restorer_starts_as_its_parent_and_tiles_read_its_scene(restorer_checkpoint, monkeypatch):
    from autocolor import restore
    from autocolor.restore.train import start_from

    parent = net.load(restorer_checkpoint)
    torch.manual_seed(0)
    child = net.RestoreNet(net.RestorerConfig(stats=parent.config.stats, scene=4))
    start_from(child, restorer_checkpoint)
    big = np.random.default_rng(0).random((250, 330), dtype=np.float32)
    np.testing.assert_array_equal(Restorer(child).run_net(big)[0], Restorer(parent).run_net(big)[0])
    narrow = net.RestoreNet(net.RestorerConfig(width=16, stats=parent.config.stats))
    with pytest.raises(ValueError, match="stem.0.weight"):  # a network of another shape is named
        start_from(narrow, restorer_checkpoint)
    with torch.no_grad():  # now the scene counts: a brighter thumbnail changes the output
        child.stem[0].weight[:, -4:] = 0.5
        x = torch.from_numpy(big)[None, None, :224, :320]
        thumb = net.thumbnail(x)
        dim, bright = (child(x, None, t)[0] for t in (0.5 * thumb, 0.5 + 0.5 * thumb))
        assert (dim - bright).abs().mean() > 1e-5
    monkeypatch.setattr(restore, "TILE", 96)
    tiled, _ = Restorer(child).run_net(big)
    monkeypatch.setattr(restore, "TILE", 4096)
    whole, _ = Restorer(child).run_net(big)
    assert np.abs(tiled - whole)[40:-40, 40:-40].max() < 0.05  # every tile sees the scene at its place


def test_colorizer_keeps_the_restored_lightness(checkpoint, restorer_checkpoint, light):
    restorer = Restorer.load(restorer_checkpoint)
    rgb = Colorizer.load(checkpoint, restore=restorer).colorize(light)
    np.testing.assert_allclose(rgb.mean(axis=2), restorer(light).light, atol=2e-3)
    plain = Colorizer.load(checkpoint).colorize(light)
    np.testing.assert_allclose(plain.mean(axis=2), light, atol=2e-3)  # without it, the photo's own


def test_cli_restore_keeps_16_bits_and_alpha(checkpoint, restorer_checkpoint, tmp_path):
    rng = np.random.default_rng(1)
    aged = aging.age(np.tile(np.linspace(0.1, 0.9, 96, dtype=np.float32), (80, 1)), rng).light
    Image.fromarray((aged * 65535).astype(np.uint16)).save(tmp_path / "old16.png")
    rgba = np.dstack(
        [np.repeat((aged * 255).astype(np.uint8)[..., None], 3, 2), np.full((80, 96), 128, np.uint8)]
    )
    Image.fromarray(rgba, "RGBA").save(tmp_path / "alpha.png")
    args = ["-w", checkpoint, "--restore", "--restorer", restorer_checkpoint, "-q"]
    assert commands.main([str(tmp_path / "old16.png"), "-o", str(tmp_path / "o16.png"), *map(str, args)]) == 0
    assert commands.main([str(tmp_path / "alpha.png"), "-o", str(tmp_path / "oa.png"), *map(str, args)]) == 0
    assert (tmp_path / "o16.png").read_bytes()[24] == 16  # the PNG header's bit depth
    with Image.open(tmp_path / "oa.png") as im:
        assert im.mode == "RGBA" and np.asarray(im)[..., 3].max() == 128


def test_cli_restore_rejects_unknown_parts_and_missing_weights(checkpoint, astronaut, tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        commands.main([str(astronaut), "--restore", "sharpen"])
    assert exit_.value.code == 2 and "sharpen" in capsys.readouterr().err
    code = commands.main([str(astronaut), "-o", str(tmp_path / "x.png"), "-w", str(checkpoint), "--restore",
                     "--restorer", str(tmp_path / "none.pt")])  # fmt: skip
    assert code == 2 and "none.pt" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


def test_the_training_loss_weighs_defects_and_adds_a_squared_error():
    from autocolor.restore.train import RestorerTrainConfig, loss_terms

    restorer = net.RestoreNet(net.RestorerConfig(width=8))
    light = torch.rand(1, 1, 32, 32)
    batch = (light, light + 0.1, torch.zeros_like(light), None, None, None)
    plain, terms = loss_terms(restorer, batch, RestorerTrainConfig(mask_weight=0))
    assert terms["l2"] < terms["l1"]  # errors below 1: squares are smaller
    with_l2, _ = loss_terms(restorer, batch, RestorerTrainConfig(mask_weight=0, l2_weight=10))
    assert with_l2.item() == pytest.approx(plain.item() + 10 * terms["l2"], rel=1e-5)
    cover = torch.zeros_like(light)
    cover[..., :16, :] = 1
    _, more = loss_terms(restorer, (*batch[:2], cover, *batch[3:]), RestorerTrainConfig(mask_weight=0))
    assert more["l1"] > terms["l1"]  # defect pixels weigh 1 + defect_weight


def test_train_restorer_resumes_with_its_own_settings_and_names_a_damaged_run(photo_dir, tmp_path, capsys):
    run = tmp_path / "run"
    photos = [str(photo_dir / "chelsea.png"), str(photo_dir / "coffee.png")]
    small = ["--batch", "2", "--save-every", "2", "--workers", "0", "--quantiles", "8", "--out", str(run)]
    settings = ["--steps", "2", "--mask-weight", "2", "--width", "16", "--objects", "0.5", "--l2-weight", "3"]
    assert commands.main(["train-restorer", *photos, *settings, *small]) == 0
    capsys.readouterr()
    # resumed with the run's own 8 quantiles, although the command line does not repeat them
    args = ["train-restorer", "--resume", "--out", str(run), "--steps", "4", "--workers", "0", "--batch", "9"]
    assert commands.main(args) == 0
    assert net.load(run / "restorer.pt").config.stats == net.load(run / "restorer-step-2.pt").config.stats
    assert len(net.load(run / "restorer.pt").config.stats) == 8 and (run / "restorer-step-4.pt").exists()
    config = torch.load(run / "state.pt", weights_only=True)["config"]
    assert config["mask_weight"] == 2.0 and config["objects"] == 0.5 and config["l2_weight"] == 3.0  # kept
    assert net.load(run / "restorer.pt").config.width == 16
    capsys.readouterr()
    (run / "state.pt").write_bytes(b"damaged")
    assert commands.main(["train-restorer", "--resume", "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip()
    assert "state.pt: not a readable restorer run" in err and len(err.splitlines()) == 1
    grown = tmp_path / "grown"  # a restorer with the scene's features, started from the one above
    small[small.index("--out") + 1] = str(grown)
    small.remove("--quantiles"), small.remove("8")  # taken from the parent
    init = ["--scene", "4", "--init", str(run / "restorer-step-4.pt")]
    assert commands.main(["train-restorer", *photos, "--steps", "1", *small, *init]) == 0
    assert net.load(grown / "restorer.pt").config.scene == 4
    assert len(net.load(grown / "restorer.pt").config.stats) == 8
    assert net.load(grown / "restorer.pt").config.width == 16  # the parent's, too
