"""Colour histograms: binning, training targets, the KL loss, and every decoding method.

A *head* predicts one or more histograms per pixel, or a colour. Four kinds (method.md section 2):

* ``hue-chroma``: 32 uniform bins of HSV hue and 32 of chroma (the released model);
* ``lab``: 32 bins each of CIE a and b, at Gaussian quantiles (sigma = 25);
* ``lab-joint``: a joint 16 x 16 histogram of a and b;
* ``lab-l2``: no histogram, the paper's baseline: (a, b) / 100 regressed with a squared-error loss.

Decoding turns probabilities into a colour, returned as (hue, chroma) so that every head feeds the
same reconstruction. Methods are selected with a ``"chroma:hue"`` string, as ``autocolorize -p``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from . import color
from .decoding import (  # noqa: F401  (re-exported: the decoding's names live with it)
    BOOST,
    CHROMA_METHODS,
    DEFAULT_PARAM,
    FADE,
    FADE_ETA,
    HUE_METHODS,
    TOOL_FADE,
    DecodeParam,
)

LAB_SIGMA = 25.0
HUE_WEIGHT = 5.0  # lambda_H, "roughly the inverse expectation of y_C"

HEADS: dict[str, tuple[tuple[str, int], ...]] = {
    "hue-chroma": (("hue", 32), ("chroma", 32)),
    "lab": (("a", 32), ("b", 32)),
    "lab-joint": (("ab", 256),),
    "lab-l2": (("ab-value", 2),),
}
VALUES = frozenset({"ab-value"})  # outputs that are values, not histogram logits
AB_SCALE = 100.0  # the L2 head's outputs are (a, b) / AB_SCALE
CIRCULAR = frozenset({"hue"})  # histograms of an angle: neighbours wrap around
SOFTENED = ("hue-chroma", "lab")  # heads whose histograms are one-dimensional


# ---------------------------------------------------------------- binning and targets
def uniform_bins(v: Tensor, k: int) -> Tensor:
    """Index of each value in [0, 1] among k uniform bins (floor(k v), clipped)."""
    return (v * k).long().clamp(0, k - 1)


def gaussian_bins(v: Tensor, k: int, sigma: float = LAB_SIGMA) -> Tensor:
    """Index among k bins at the quantiles of N(0, sigma^2) (Lab a and b)."""
    cdf = 0.5 * (1 + torch.erf(v / (sigma * math.sqrt(2))))
    return uniform_bins(cdf, k)


def gaussian_centres(k: int, sigma: float = LAB_SIGMA) -> Tensor:
    """Representative value of each Gaussian-quantile bin: sigma * Phi^-1((k + 0.5) / K)."""
    q = (torch.arange(k, dtype=torch.float64) + 0.5) / k
    return (sigma * math.sqrt(2) * torch.erfinv(2 * q - 1)).float()


def bin_indices(rgb: Tensor, head: str) -> dict[str, Tensor]:
    """Bin index of every pixel for each histogram of ``head``; rgb is (..., 3, H, W)."""
    if head == "hue-chroma":
        h, c = color.hue_chroma(rgb)
        return {"hue": uniform_bins(h, 32), "chroma": uniform_bins(c, 32)}
    lab = color.rgb_to_lab(rgb)
    if head == "lab":
        return {
            "a": gaussian_bins(lab[..., 1, :, :], 32),
            "b": gaussian_bins(lab[..., 2, :, :], 32),
        }
    if head == "lab-joint":
        ia, ib = gaussian_bins(lab[..., 1, :, :], 16), gaussian_bins(lab[..., 2, :, :], 16)
        return {"ab": ia * 16 + ib}
    raise ValueError(f"unknown head {head!r}; choose from {', '.join(HEADS)}")


def window_targets(bins: Tensor, k: int, points: Tensor, window: int = 1) -> Tensor:
    """Target histograms (B, P, k) at integer pixel ``points`` (B, P, 2 as y, x).

    ``window = 1`` gives the paper's one-hot targets; ``window = 7`` the released recipe's
    histogram of the 7 x 7 neighbourhood (coordinates are clamped at the image border).
    """
    b, h, w = bins.shape
    r = window // 2
    d = torch.arange(-r, r + 1, device=bins.device)
    ys = (points[..., 0, None, None] + d[:, None]).clamp(0, h - 1)  # (B, P, win, 1)
    xs = (points[..., 1, None, None] + d[None, :]).clamp(0, w - 1)  # (B, P, 1, win)
    flat = (ys * w + xs).flatten(2)  # (B, P, win*win)
    idx = torch.gather(bins.flatten(1), 1, flat.flatten(1)).view_as(flat)
    return F.one_hot(idx, k).float().mean(dim=2)


def check_soften(head: str, sigma: float) -> None:
    """Raise unless targets of ``head`` can be softened by ``sigma`` bins (0: always)."""
    if sigma < 0 or (sigma > 0 and head not in SOFTENED):
        raise ValueError(f"soften must be >= 0; softened targets need one-dimensional histograms "
                         f"({', '.join(SOFTENED)}), not {head!r}")  # fmt: skip


def soften(target: Tensor, sigma: float, circular: bool) -> Tensor:
    """Spread each bin's mass over its neighbours with a Gaussian of ``sigma`` bins (the last dim),
    wrapping around for a circular quantity (hue); mass is kept. ``sigma = 0`` changes nothing."""
    if sigma <= 0:
        return target
    k = target.shape[-1]
    i = torch.arange(k, device=target.device, dtype=target.dtype)
    d = (i[:, None] - i[None, :]).abs()
    if circular:
        d = torch.minimum(d, k - d)
    spread = torch.exp(-0.5 * (d / sigma) ** 2)
    return target @ (spread / spread.sum(dim=1, keepdim=True))  # row j: where bin j's mass goes


def ab_values(rgb: Tensor) -> Tensor:
    """CIE (a, b) / ``AB_SCALE`` of colours ``rgb`` (..., 3, H, W), as (..., 2, H, W)."""
    return color.rgb_to_lab(rgb)[..., 1:, :, :] / AB_SCALE


def point_targets(
    rgb: Tensor, head: str, points: Tensor, window: int = 1, sigma: float = 0.0
) -> dict[str, Tensor]:
    """Training targets at integer ``points`` (P, 2 as y, x) of one image ``rgb`` (3, H, W): each
    histogram's ``window_targets`` (P, K), softened over ``sigma`` neighbouring bins, or for
    ``lab-l2`` the window's mean (a, b) / 100 (P, 2)."""
    check_soften(head, sigma)
    if head == "lab-l2":
        r = window // 2
        ab = F.avg_pool2d(ab_values(rgb)[None], 2 * r + 1, 1, r, count_include_pad=False)[0]
        return {"ab-value": ab[:, points[:, 0], points[:, 1]].T}
    sizes = dict(HEADS[head])
    bins = bin_indices(rgb, head)
    return {
        n: soften(window_targets(b[None], sizes[n], points[None], window)[0], sigma, n in CIRCULAR)
        for n, b in bins.items()
    }


def activate(logits: dict[str, Tensor], dim: int = 1) -> dict[str, Tensor]:
    """Network outputs -> probabilities along ``dim`` (softmax); value outputs are kept as they are."""
    return {n: v.float() if n in VALUES else torch.softmax(v.float(), dim=dim) for n, v in logits.items()}


def lightness_weight(light: Tensor) -> Tensor:
    """The released recipe's chroma-loss weight w(L) = min(1, 3L, 3(1 - L))."""
    return torch.minimum(torch.ones_like(light), torch.minimum(3 * light, 3 * (1 - light)))


def kl_div(target: Tensor, logits: Tensor) -> Tensor:
    """KL(target || softmax(logits)) over the last dimension."""
    logp = F.log_softmax(logits, dim=-1)
    return (target * (torch.log(target.clamp(min=1e-12)) - logp)).sum(dim=-1)


def loss(
    logits: dict[str, Tensor],
    targets: dict[str, Tensor],
    chroma_at_point: Tensor,
    light_at_point: Tensor | None = None,
    weight: Tensor | None = None,
) -> Tensor:
    """The paper's loss, averaged over all sampled points (Caffe's FULL normalisation).

    hue/chroma: KL(chroma) [* w(L) if ``light_at_point`` is given] + 5 y_C KL(hue);
    Lab heads: the sum of the KL terms; ``lab-l2``: the squared error of (a, b) / 100.
    ``weight``: each point's weight (rebalancing), or none.
    """
    if "ab-value" in logits:
        per_point = (logits["ab-value"] - targets["ab-value"]).pow(2).sum(dim=-1)
    elif "hue" in logits:
        kl_c = kl_div(targets["chroma"], logits["chroma"])
        if light_at_point is not None:
            kl_c = kl_c * lightness_weight(light_at_point)
        per_point = kl_c + HUE_WEIGHT * chroma_at_point * kl_div(targets["hue"], logits["hue"])
    else:
        per_point = sum(kl_div(targets[n], logits[n]) for n in logits)
    return (per_point if weight is None else per_point * weight).mean()


# ------------------------------------------------------------- rebalancing
BALANCE_BINS = (12, 8)  # hue x chroma classes whose rarity rebalancing weighs


def color_class(hue: Tensor, chroma: Tensor) -> Tensor:
    """The coarse hue x chroma class of each colour (hue in [0, 1), chroma in [0, 1])."""
    kh, kc = BALANCE_BINS
    return uniform_bins(hue, kh) * kc + uniform_bins(chroma, kc)


def rebalancing_weights(prior: Tensor, strength: float) -> Tensor:
    """Zhang et al.'s class rebalancing: a point of class q weighs 1 / (s p_q + (1 - s) / Q),
    normalised to mean 1 under ``prior`` (Q classes, s = ``strength``; 0: all 1, Zhang's 0.5)."""
    if not 0 <= strength < 1:
        raise ValueError(f"rebalancing strength must lie in [0, 1), not {strength}")
    p = prior / prior.sum()
    w = 1.0 / (strength * p + (1 - strength) / p.numel())
    return w / (p * w).sum()


# ---------------------------------------------------------------- decoding
def anneal(p: Tensor, temperature: float) -> Tensor:
    """Sharpen (T < 1) or flatten (T > 1) histograms along dim 1."""
    if temperature == 1.0:
        return p
    logp = torch.log(p.clamp(min=1e-12)) / temperature
    return torch.softmax(logp, dim=1)


def quantile(p: Tensor, q: Tensor | float, interpolate: bool = False) -> Tensor:
    """Value in [0, 1] at cumulative probability q of uniform-bin histograms p (N, K, ...).

    Without interpolation this is the released tool's rule: the centre of the first bin whose
    CDF reaches q. With it, the CDF is linear inside each bin (the paper's wording).
    """
    k = p.shape[1]
    cdf = p.cumsum(dim=1)
    q = torch.as_tensor(q, dtype=p.dtype, device=p.device).expand_as(cdf[:, 0])
    idx = (cdf < q.unsqueeze(1)).sum(dim=1).clamp(max=k - 1)
    if not interpolate:
        return (idx.to(p.dtype) + 0.5) / k
    before = torch.gather(cdf, 1, idx.unsqueeze(1)).squeeze(1) - torch.gather(p, 1, idx.unsqueeze(1)).squeeze(
        1
    )
    inside = torch.gather(p, 1, idx.unsqueeze(1)).squeeze(1)
    frac = ((q - before) / inside.clamp(min=1e-12)).clamp(0, 1)
    return (idx.to(p.dtype) + frac) / k


def bin_centres(k: int, like: Tensor) -> Tensor:
    """Centres in [0, 1] of k uniform bins, shaped to broadcast against histograms ``like`` (N, K, ...)."""
    return ((torch.arange(k, device=like.device, dtype=like.dtype) + 0.5) / k).view(
        1, k, *([1] * (like.dim() - 2))
    )


def hue_resultant(p: Tensor) -> tuple[Tensor, Tensor]:
    """Mean of e^(i theta) under hue histograms p (N, K, ...), as (x, y); its length is R in [0, 1]."""
    theta = 2 * math.pi * bin_centres(p.shape[1], p)
    return (p * torch.cos(theta)).sum(dim=1), (p * torch.sin(theta)).sum(dim=1)


def _draws(p: Tensor, per_pixel: bool, gen: torch.Generator | None) -> Tensor:
    shape = p[:, 0].shape if per_pixel else (p.shape[0],) + (1,) * (p.dim() - 2)
    u = torch.rand(shape, generator=gen, dtype=p.dtype, device="cpu").to(p.device)
    return u.expand_as(p[:, 0])


def decode_chroma(p: Tensor, method: str, gen: torch.Generator | None = None) -> Tensor:
    """Chroma in [0, 1] from chroma histograms p (N, K, ...)."""
    if method == "median":
        return quantile(p, 0.5)
    if method == "median-interp":
        return quantile(p, 0.5, interpolate=True)
    if method == "q75":
        return quantile(p, 0.75)
    if method == "expectation":
        return (p * bin_centres(p.shape[1], p)).sum(dim=1)
    if method == "mode":  # the bin centre (the original returned the left edge, argmax / K)
        return (p.argmax(dim=1).to(p.dtype) + 0.5) / p.shape[1]
    if method in ("pixelwise", "once"):
        return quantile(p, _draws(p, method == "pixelwise", gen))
    raise ValueError(f"unknown chroma method {method!r}")


def decode_hue(
    p: Tensor, method: str, gen: torch.Generator | None = None, fade: tuple[float, float] = FADE
) -> tuple[Tensor, Tensor]:
    """(hue in [0, 1), chroma factor in [0, 1]) from hue histograms p (N, K, ...).

    ``expectation-cf`` is the circular mean with chromatic fading: the factor rises linearly from 0
    at resultant length R = ``fade[0]`` to 1 at ``fade[1]``. The released tool's ramp (``TOOL_FADE``)
    is min(|z| / eta, 1) with z = mean_k p_k e^{i theta_k} and eta = 0.03, i.e. min(R / 0.96, 1) for
    K = 32. Other methods return a factor of 1.
    """
    k = p.shape[1]
    ones = torch.ones_like(p[:, 0])
    if method in ("expectation", "expectation-cf"):
        zx, zy = hue_resultant(p)
        hue = (torch.atan2(zy, zx) / (2 * math.pi)) % 1.0
        if method == "expectation":
            return hue, ones
        lo, hi = fade
        return hue, ((torch.hypot(zx, zy) - lo) / (hi - lo)).clamp(0, 1)
    if method == "mode":
        return (p.argmax(dim=1).to(p.dtype) + 0.5) / k, ones
    if method == "median":
        return quantile(p, 0.5), ones
    if method in ("pixelwise", "once"):
        return quantile(p, _draws(p, method == "pixelwise", gen)), ones
    raise ValueError(f"unknown hue method {method!r}")


def decode(
    probs: dict[str, Tensor],
    param: DecodeParam,
    light: Tensor,
    gen: torch.Generator | None = None,
    steered: Tensor | None = None,
) -> tuple[Tensor, Tensor]:
    """(hue, chroma), each (N, ...), from one head's probabilities (N, K, ...).

    ``light`` (N, ...) is the lightness at the same pixels; the Lab heads need it to turn
    a, b into hue and chroma. ``steered`` (N, ...) in [0, 1]: the weight of hints and references
    fused into each pixel's histograms; the boost applies to the rest (the network's own guess),
    so that a picked colour decodes as picked. Lab heads are always decoded by expectation (the
    paper's choice); the L2 head's values are the colour itself (temperature does not apply).
    """
    probs = {n: p if n in VALUES else anneal(p, param.temperature) for n, p in probs.items()}
    if "hue" in probs:
        hue, fade = decode_hue(probs["hue"], param.hue, gen, param.fade)
        chroma = decode_chroma(probs["chroma"], param.chroma, gen) * fade
    else:
        if "ab-value" in probs:
            a, b = (probs["ab-value"] * AB_SCALE).unbind(1)
        elif "ab" in probs:
            p = probs["ab"].unflatten(1, (16, 16))
            c16 = gaussian_centres(16).to(p)
            a = (p.sum(dim=2) * c16.view(1, 16, *([1] * (p.dim() - 3)))).sum(dim=1)
            b = (p.sum(dim=1) * c16.view(1, 16, *([1] * (p.dim() - 3)))).sum(dim=1)
        else:
            c32 = gaussian_centres(32).to(light).view(1, 32, *([1] * (light.dim() - 1)))
            a, b = (probs["a"] * c32).sum(dim=1), (probs["b"] * c32).sum(dim=1)
        grey_l = color.rgb_to_lab(light.unsqueeze(-3).expand(*light.shape[:-2], 3, *light.shape[-2:]))
        rgb = color.lab_to_rgb(torch.stack([grey_l[..., 0, :, :], a, b], dim=-3))
        hue, chroma = color.hue_chroma(rgb)
    boost = param.boost if steered is None else 1 + (param.boost - 1) * (1 - steered)
    return hue, chroma * boost
