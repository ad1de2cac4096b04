"""Colour representations: lightness, HSV hue/chroma, CIE Lab and Deshpande's alpha-beta.

Every function works on torch tensors with the colour channels at dim -3 (``(..., 3, H, W)``) and
values in [0, 1]; per-pixel scalars (lightness, hue, chroma) are returned without that dimension.
"""

from __future__ import annotations

import torch
from torch import Tensor

# sRGB (D65) <-> XYZ matrices and the D65 white point.
_RGB2XYZ = torch.tensor(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])


def lightness(rgb: Tensor) -> Tensor:
    """The paper's lightness L = (R + G + B) / 3."""
    return rgb.mean(dim=-3)


def hue_chroma(rgb: Tensor) -> tuple[Tensor, Tensor]:
    """HSV hue in [0, 1) and chroma C = max - min; hue is 0 where C = 0."""
    mx, argmx = rgb.max(dim=-3)
    mn = rgb.min(dim=-3).values
    c = mx - mn
    r, g, b = rgb.unbind(dim=-3)
    safe = torch.where(c > 0, c, torch.ones_like(c))
    h = torch.where(
        argmx == 0, (g - b) / safe, torch.where(argmx == 1, (b - r) / safe + 2, (r - g) / safe + 4)
    )
    h = torch.where(c > 0, (h / 6) % 1.0, torch.zeros_like(h))
    return h, c


def _hue_pattern(hue: Tensor) -> Tensor:
    """RGB of the fully saturated colour of each hue, with max 1 and min 0 (HSV with S = V = 1)."""
    n = torch.tensor([5.0, 3.0, 1.0], device=hue.device, dtype=hue.dtype)
    k = (n.view(3, *([1] * hue.dim())) + 6 * hue.unsqueeze(0)) % 6
    pattern = 1 - torch.clamp(torch.minimum(k, 4 - k), 0, 1)
    return pattern.movedim(0, -3)


# An orthonormal basis of the zero-mean plane of RGB: colour offsets from gray live here.
_OPPONENT = torch.tensor([[1.0, -1.0, 0.0], [1.0, 1.0, -2.0]]) / torch.tensor([[2**0.5], [6**0.5]])


def color_offset(hue: Tensor, chroma: Tensor) -> Tensor:
    """The offset from gray of a colour, C (pattern(h) - mean), as 2 opponent coordinates at dim -3.

    Linear in RGB, so it can be interpolated; :func:`offset_to_rgb` adds it to any lightness.
    """
    g = _hue_pattern(hue)
    g = chroma.unsqueeze(-3) * (g - g.mean(dim=-3, keepdim=True))
    return torch.einsum("ij,...jhw->...ihw", _OPPONENT.to(g), g)


def opponent_to_rgb(offset: Tensor) -> Tensor:
    """An offset from gray in the 2 opponent coordinates (dim -3) as 3 RGB offsets summing to 0."""
    return torch.einsum("ij,...ihw->...jhw", _OPPONENT.to(offset), offset)


def fit_in_cube(light: Tensor, d: Tensor) -> Tensor:
    """RGB = L + s d for an RGB offset ``d`` (dim -3) summing to 0, with the largest s <= 1 that stays
    inside the RGB cube: hue and lightness kept exactly, chroma lowered only where needed.

    As the offset sums to 0, its largest component meets white first and its smallest black:
    s = min(1, (1 - L) / max d, L / -min d).
    """
    room_up = (1 - light) / d.amax(dim=-3).clamp(min=1e-12)
    room_down = light / d.amin(dim=-3).neg().clamp(min=1e-12)
    scale = torch.minimum(room_up, room_down).clamp_(0, 1)
    return torch.addcmul(light.unsqueeze(-3), scale.unsqueeze(-3), d).clamp_(0, 1)


def offset_to_rgb(light: Tensor, offset: Tensor) -> Tensor:
    """RGB = L + offset (2 opponent coordinates), the offset shortened where needed to stay inside
    the RGB cube (``fit_in_cube``)."""
    return fit_in_cube(light, opponent_to_rgb(offset))


def hue_chroma_to_rgb(light: Tensor, hue: Tensor, chroma: Tensor) -> Tensor:
    """RGB with channel mean ``light``, HSV hue ``hue`` and chroma ``chroma`` (lowered to fit the cube).

    This is the paper's reconstruction (V = L + C/2, S = C/V, HSV -> RGB) followed by the original
    tool's lightness correction (shift each pixel so its channel mean is L), in closed form:
    RGB = L + C (pattern(h) - mean). Out-of-gamut colours lose chroma only, keeping hue and lightness.
    """
    return offset_to_rgb(light, color_offset(hue, chroma.clamp(min=0)))


def _srgb_to_linear(c: Tensor) -> Tensor:
    return torch.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)


def _linear_to_srgb(c: Tensor) -> Tensor:
    return torch.where(c > 0.0031308, 1.055 * c.clamp(min=0) ** (1 / 2.4) - 0.055, 12.92 * c)


def rgb_to_lab(rgb: Tensor) -> Tensor:
    """sRGB in [0, 1] to CIE Lab (D65), L in [0, 100]."""
    lin = _srgb_to_linear(rgb.clamp(0, 1))
    xyz = torch.einsum("ij,...jhw->...ihw", _RGB2XYZ.to(rgb), lin)
    t = xyz / _WHITE.to(rgb).view(3, 1, 1)
    f = torch.where(t > (6 / 29) ** 3, t.clamp(min=1e-12) ** (1 / 3), t / (3 * (6 / 29) ** 2) + 4 / 29)
    fx, fy, fz = f.unbind(dim=-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: Tensor) -> Tensor:
    """CIE Lab (D65) to sRGB, clipped to [0, 1]."""
    l, a, b = lab.unbind(dim=-3)
    fy = (l + 16) / 116
    f = torch.stack([fy + a / 500, fy, fy - b / 200], dim=-3)
    t = torch.where(f > 6 / 29, f**3, 3 * (6 / 29) ** 2 * (f - 4 / 29))
    xyz = t * _WHITE.to(lab).view(3, 1, 1)
    lin = torch.einsum("ij,...jhw->...ihw", torch.linalg.inv(_RGB2XYZ).to(lab), xyz)
    return _linear_to_srgb(lin).clamp(0, 1)


def alpha_beta(rgb: Tensor, eps: float = 1e-4) -> Tensor:
    """Deshpande et al.'s intensity-normalised opponent channels (alpha, beta) at dim -3."""
    r, g, b = rgb.unbind(dim=-3)
    grey = (r + g + b) / 3 + eps
    return torch.stack([(b - (r + g) / 2) / grey, (r - g) / grey], dim=-3)
