"""Colour evidence beyond the network's own guess: hints (a colour at a point) and reference photos.

Evidence is, on the prediction's grid, a histogram per cell with a weight in [0, 1]: how sure we are
that the cell's colour follows that histogram. It is fused with the network's histograms as a mixture,
p' = (1 - w) p + w q, so decoding is unchanged and cells without evidence keep the automatic colour.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .. import color, histograms
from ..prediction import Prediction


@dataclass
class Evidence:
    """Histograms ``probs`` (name -> (1, K, h, w), as the prediction's) and their weight (1, 1, h, w)."""

    probs: dict[str, Tensor]
    weight: Tensor


def color_histograms(rgb: Tensor, head: str) -> dict[str, Tensor]:
    """Histograms of colours ``rgb`` (N, 3, h, w) in the bins of ``head``, each (N, K, h, w): one-hot,
    except hue, shared between its two nearest bins so that its circular mean is the colour's own hue;
    near-gray colours (chroma under one bin) get a uniform hue histogram, so they decode as gray.
    For the L2 head, the colours' own (a, b) / 100: evidence is then mixed into values, not histograms."""
    if head == "lab-l2":
        return {"ab-value": histograms.ab_values(rgb)}
    bins = histograms.bin_indices(rgb, head)
    out = {n: F.one_hot(bins[n], k).movedim(-1, 1).float() for n, k in histograms.HEADS[head]}
    if "hue" in out:
        k = out["hue"].shape[1]
        hue, chroma = color.hue_chroma(rgb)
        pos = hue * k - 0.5  # in bin-centre units
        low = pos.floor()
        frac = (pos - low).unsqueeze(1)
        ring = F.one_hot(low.long() % k, k).movedim(-1, 1).float()
        soft = ring * (1 - frac) + ring.roll(1, dims=1) * frac
        flat = torch.full_like(soft, 1 / k)
        out["hue"] = torch.where((chroma < 1 / 32).unsqueeze(1), flat, soft)
    return out


def combine(evidence: Sequence[Evidence]) -> Evidence | None:
    """Several pieces of evidence as one: histograms averaged by weight, weight 1 - prod(1 - w)."""
    if not evidence:
        return None
    total = sum(e.weight for e in evidence).clamp(min=1e-12)
    probs = {n: sum(e.weight * e.probs[n] for e in evidence) / total for n in evidence[0].probs}
    miss = torch.ones_like(evidence[0].weight)
    for e in evidence:
        miss = miss * (1 - e.weight)
    return Evidence(probs, 1 - miss)


def fuse(pred: Prediction, evidence: Sequence[Evidence]) -> Prediction:
    """A copy of prediction ``pred`` whose histograms are mixed with ``evidence``; its ``steered``
    map records the evidence's weight (so that decoding boosts only the network's own guess)."""
    merged = combine(evidence)
    if merged is None:
        return pred
    w = merged.weight.to(pred.light.dtype)
    probs = {n: (1 - w) * p + w * merged.probs[n].to(p.dtype) for n, p in pred.probs.items()}
    before = torch.zeros_like(pred.light) if pred.steered is None else pred.steered
    return dataclasses.replace(pred, probs=probs, steered=1 - (1 - before) * (1 - w[:, 0]))
