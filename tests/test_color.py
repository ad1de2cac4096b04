import math

import pytest
import torch

from autocolor import color


def img(*rgb):
    return torch.tensor(rgb, dtype=torch.float32).view(3, 1, 1)


@pytest.mark.parametrize(
    "rgb,hue,chroma",
    [
        ((1, 0, 0), 0.0, 1.0),
        ((0, 1, 0), 1 / 3, 1.0),
        ((0, 0, 1), 2 / 3, 1.0),
        ((1, 1, 0), 1 / 6, 1.0),
        ((0.5, 0.25, 0.25), 0.0, 0.25),
        ((0.3, 0.3, 0.3), 0.0, 0.0),
        ((1, 0, 0.5), 11 / 12, 1.0),
    ],
)
def test_hue_chroma_known_values(rgb, hue, chroma):
    h, c = color.hue_chroma(img(*rgb))
    assert h.item() == pytest.approx(hue, abs=1e-6)
    assert c.item() == pytest.approx(chroma, abs=1e-6)


def test_lightness_is_channel_mean():
    assert color.lightness(img(0.9, 0.3, 0.0)).item() == pytest.approx(0.4)


def test_reconstruction_round_trip_keeps_lightness_hue_chroma():
    rgb = torch.rand(3, 32, 32, generator=torch.Generator().manual_seed(0))
    light = color.lightness(rgb)
    h, c = color.hue_chroma(rgb)
    back = color.hue_chroma_to_rgb(light, h, c)
    assert torch.allclose(back, rgb, atol=1e-5)


def test_out_of_gamut_chroma_is_reduced_keeping_hue_and_lightness():
    light = torch.full((1, 1), 0.9)
    hue = torch.full((1, 1), 2 / 3)  # blue: cannot be very saturated when this light
    out = color.hue_chroma_to_rgb(light, hue, torch.ones(1, 1))
    assert out.min() >= 0 and out.max() <= 1
    assert color.lightness(out).item() == pytest.approx(0.9, abs=1e-6)
    h, c = color.hue_chroma(out)
    assert h.item() == pytest.approx(2 / 3, abs=1e-5)
    assert c.item() > 0 and out.max().item() == pytest.approx(1.0)  # as much chroma as fits


def test_colour_offset_is_linear_in_rgb():
    rgb = torch.rand(3, 6, 6)
    light = color.lightness(rgb)
    off = color.color_offset(*color.hue_chroma(rgb))
    assert off.shape == (2, 6, 6)
    assert torch.allclose(color.offset_to_rgb(light, off), rgb, atol=1e-5)
    # the offset of a blend of two colours of equal lightness is the blend of their offsets
    a, b = rgb[:, :1, :1], rgb[:, 1:2, 1:2]
    mix = (a - color.lightness(a) + b - color.lightness(b)) / 2 + 0.5
    mix_off = color.color_offset(*color.hue_chroma(mix))
    oa, ob = color.color_offset(*color.hue_chroma(a)), color.color_offset(*color.hue_chroma(b))
    assert torch.allclose(mix_off, (oa + ob) / 2, atol=1e-5)


@pytest.mark.parametrize(
    "rgb,lab",
    [
        ((1, 1, 1), (100.0, 0.0, 0.0)),
        ((0, 0, 0), (0.0, 0.0, 0.0)),
        ((1, 0, 0), (53.24, 80.09, 67.20)),
        ((0, 0, 1), (32.30, 79.19, -107.86)),
    ],
)
def test_lab_known_values(rgb, lab):
    out = color.rgb_to_lab(img(*rgb)).flatten().tolist()
    assert out == pytest.approx(lab, abs=0.05)


def test_lab_round_trip():
    rgb = torch.rand(2, 3, 8, 8)
    assert torch.allclose(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb, atol=1e-4)


def test_alpha_beta_matches_deshpande_definition():
    ab = color.alpha_beta(img(0.6, 0.3, 0.3)).flatten()
    g = 0.4 + 1e-4
    assert ab[0].item() == pytest.approx((0.3 - 0.45) / g)
    assert ab[1].item() == pytest.approx(0.3 / g)
    assert color.alpha_beta(img(0.5, 0.5, 0.5)).abs().max() == 0
    assert math.isfinite(color.alpha_beta(img(0, 0, 0)).abs().max().item())
