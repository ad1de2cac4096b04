"""The network's view of a photo (``restore.view``): restored for the network, never for the output."""

from __future__ import annotations

import numpy as np
import pytest

from autocolor import Colorizer, imagefile
from autocolor.data import aging
from autocolor.prediction import processing_size
from autocolor.restore import Restorer
from autocolor.restore import view as view_lib


@pytest.fixture(scope="module")
def aged(astronaut) -> np.ndarray:
    """The astronaut as a faded, grainy, dusty print."""
    light = imagefile.read_image(astronaut).light
    model = aging.OldPrint(soft_focus=0, uneven=1, fade=1, black=(0.2, 0.2), white=(0.75, 0.75), grain=1,
                           creases=0, scratches=1, hairs=0, dust=1, halftone=0, jpeg=0)  # fmt: skip
    return aging.age(light, np.random.default_rng(0), model).light


def test_the_view_is_restored_at_twice_the_processing_size(aged):
    view = view_lib.View.from_pretrained()
    size = processing_size(*aged.shape, 256)  # 128 x 128 for the 512 x 512 astronaut
    seen = view(aged, size)
    assert seen.shape == (256, 256)
    lo, hi = np.quantile(aged, (0.01, 0.99))
    seen_lo, seen_hi = np.quantile(seen, (0.01, 0.99))
    assert seen_hi - seen_lo > (hi - lo) + 0.1  # the faded tones stretched back
    assert view(aged, (400, 400)).shape == aged.shape  # never enlarged: restored at its own size


def test_the_view_is_its_own_bundled_restorer_levels_only():
    import torch

    from autocolor import bundled
    from autocolor.restore import net

    view = view_lib.View.from_pretrained()
    assert view.restorer.parts == ("levels",)
    own, restorer = net.load(bundled.VIEW).state_dict(), net.load(bundled.RESTORER).state_dict()
    assert all(torch.equal(v, view.restorer.net.state_dict()[k]) for k, v in own.items())
    assert not all(torch.equal(v, restorer[k]) for k, v in own.items())  # not the --restore restorer


def test_the_output_keeps_the_photos_own_lightness_and_plain_is_the_old_way(checkpoint, aged):
    restored, plain = (Colorizer.load(checkpoint, view=v) for v in ("restored", "plain"))
    photo = imagefile.Photo(aged)
    small, seen = restored.seen(aged)
    assert small.shape == seen.shape == (512, 512) and not np.array_equal(seen, small)
    assert all(x is aged for x in plain.seen(aged))
    shared = restored.with_view("plain")
    assert shared.net is restored.net and shared.view is None and restored.view is not None
    for colorizer in (restored, plain):
        rgb = colorizer.colorize_photo(photo)
        np.testing.assert_allclose(rgb.mean(axis=2), aged, atol=2e-6)
    # the network's input differs, so the colours do; the grid's lightness (the guide) is the photo's
    a, b = restored.predict(photo), plain.predict(photo)
    assert not np.allclose(a.probs["hue"], b.probs["hue"])
    np.testing.assert_array_equal(a.light, b.light)


def test_a_restored_photo_is_not_restored_again(checkpoint, restorer_checkpoint, aged):
    colorizer = Colorizer.load(checkpoint, restore=Restorer.load(restorer_checkpoint))
    assert all(x is aged for x in colorizer.seen(aged))
    with pytest.raises(ValueError, match="view must be one of restored, plain"):
        Colorizer.load(checkpoint, view="clean")


def test_training_crops_show_the_network_the_view(photo_dir):
    """``autocolor train --view restored``: every gray input, aged or not, is what the view makes of it."""
    from autocolor import data

    seen = []

    def view(light: np.ndarray, size: tuple[int, int]) -> np.ndarray:
        seen.append((light.shape, size))
        return np.full(size, 0.25, np.float32)

    photos = [photo_dir / "chelsea.png", photo_dir / "coffee.png"]
    crops = data.TrainingCrops(photos, crop=96, scale=(96, 128), points=16, degraded=0.5, view=view)
    for n in range(6):
        item = crops[n]
        assert item["gray"].shape == (1, 96, 96)
        assert np.allclose(item["gray"].numpy(), 0.25)
        assert not np.allclose(item["light"].numpy(), 0.25)  # the targets' lightness stays the photo's
    assert all(size == (96, 96) and shape[0] >= 96 for shape, size in seen)
    assert any(shape[0] > 96 for shape, _ in seen)  # an aged crop is restored at its scan resolution


def test_a_restoring_colorizer_loads_no_view_until_it_stops_restoring(checkpoint, restorer_checkpoint):
    restoring = Colorizer.load(checkpoint, restore=Restorer.load(restorer_checkpoint))
    assert restoring.view is None and restoring.view_mode == "restored"  # the restorer is not loaded twice
    assert restoring.with_restorer(None).view is not None
    with pytest.raises(ValueError, match="bogus"):
        Colorizer.load(checkpoint, restore=Restorer.load(restorer_checkpoint), view="bogus")


def test_training_for_restore_shows_the_restorers_whole_output(aged):
    """``autocolor train --view restore``: the network is shown what ``--restore all`` gives it."""
    view = view_lib.for_training("restore")
    small = aged[::4, ::4].copy()
    assert np.array_equal(view(small, (64, 64)), Restorer.from_pretrained()(small).light)
    assert view_lib.for_training("plain") is None
    with pytest.raises(ValueError, match="view must be one of"):
        view_lib.for_training("levels")
