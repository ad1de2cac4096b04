import math

import numpy as np
import pytest

from autocolor import metrics


@pytest.fixture
def photo(astronaut):
    from PIL import Image

    return np.asarray(Image.open(astronaut).convert("RGB").resize((128, 128)))


def test_psnr_known_values(photo):
    assert metrics.psnr(photo, photo) == math.inf
    off = photo.astype(np.int16) + 1
    off[photo == 255] = 254  # a constant offset of 1/255 (down where up would clip)
    assert metrics.psnr(off.astype(np.uint8), photo) == pytest.approx(48.13, abs=0.01)


def test_colourfulness_of_gray_is_zero(photo):
    g = np.repeat(photo.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
    assert metrics.colourfulness(g) == 0
    assert metrics.colourfulness(photo) > 20


def test_errors_of_identical_images_are_zero(photo):
    s = metrics.score(photo, photo)
    assert (
        s["rmse_alpha_beta"] == 0 and s["auc_cmf"] == 1.0 and s["delta_e2000"] == pytest.approx(0, abs=1e-6)
    )


def test_auc_cmf_of_known_errors():
    assert metrics.auc_cmf(np.full(10, 200.0)) == 0.0
    assert metrics.auc_cmf(np.full(10, 75.0)) == pytest.approx(76 / 151)


def test_gray_conversions():
    px = np.array([[[255, 0, 0]]], np.uint8)
    assert metrics.gray(px)[0, 0] == pytest.approx(1 / 3)
    assert metrics.gray(px, "luma")[0, 0] == pytest.approx(0.299)
