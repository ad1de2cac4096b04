"""What the page draws from a prediction: the colour-uncertainty map and a pixel's histograms."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import Tensor

from .. import imagefile
from ..evidence.hints import draw as draw_hints
from ..histograms import bin_centres, decode, gaussian_centres, hue_resultant

if TYPE_CHECKING:
    from .state import Entry, Settings


def color_spread(probs: dict[str, Tensor]) -> Tensor:
    """How unsure the prediction is of the colour, per grid cell (1, 1, h, w), in chroma units.

    For the hue/chroma head, treating the colour as chroma C along hue angle theta (independent),
    its standard deviation is sqrt(E[C^2] - (E[C] R)^2), R = |E e^(i theta)| the resultant length:
    small where the model is sure of a colour or sure of gray, large where hues compete. For the
    Lab heads: sqrt(Var a + Var b) / 100. The L2 head states no doubt: zero everywhere.
    """
    if "ab-value" in probs:
        return torch.zeros_like(probs["ab-value"][:, :1])
    if "hue" in probs:
        pc = probs["chroma"]
        r = torch.hypot(*hue_resultant(probs["hue"]))
        centres = bin_centres(pc.shape[1], pc)
        ec, ec2 = (pc * centres).sum(1), (pc * centres**2).sum(1)
        return (ec2 - (ec * r) ** 2).clamp(min=0).sqrt()[:, None]
    if "ab" in probs:
        p = probs["ab"].unflatten(1, (16, 16))
        marginals = [p.sum(dim=3), p.sum(dim=2)]
        c = gaussian_centres(16).view(1, 16, 1, 1)
    else:
        marginals = [probs["a"], probs["b"]]
        c = gaussian_centres(32).view(1, 32, 1, 1)
    var = sum((m * c**2).sum(1) - (m * c).sum(1) ** 2 for m in marginals)
    return (var.clamp(min=0).sqrt() / 100)[:, None]


def doubt_image(entry: Entry) -> np.ndarray:
    """``color_spread`` at each preview pixel as a uint8 RGB heat map (dark: sure, bright: unsure)."""
    from matplotlib import colormaps

    ph, pw = entry.light.shape
    ys, xs = entry.full_res_coords(torch.arange(ph).view(1, -1, 1), torch.arange(pw).view(1, 1, -1))
    ys, xs = ys.expand(1, ph, pw), xs.expand(1, ph, pw)
    spread = entry.pred.read(ys, xs, {"s": color_spread(entry.pred.probs)})["s"][0, 0]
    return imagefile.quantize(colormaps["magma"]((spread / 0.4).clamp(0, 1).numpy())[..., :3], 8)


@dataclass
class PixelInfo:
    """What the page shows for a clicked pixel."""

    hists: dict[str, np.ndarray]
    hue: float  # decoded, in [0, 1)
    chroma: float  # decoded (after fading and boost)
    text: str


def pixel_info(entry: Entry, x: float, y: float, settings: Settings) -> PixelInfo:
    """The histograms at preview pixel (x, y) of ``entry`` and its decoded colour."""
    h, w = entry.photo.light.shape
    fy, fx = entry.full_res_coords(y, x)
    hists = entry.shown.at(fy, fx)
    yy, xx = min(int(round(fy)), h - 1), min(int(round(fx)), w - 1)
    light = torch.tensor(float(entry.photo.light[max(yy, 0), max(xx, 0)])).view(1, 1, 1)
    steered = torch.tensor(entry.shown.steered_at(fy, fx)).view(1, 1, 1)
    probs = {n: p.view(1, -1, 1, 1) for n, p in hists.items()}
    hue, chroma = decode(probs, settings.param(), light, steered=steered)
    rgb = entry.colorized[int(y), int(x)] if entry.colorized is not None else (0, 0, 0)
    text = (
        f"pixel ({xx}, {yy}) of {w}×{h}: hue {360 * float(hue):.0f}°, chroma {float(chroma):.2f}, "
        f"lightness {float(light):.2f} → #{int(rgb[0]):02x}{int(rgb[1]):02x}{int(rgb[2]):02x}"
    )
    return PixelInfo({n: p.numpy() for n, p in hists.items()}, float(hue), float(chroma), text)


def mark_hints(image: np.ndarray, entry: Entry) -> np.ndarray:
    """A copy of preview ``image`` with the entry's hints drawn as ringed dots of their colour."""
    return draw_hints(image, entry.hints, entry.photo.light.shape) if entry.hints else image


def histogram_figure(info: PixelInfo):
    """Small bar plots of one pixel's histograms, the decoded values marked (hue bars in their hue,
    chroma bars from gray to the decoded hue)."""
    from matplotlib.colors import hsv_to_rgb
    from matplotlib.figure import Figure

    hists = info.hists
    fig = Figure(figsize=(7, 2.4), layout="constrained")
    axes = fig.subplots(1, len(hists), squeeze=False)[0]
    for ax, (name, p) in zip(axes, hists.items(), strict=False):
        k = len(p)
        if name == "ab":
            ax.imshow(p.reshape(16, 16).T, origin="lower", cmap="magma")
            ax.set(xlabel="a bin", ylabel="b bin", title="joint ab histogram")
            continue
        centres = (np.arange(k) + 0.5) / k
        if name == "hue":
            colors = hsv_to_rgb(np.stack([centres, np.ones(k), np.full(k, 0.9)], 1))
            ax.set(xlabel="hue (°)", xticks=[0, 0.25, 0.5, 0.75, 1], xticklabels=[0, 90, 180, 270, 360])
        elif name == "chroma":
            colors = hsv_to_rgb(np.stack([np.full(k, info.hue), centres, np.full(k, 0.9)], 1))
            ax.set(xlabel="chroma")
        else:
            colors = "tab:gray"
            ax.set(xlabel=f"{name} bin")
        ax.bar(centres, p, width=1 / k, color=colors, edgecolor="none")
        if name in ("hue", "chroma"):
            value = info.hue if name == "hue" else info.chroma
            ax.axvline(value, color="black", linewidth=1, linestyle="--", label="decoded")
            ax.legend(loc="upper right", fontsize=7, frameon=False)
        ax.set(title=f"{name} histogram", ylim=(0, max(float(p.max()) * 1.1, 1e-3)), yticks=[])
        ax.spines[["top", "right", "left"]].set_visible(False)
    return fig


def defects_image(light: np.ndarray, prob: np.ndarray, threshold: float) -> np.ndarray:
    """uint8 RGB: the restored lightness, with the pixels the restorer found defective in red."""
    rgb = np.repeat(imagefile.quantize(light)[..., None], 3, axis=2)
    found = prob > threshold
    rgb[found] = (230, 30, 30)
    return rgb
