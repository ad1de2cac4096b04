"""Colour hints: parsing, the JSON format, spreading within regions, and every way they reach a photo."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import Colorizer, Hint, HintError, color, commands
from autocolor.evidence import hints as H
from autocolor.histograms import DecodeParam


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    # the network shown the drawn test patterns as they are: their flat tones are what the spread is tested on
    return Colorizer.from_pretrained(size=256, view="plain")


def hue_of(rgb) -> float:
    return float(color.hue_chroma(torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1))[0])


def test_command_line_hints_parse_coordinates_and_any_pillow_colour():
    assert H.parse("120,80,#3060c0") == Hint(((120.0, 80.0),), (48 / 255, 96 / 255, 192 / 255))
    assert H.parse("1.5,2,rgb(255,0,0)").rgb == (1.0, 0.0, 0.0)
    assert H.parse("0,0,navy").rgb == (0.0, 0.0, 128 / 255)
    for bad in ("120,80", "x,80,red", "1,2,#12", "1,2,notacolour", ""):
        with pytest.raises(HintError):
            H.parse(bad)


def test_hints_file_holds_points_and_scribbles(tmp_path):
    path = tmp_path / "hints.json"
    path.write_text(json.dumps({"hints": [{"x": 3, "y": 4, "color": "red"},
                                          {"points": [[1, 2], [5, 6]], "colour": "#00ff00"}]}))  # fmt: skip
    assert H.load(path) == [
        Hint(((3.0, 4.0),), (1.0, 0.0, 0.0)),
        Hint(((1.0, 2.0), (5.0, 6.0)), (0.0, 1.0, 0.0)),
    ]
    for text in ("not json", '{"hints": 3}', '[{"x": 1, "y": 2}]', '[{"points": [["a", 1]], "color": "red"}]',
                 "[[1, 2]]", "[" * 100_000 + "]" * 100_000, '[{"x": 1' + "0" * 5000 + ', "y": 2}]',
                 '[{"x": 1e400, "y": 2, "color": "red"}]'):  # fmt: skip
        path.write_text(text)
        with pytest.raises(HintError, match="hints.json"):
            H.load(path)
    with pytest.raises(HintError, match="not a readable"):
        H.load(tmp_path / "missing.json")
    with pytest.raises(HintError) as err:  # a megabyte of colour is not echoed back
        H.parse_color("r" * 1_000_000)
    assert len(str(err.value)) < 200


def test_hints_outside_the_image_are_refused_before_the_network_runs(colorizer, astronaut, monkeypatch):
    monkeypatch.setattr(colorizer.net, "dense_with_features", lambda x: pytest.fail("network ran"))
    for x, y in ((512, 10), (10, -1), (float("nan"), 3)):
        with pytest.raises(HintError, match="outside the 512x512"):
            colorizer.colorize(Image.open(astronaut), hints=[Hint(((x, y),), (1, 0, 0))])


def test_a_hint_colours_its_region_and_stops_at_a_strong_edge(colorizer):
    # Two flat regions (dark left, light right) with a sharp edge: a blue hint on the left.
    light = np.full((192, 256), 0.75, np.float32)
    light[:, :128] = 0.3
    pred = colorizer.predict(light, features=True)
    blue = Hint(((40.0, 96.0),), (0.2, 0.3, 0.8))
    near = colorizer.steer(pred, [blue])
    out, plain = colorizer.render(near, light), colorizer.render(pred, light)
    np.testing.assert_allclose(out.mean(axis=2), light, atol=1e-5)  # lightness kept exactly
    assert abs(hue_of(out[96, 100]) - hue_of(blue.rgb)) < 0.03  # far along its own region
    assert out[96, 100, 2] - out[96, 100, 0] > 0.2
    inside = np.abs(out[96, 100] - plain[96, 100]).max()
    across = np.abs(out[:, 136:] - plain[:, 136:]).max()
    assert across < 0.1 * inside  # a strong edge stops it: a faint trace at most beyond


def test_a_hint_reaches_look_alike_regions_beyond_an_edge_when_asked(colorizer):
    # dark | light | dark: a blue hint on the left; the right band looks like it, the middle does not.
    light = np.full((192, 288), 0.75, np.float32)
    light[:, :96] = light[:, 192:] = 0.3
    pred = colorizer.predict(light, features=True)
    blue = Hint(((40.0, 96.0),), (0.2, 0.3, 0.8))
    plain = colorizer.render(pred, light)
    for alike, reached in ((0.0, False), (1.0, True)):
        colorizer.spread = H.Spread(alike=alike, alike_reach=1.5)
        out = colorizer.render(colorizer.steer(pred, [blue]), light)
        far = out[96, 250]
        assert (abs(hue_of(far) - hue_of(blue.rgb)) < 0.05 and far[2] - far[0] > 0.2) == reached
        assert np.abs(out[:, 110:170] - plain[:, 110:170]).max() < 0.1  # the middle band keeps its colour
    colorizer.spread = H.DEFAULT_SPREAD


def test_a_hint_on_a_tower_leaves_a_sky_of_the_same_gray_alone(photo_dir):
    """rocket.jpg: dark lattice towers against a dusk sky of the same gray. An orange hint on the left
    tower once repainted the whole sky; now the sky keeps its automatic blue, the tower takes orange."""
    gray = Image.open(photo_dir / "rocket.jpg").convert("L")
    colorizer = Colorizer.from_pretrained()  # the photo's own size, as a user runs it
    plain = np.asarray(colorizer.colorize(gray), np.float32)
    hint = [H.parse("33,300,orange")]
    changed = {}
    for name, spread in (("before", H.Spread(guess=0, alike_guess=0)), ("now", H.DEFAULT_SPREAD)):
        colorizer.spread = spread
        out = np.asarray(colorizer.colorize(gray, hints=hint), np.float32)
        changed[name] = np.abs(out - plain).mean(-1)
    far_sky = (slice(40, 200), slice(400, 560))  # right of the rocket, far from the hinted tower
    assert changed["before"][far_sky].mean() > 20  # the case is real: the old spread repainted it
    assert changed["now"][far_sky].mean() < 8  # out of 255: the sky keeps its colour
    tower = out[250:350, 20:45].reshape(-1, 3)
    assert (tower[:, 0] - tower[:, 2]).mean() > 25  # the hinted tower turned warm (it was blue-gray)
    assert changed["now"][250:350, 20:45].mean() > 20


def test_steering_reuses_the_prediction_and_gives_the_hue_at_its_spot(colorizer, astronaut, monkeypatch):
    image = Image.open(astronaut)
    pred = colorizer.predict(image, features=True)
    monkeypatch.setattr(colorizer.net, "dense_with_features", lambda x: pytest.fail("network ran"))
    light = np.asarray(image, np.float32).mean(axis=2) / 255
    for rgb in ((0.9, 0.3, 0.1), (0.1, 0.6, 0.2)):
        out = colorizer.render(colorizer.steer(pred, [Hint(((250.0, 420.0),), rgb)]), light)
        assert abs(hue_of(out[420, 250]) - hue_of(rgb)) < 0.05  # within 18 degrees (smoothed with neighbours)
    gray = colorizer.render(colorizer.steer(pred, [Hint(((250.0, 420.0),), (0.5, 0.5, 0.5))]), light)
    assert np.ptp(gray[420, 250]) < 0.02  # a gray hint makes the spot gray


def test_boost_saturates_the_networks_colours_but_not_a_hints(colorizer, astronaut):
    image = Image.open(astronaut)
    pred = colorizer.predict(image, features=True)
    steered = colorizer.steer(pred, [Hint(((250.0, 420.0),), (0.6, 0.35, 0.3))])
    assert steered.steered is not None and pred.steered is None
    assert steered.steered_at(420, 250) > 0.9 > 0.5 > steered.steered_at(20, 20)
    light = np.asarray(image, np.float32).mean(axis=2) / 255

    def chroma(p, boost, y, x):
        out = colorizer.render(p, light, DecodeParam.parse(None, boost=boost))
        return float(color.hue_chroma(torch.from_numpy(out[y, x]).view(3, 1, 1))[1])

    assert chroma(steered, 2.0, 420, 250) == pytest.approx(chroma(steered, 1.0, 420, 250), rel=0.15)
    assert chroma(pred, 2.0, 420, 250) > 1.6 * chroma(pred, 1.0, 420, 250)  # the network's own: boosted


def test_hint_coordinates_are_those_of_the_photo_as_seen(colorizer, astronaut, tmp_path):
    upright = Image.open(astronaut).convert("RGB").crop((0, 0, 512, 384))
    stored = upright.transpose(Image.Transpose.ROTATE_90)  # what a camera held sideways stores
    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90 clockwise to view"
    src = tmp_path / "sideways.png"
    stored.save(src, exif=exif)
    hint = [Hint(((100.0, 300.0),), (0.1, 0.3, 0.9))]
    expected = colorizer.colorize(upright, hints=hint)
    args = [str(src), "-o", str(tmp_path / "out.png"), "--hint", "100,300,rgb(26,77,230)", "-s", "256", "-q"]
    assert commands.main(args) == 0
    with Image.open(tmp_path / "out.png") as im:
        got = np.asarray(im.convert("RGB"), np.int16)
    assert got.shape == (384, 512, 3)
    assert np.abs(got - np.asarray(expected, np.int16)).mean() < 1.0


def test_cli_bad_hints_write_nothing(astronaut, tmp_path, capsys):
    out = tmp_path / "out.png"
    assert commands.main([str(astronaut), "-o", str(out), "--hint", "600,10,red"]) == 1
    assert "outside the 512x512 image" in capsys.readouterr().err and not out.exists()
    (tmp_path / "h.json").write_text("[1, 2]")
    assert commands.main([str(astronaut), "-o", str(out), "--hints", str(tmp_path / "h.json")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not out.exists()
    with pytest.raises(SystemExit) as exit_:
        commands.main([str(astronaut), "-o", str(out), "--hint", "1,2,chartreuse-ish"])
    assert exit_.value.code == 2 and not out.exists()


def test_hints_made_in_python_are_checked_and_normalised():
    hint = Hint([np.array([3, 4])], np.array([0.5, 0.25, 1.0]))  # arrays, as a program may pass them
    assert hint.points == ((3.0, 4.0),) and hint.rgb == (0.5, 0.25, 1.0)
    assert all(type(v) is float for v in hint.rgb)
    for points, rgb in (((), (0, 0, 0)), (((1, 2),), (0, 0, 2)), (((1, 2),), (0, 0)), ((1,), (0, 0, 0))):
        with pytest.raises(HintError):
            Hint(points, rgb)


@pytest.mark.parametrize("kind", ["16-bit gray", "alpha"])
def test_hints_work_on_16_bit_and_alpha_photos(astronaut, tmp_path, kind):
    rgb = np.asarray(Image.open(astronaut).convert("RGB"))
    src = tmp_path / "in.png"
    if kind == "16-bit gray":
        Image.fromarray((rgb.mean(axis=2) * 257).astype(np.uint16)).save(src)
    else:
        Image.fromarray(np.dstack([rgb, np.full(rgb.shape[:2], 200, np.uint8)])).save(src)
    plain, hinted = tmp_path / "plain.png", tmp_path / "hinted.png"
    assert commands.main([str(src), "-o", str(plain), "-s", "256", "-q"]) == 0
    assert commands.main([str(src), "-o", str(hinted), "-s", "256", "-q", "--hint", "250,420,#10d020"]) == 0
    with Image.open(plain) as a, Image.open(hinted) as b:
        assert a.mode == b.mode == ("RGBA" if kind == "alpha" else "RGB") and a.size == b.size
        before, after = (np.asarray(im.convert("RGB"), np.int32)[420, 250] for im in (a, b))
    if kind == "16-bit gray":
        assert hinted.read_bytes()[24] == 16  # the PNG header's bit depth: written in 16 bits
    assert after[1] - max(after[0], after[2]) > before[1] - max(before[0], before[2]) + 20


def test_too_many_hints_or_a_huge_hints_file_are_refused_in_one_line(colorizer, astronaut, tmp_path):
    many = [Hint(((float(i % 500), float(i // 500)),), (1.0, 0.0, 0.0)) for i in range(H.MAX_HINTS + 1)]
    with pytest.raises(HintError, match=f"at most {H.MAX_HINTS}"):
        colorizer.colorize(np.asarray(Image.open(astronaut)), hints=many)
    big = tmp_path / "big.json"
    big.write_text("[" + " " * H.MAX_FILE_BYTES + "]")
    with pytest.raises(HintError, match="more than 10 MB"):
        H.load(big)
