"""Reference photos: colours transferred from a colour photo where its content matches the target's.

The network runs on the reference's lightness; each target grid cell is compared with every
reference cell by what the network sees there (its hidden layer, ``Prediction.features``) and by
lightness. The true colours of the closest reference cells, as a histogram, become evidence whose
weight falls with the match's distance, so unmatched regions keep the automatic colours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ..prediction import Prediction
from . import Evidence, color_histograms

CHUNK = 4096  # target cells compared at a time (bounds the distance matrix's memory)


@dataclass(frozen=True)
class Match:
    """``neighbours``: reference cells averaged per target cell; ``light``: weight of a lightness
    difference of 1 against the features' typical spread; ``reach``: distance (in typical spreads)
    at which a match's weight falls to 1/e; ``strength``: weight of a perfect match. Defaults chosen
    on the validation photos (benchmarks/reference.py): the best gain from the photo's other half
    while an unrelated reference costs at most 0.5 dB against automatic colours."""

    neighbours: int = 32
    light: float = 5.0
    reach: float = 1.0
    strength: float = 1.0


DEFAULT_MATCH = Match()


@dataclass
class Reference:
    """A reference photo as the matcher needs it: per grid cell, a descriptor (N, D + 1: the
    network's features and the lightness) and the histograms of its true colours (name -> (N, K))."""

    descriptors: Tensor
    histograms: dict[str, Tensor]


def prepare(colorizer, rgb: np.ndarray) -> Reference:
    """Run the network once on a colour photo ``rgb`` (H, W, 3) float in [0, 1]; its colours go
    through the same geometry (resize, padding, grid) as its lightness."""
    rgb = np.asarray(rgb, np.float32)
    if rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"a reference must be an RGB photo, got an array of shape {rgb.shape}")
    pred = colorizer.predict(rgb, features=True)
    planes = torch.cat(
        [colorizer.network_input(np.ascontiguousarray(rgb[..., c]))[0] for c in range(3)], dim=1
    )
    hists = color_histograms(planes, colorizer.net.config.head)
    cells = {n: F.avg_pool2d(p, pred.grid_stride)[0].flatten(1).T for n, p in hists.items()}
    return Reference(descriptors(pred), cells)


def descriptors(pred: Prediction) -> Tensor:
    """(N, D + 1): each cell's features and its lightness (scaled at match time)."""
    f = pred.features[0].flatten(1).T
    return torch.cat([f, pred.light[0].flatten()[:, None]], dim=1)


def evidence(pred: Prediction, references: list[Reference], match: Match = DEFAULT_MATCH) -> Evidence | None:
    """Evidence on ``pred``'s grid from ``references`` (None without any)."""
    if not references:
        return None
    if pred.features is None:
        raise ValueError("matching a reference needs the prediction's features: predict(..., features=True)")
    target = descriptors(pred)
    ref_desc = torch.cat([r.descriptors for r in references])
    ref_hist = {n: torch.cat([r.histograms[n] for r in references]) for n in references[0].histograms}
    f = target[:, :-1]
    typical = (f - f.mean(0)).pow(2).sum(1).mean().sqrt().clamp(min=1e-6)
    scale = torch.cat([torch.full((f.shape[1],), 1 / typical), torch.tensor([match.light])])
    target, ref_desc = target * scale, ref_desc * scale
    k = min(match.neighbours, len(ref_desc))
    probs = {n: torch.empty(len(target), h.shape[1]) for n, h in ref_hist.items()}
    weight = torch.empty(len(target))
    for s in range(0, len(target), CHUNK):
        d, idx = torch.cdist(target[s : s + CHUNK], ref_desc).topk(k, dim=1, largest=False)
        w = torch.softmax(-((d / match.reach) ** 2), dim=1)  # the nearest matches, by closeness
        for n, h in ref_hist.items():
            probs[n][s : s + CHUNK] = (w[..., None] * h[idx]).sum(1)
        weight[s : s + CHUNK] = match.strength * torch.exp(-((d[:, 0] / match.reach) ** 2))
    hh, ww = pred.light.shape[-2:]
    grid = {n: p.T.reshape(1, -1, hh, ww) for n, p in probs.items()}
    return Evidence(grid, weight.view(1, 1, hh, ww))
