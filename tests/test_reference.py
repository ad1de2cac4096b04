"""Reference photos: colours taken where the content matches, automatic colours elsewhere."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from autocolor import Colorizer, commands, imagefile, metrics


@pytest.fixture(scope="module")
def colorizer() -> Colorizer:
    return Colorizer.from_pretrained(size=256)


def test_the_colour_half_of_a_photo_colours_its_gray_half(colorizer, photo_dir):
    rgb = np.asarray(Image.open(photo_dir / "coffee.png").convert("RGB"))  # red cup, blue-gray by itself
    half = rgb.shape[1] // 2
    target, reference = rgb[:, half:], rgb[:, :half]
    light = metrics.gray(target)
    pred = colorizer.predict(light, features=True)
    out = np.empty((*light.shape, 3), np.uint8)
    auto = metrics.psnr(colorizer.render(pred, light, out=out), target)
    prepared = colorizer.reference(reference)
    with_ref = metrics.psnr(
        colorizer.render(colorizer.steer(pred, references=[prepared]), light, out=out), target
    )
    assert with_ref > auto + 2
    np.testing.assert_allclose(out.mean(axis=2) / 255, light, atol=2.5 / 255)  # its own lightness kept
    # the API takes the reference as an image too, and gives the same result
    again = np.asarray(colorizer.colorize(Image.fromarray(target), references=[Image.fromarray(reference)]))
    assert np.abs(again.astype(int) - out).max() <= 1


def test_references_accept_any_photo_mode(colorizer, photo_dir):
    rgb = np.asarray(Image.open(photo_dir / "chelsea.png").convert("RGB"))
    rgba = np.dstack([rgb, np.full(rgb.shape[:2], 255, np.uint8)])
    pil = Image.fromarray(rgb)
    for ref in (rgb, rgb.astype(np.uint16) * 257, rgb / 255.0, rgba, pil.convert("P"), pil.convert("CMYK")):
        assert colorizer.reference(ref).descriptors.shape[1] == 65
    with pytest.raises(ValueError):
        imagefile.to_rgb(np.zeros((4, 4, 2)))


def test_cli_reference_that_is_not_an_image_writes_nothing(astronaut, tmp_path, capsys):
    bad = tmp_path / "ref.jpg"
    bad.write_bytes(b"not an image")
    out = tmp_path / "out.png"
    assert commands.main([str(astronaut), "-o", str(out), "--reference", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--reference" in err and "ref.jpg" in err and not out.exists()
    good = tmp_path / "ref.png"
    Image.open(astronaut).convert("RGB").crop((0, 0, 256, 512)).save(good)
    assert commands.main([str(astronaut), "-o", str(out), "--reference", str(good), "-s", "256", "-q"]) == 0
    assert out.exists()
