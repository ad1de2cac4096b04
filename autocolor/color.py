"""Colour representations: lightness, HSV hue/chroma, CIE Lab and Deshpande's alpha-beta.

Every function works on torch tensors with the colour channels at dim -3 (``(..., 3, H, W)``) and
values in [0, 1]; per-pixel scalars (lightness, hue, chroma) are returned without that dimension.
"""

from __future__ import annotations

import math

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


def max_chroma(light: Tensor, hue: Tensor) -> Tensor:
    """Largest chroma that keeps L + C * (pattern(hue) - mean) inside the RGB cube."""
    g = _hue_pattern(hue)
    g = g - g.mean(dim=-3, keepdim=True)
    l3 = light.unsqueeze(-3)
    room = torch.where(g > 0, (1 - l3) / g.clamp(min=1e-6), l3 / (-g).clamp(min=1e-6))
    room = torch.where(g.abs() > 1e-6, room, torch.full_like(room, float("inf")))
    return room.amin(dim=-3).clamp(min=0)


def hue_chroma_to_rgb(light: Tensor, hue: Tensor, chroma: Tensor) -> Tensor:
    """RGB with channel mean ``light``, HSV hue ``hue`` and chroma ``chroma``.

    This is the paper's reconstruction (V = L + C/2, S = C/V, HSV -> RGB) followed by the
    original tool's lightness correction (shift each pixel so its channel mean is L), written in
    closed form. Out-of-gamut colours are brought inside the cube by lowering chroma only, so hue
    and lightness are kept exactly.
    """
    g = _hue_pattern(hue)
    g = g - g.mean(dim=-3, keepdim=True)
    c = torch.minimum(chroma.clamp(min=0), max_chroma(light, hue))
    return (light.unsqueeze(-3) + c.unsqueeze(-3) * g).clamp(0, 1)


def chroma_vector(hue: Tensor, chroma: Tensor) -> Tensor:
    """Hue and chroma as a 2-vector C (cos 2 pi h, sin 2 pi h), stacked at dim -3 (linear, interpolable)."""
    ang = 2 * math.pi * hue
    return torch.stack([chroma * torch.cos(ang), chroma * torch.sin(ang)], dim=-3)


def from_chroma_vector(vec: Tensor) -> tuple[Tensor, Tensor]:
    """Inverse of :func:`chroma_vector`: (hue, chroma)."""
    x, y = vec.unbind(dim=-3)
    return (torch.atan2(y, x) / (2 * math.pi)) % 1.0, torch.hypot(x, y)


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
