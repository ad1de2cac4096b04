"""Colour hints: "this point (or scribble) has this colour", spread to the pixels that belong with it.

A hint becomes a one-hot histogram of its colour, weighted at each grid cell by its affinity
exp(-d / sigma), where d is the geodesic distance from the hint over the grid: each step between
neighbouring cells costs its length plus the change in lightness and in what the network sees there
(its hidden layer). Colour so follows regions, reaches far inside them, and stops at strong edges.

Hints are given in the photo's own pixels as seen (EXIF rotation applied), x to the right, y down:
on the command line as ``X,Y,COLOUR`` (``120,80,#3060c0``, any colour Pillow knows: ``red``,
``rgb(48,96,192)``), or in a JSON file (``load``).
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import ImageColor
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import dijkstra

from .. import color, histograms
from ..prediction import Prediction
from . import Evidence, color_histograms, combine, reference

FORMAT_HELP = (
    'a JSON list of hints, each {"x": 120, "y": 80, "color": "#3060c0"} or a scribble '
    '{"points": [[x, y], ...], "color": "red"} (or {"hints": [...]})'
)


class HintError(ValueError):
    """A hint that cannot be used; the message says which and why."""


@dataclass(frozen=True)
class Hint:
    """A colour (RGB in [0, 1]) at one or more points (x, y) of the photo's pixels."""

    points: tuple[tuple[float, float], ...]
    rgb: tuple[float, float, float]

    def __post_init__(self):
        try:
            points = tuple((float(x), float(y)) for x, y in self.points)
            rgb = tuple(float(v) for v in self.rgb)
        except (TypeError, ValueError):
            raise HintError(f"a hint needs (x, y) points and an RGB colour, got {self!r}") from None
        if not points or len(rgb) != 3 or not all(0 <= v <= 1 for v in rgb):
            raise HintError(f"a hint needs at least one point and RGB values in [0, 1], got {self!r}")
        object.__setattr__(self, "points", points)  # plain floats, whatever the caller passed
        object.__setattr__(self, "rgb", rgb)


@dataclass(frozen=True)
class Spread:
    """How far hints reach. Costs: crossing the grid's longer side costs ``distance``; a lightness
    step of 1 costs ``light``; a change of the network's view as large as the photo's typical spread
    costs ``features``. Affinity exp(-cost / ``sigma``). Where several hints reach a cell, their
    colours are averaged with weights affinity ** ``sharpness``, so the nearest one dominates. A hint's
    colour reaching a cell lit ``r`` times as brightly as the hint is scaled by r ** ``shading`` (a
    material in shade keeps its hue and loses chroma in proportion). Beyond the path, a hint also
    colours the cells that look like its own anywhere in the photo (``alike`` the weight of a perfect
    look-alike, 0: off; ``alike_reach`` the difference, in the photo's typical spreads of what the
    network sees, at which it falls to 1/e), as a reference photo's matches do.
    Hints stay where put: a step between cells the network itself colours differently costs ``guess``
    times the Hellinger distance of its histograms (``_guess``), so a hint on a tower does not flow
    into a sky of the same gray; and a look-alike is held back where the network is sure of another
    colour (``alike_guess``, ``_held_back``), so places no hint reaches keep their automatic colour.
    Defaults chosen on the validation photos (benchmarks/hints.py)."""

    sigma: float = 1.0
    distance: float = 0.25
    light: float = 3.0
    features: float = 0.05
    sharpness: float = 4.0
    shading: float = 0.5
    alike: float = 1.0
    alike_reach: float = 1.5
    guess: float = 2.0
    alike_guess: float = 1.5


DEFAULT_SPREAD = Spread()


MAX_HINTS = 1000  # 1000 hints take about 0.5 GB and a second on a 512 x 512 photo; memory grows with each
MAX_FILE_BYTES = 10 << 20


def parse_color(text: str) -> tuple[float, float, float]:
    """RGB in [0, 1] of any colour Pillow knows (#rgb, #rrggbb, names, rgb(...), hsl(...))."""
    try:
        rgb = ImageColor.getrgb(text.strip())
    except (ValueError, AttributeError):
        shown = repr(text) if len(text) <= 40 else repr(text[:40]) + f"... ({len(text)} characters)"
        raise HintError(f"not a colour: {shown} (use #rrggbb, a name such as red, or rgb(r,g,b))") from None
    return tuple(v / 255 for v in rgb[:3])


def parse(text: str) -> Hint:
    """A hint from ``X,Y,COLOUR`` (the command line's ``--hint``)."""
    parts = text.split(",", 2)
    try:
        x, y = float(parts[0]), float(parts[1])
        color = parts[2]
    except (ValueError, IndexError):
        raise HintError(f"hint {text!r}: expected X,Y,COLOUR such as 120,80,#3060c0") from None
    return Hint(((x, y),), parse_color(color))


def _from_json(item, where: str) -> Hint:
    if not isinstance(item, dict):
        raise HintError(f"{where}: expected an object with x, y (or points) and color")
    color = item.get("color", item.get("colour"))  # either spelling
    points = item.get("points", [[item.get("x"), item.get("y")]])
    try:
        pts = tuple((float(x), float(y)) for x, y in points)
        if not all(math.isfinite(v) for p in pts for v in p):
            raise ValueError
    except (TypeError, ValueError, OverflowError):
        raise HintError(f"{where}: points must be numbers, as [x, y] pairs") from None
    if not pts or not isinstance(color, str):
        raise HintError(f"{where}: needs at least one point and a color string")
    return Hint(pts, parse_color(color))


def load(path: str | os.PathLike) -> list[Hint]:
    """Hints from a JSON file: a list of {"x", "y", "color"} or {"points", "color"} objects."""
    try:
        too_big = os.path.getsize(path) > MAX_FILE_BYTES
    except OSError as err:
        raise HintError(f"{path}: not a readable hints file ({type(err).__name__}: {err})") from None
    if too_big:
        raise HintError(f"{path}: a hints file of more than {MAX_FILE_BYTES >> 20} MB is not read")
    try:
        with open(path, encoding="utf-8") as f:
            data = json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise HintError(f"{path}: not a readable hints file ({type(err).__name__}: {err})") from None
    except (RecursionError, ValueError):  # nested too deep, or a number of thousands of digits
        raise HintError(f"{path}: not a hints file (nested too deeply, or a number too long)") from None
    items = data.get("hints") if isinstance(data, dict) else data
    if not isinstance(items, list):
        raise HintError(f"{path}: expected {FORMAT_HELP}")
    return [_from_json(item, f"{path}: hint {i + 1}") for i, item in enumerate(items)]


def check(hints: Sequence[Hint], size: tuple[int, int]) -> None:
    """Raise ``HintError`` for more than ``MAX_HINTS`` hints or a point outside an image of ``size``
    (height, width)."""
    if len(hints) > MAX_HINTS:
        raise HintError(f"{len(hints)} hints: at most {MAX_HINTS} are taken (each spreads over the photo)")
    h, w = size
    for hint in hints:
        for x, y in hint.points:
            if not (0 <= x < w and 0 <= y < h and math.isfinite(x) and math.isfinite(y)):
                raise HintError(f"hint at ({x:g}, {y:g}) lies outside the {w}x{h} image")


def draw(image: np.ndarray, hints: Sequence[Hint], size: tuple[int, int]) -> np.ndarray:
    """A copy of uint8 RGB ``image`` with ``hints`` (in pixels of a photo of ``size`` (h, w)) drawn
    as dots of their colour, ringed in white and black so they show on any background."""
    from PIL import Image, ImageDraw

    im = Image.fromarray(image)
    pen = ImageDraw.Draw(im)
    (ph, pw), (h, w) = image.shape[:2], size
    r = max(4, round(max(ph, pw) / 120))
    for hint in hints:
        fill = tuple(round(255 * v) for v in hint.rgb)
        for x, y in hint.points:
            cx, cy = (x + 0.5) * pw / w - 0.5, (y + 0.5) * ph / h - 0.5
            pen.ellipse((cx - r, cy - r, cx + r, cy + r), fill=fill, outline="white", width=2)
            pen.ellipse((cx - r - 2, cy - r - 2, cx + r + 2, cy + r + 2), outline="black", width=1)
    return np.asarray(im)


def _cell_features(pred: Prediction, spread: Spread) -> np.ndarray:
    """(C, h, w): lightness, the network's view and its own colour, scaled so differences are path costs."""
    parts = [pred.light[0].numpy()[None] * spread.light]
    if spread.guess:
        parts.append(_guess(pred).numpy() * spread.guess)
    if pred.features is not None and spread.features:
        f = pred.features[0].numpy()
        typical = np.sqrt(((f - f.mean(axis=(1, 2), keepdims=True)) ** 2).sum(0).mean()) + 1e-12
        parts.append(f * (spread.features / typical))
    return np.concatenate(parts)


def _guess(pred: Prediction) -> torch.Tensor:
    """(C, h, w): the network's own colour at each cell, as the square roots of its histograms
    (Euclidean distances are then Hellinger distances, up to sqrt 2: 0 alike to 1.4 disjoint), or
    the (a, b) values of the L2 head."""
    parts = [p[0].clamp(min=0).sqrt() if n != "ab-value" else p[0] for n, p in sorted(pred.probs.items())]
    return torch.cat(parts).float()


def _graph(pred: Prediction, spread: Spread) -> coo_matrix:
    """The grid as a graph of 8-neighbours, each edge's cost its length plus the change across it."""
    f = _cell_features(pred, spread)
    _, h, w = f.shape
    index = np.arange(h * w).reshape(h, w)
    step = spread.distance / max(h, w)
    rows, cols, costs = [], [], []
    for dy, dx in ((0, 1), (1, 0), (1, 1), (1, -1)):
        ys, xs = slice(0, h - dy), slice(max(0, -dx), w - max(0, dx))
        ye, xe = slice(dy, h), slice(max(0, dx), w + min(0, dx))
        change = np.linalg.norm(f[:, ys, xs] - f[:, ye, xe], axis=0)
        rows.append(index[ys, xs].ravel())
        cols.append(index[ye, xe].ravel())
        costs.append((change + step * math.hypot(dy, dx)).ravel())
    return coo_matrix((np.concatenate(costs), (np.concatenate(rows), np.concatenate(cols))), (h * w, h * w))


def distances(pred: Prediction, hints: Sequence[Hint], spread: Spread = DEFAULT_SPREAD) -> torch.Tensor:
    """(n_hints, h, w): each hint's geodesic cost to every grid cell, 0 at its own cells; inf where
    the affinity would be negligible."""
    h, w = pred.light.shape[-2:]
    cells = [sorted({pred.cell(y, x) for x, y in hint.points}) for hint in hints]
    sources = sorted({c for cs in cells for c in cs})
    where = {c: i for i, c in enumerate(sources)}
    limit = spread.sigma * math.log(1000)  # beyond this the affinity is below 0.1 %
    dist = dijkstra(
        _graph(pred, spread).tocsr(), directed=False, indices=[i * w + j for i, j in sources], limit=limit
    )
    out = np.stack([dist[[where[c] for c in cs]].min(axis=0) for cs in cells])
    return torch.from_numpy(out).float().view(len(hints), h, w)


def affinities(pred: Prediction, hints: Sequence[Hint], spread: Spread = DEFAULT_SPREAD) -> torch.Tensor:
    """(n_hints, h, w): each hint's affinity to every grid cell, 1 at its own cells."""
    return torch.exp(-distances(pred, hints, spread) / spread.sigma)


def _shaded_chroma(
    rgb: torch.Tensor, light: torch.Tensor, vote: torch.Tensor, shading: float
) -> torch.Tensor:
    """The hints' chroma histogram (1, 32, h, w) where each hint's chroma is scaled by r ** ``shading``,
    r the cell's lightness over the hint's own (shade scales RGB: hue kept, chroma in proportion).
    One scatter of the votes (n, 1, h, w) into the bins, not a histogram per hint and cell."""
    _, chroma = color.hue_chroma(rgb)  # (n, 1, 1)
    ratio = light.float()[None] / rgb.mean(1, keepdim=True).clamp(min=0.02)  # (n, 1, h, w)
    bins = histograms.uniform_bins((chroma[:, None] * ratio.clamp(0.25, 4).pow(shading)).clamp(0, 1), 32)
    n, _, h, w = vote.shape
    hist = torch.zeros(32, h * w).scatter_add_(0, bins.reshape(n, -1), vote.reshape(n, -1))
    return hist.view(1, 32, h, w)


def evidence(
    pred: Prediction, hints: Sequence[Hint], head: str, spread: Spread = DEFAULT_SPREAD
) -> Evidence | None:
    """The hints as evidence on ``pred``'s grid (None without hints)."""
    if not hints:
        return None
    dist = distances(pred, hints, spread)[:, None]  # (n, 1, h, w)
    rgb = torch.tensor([hint.rgb for hint in hints], dtype=torch.float32).view(-1, 3, 1, 1)
    vote = torch.softmax(-spread.sharpness * dist / spread.sigma, dim=0).nan_to_num(
        0.0
    )  # near ** s, normalised
    probs = {n: (vote * p).sum(0, keepdim=True) for n, p in color_histograms(rgb, head).items()}
    if spread.shading and head == "hue-chroma":
        probs["chroma"] = _shaded_chroma(rgb, pred.light, vote, spread.shading)
    near = torch.exp(-dist / spread.sigma)
    along = Evidence(probs, 1 - (1 - near).prod(0, keepdim=True))
    return combine([along, _lookalikes(pred, hints, head, spread)]) if spread.alike else along


def _lookalikes(pred: Prediction, hints: Sequence[Hint], head: str, spread: Spread) -> Evidence:
    """Each hint's colour where the photo looks like the hint's own cells: the hinted cells, with
    their colours, matched as a reference photo's cells are (``reference.evidence``); held back where
    the network is sure of another colour (``_held_back``)."""
    w = pred.light.shape[-1]
    cells = [(hint.rgb, pred.cell(y, x)) for hint in hints for x, y in hint.points]
    rgb = torch.tensor([c for c, _ in cells], dtype=torch.float32).view(-1, 3, 1, 1)
    hinted = reference.Reference(
        reference.descriptors(pred)[[i * w + j for _, (i, j) in cells]],
        {n: p[:, :, 0, 0] for n, p in color_histograms(rgb, head).items()},
    )
    match = reference.Match(neighbours=1, reach=spread.alike_reach, strength=spread.alike)
    alike = reference.evidence(pred, [hinted], match)
    if spread.alike_guess:
        alike.weight = alike.weight * _held_back(pred, alike, spread.alike_guess)
    return alike


def _held_back(pred: Prediction, alike: Evidence, strength: float) -> torch.Tensor:
    """(1, 1, h, w): 1 where the network is unsure or agrees with the look-alike colour, falling
    towards 0 where it is sure of another: exp(-(strength * sureness * disagreement)^2), sureness
    1 - entropy / log K of its histograms, disagreement their total variation from the evidence's."""
    sure, differ = [], []
    for n, p in pred.probs.items():
        if n == "ab-value":
            continue
        p = p.float().clamp(min=1e-8)
        entropy = -(p * p.log()).sum(1, keepdim=True) / math.log(p.shape[1])
        sure.append(1 - entropy)
        differ.append(0.5 * (p - alike.probs[n].float()).abs().sum(1, keepdim=True))
    if not sure:
        return torch.ones_like(alike.weight)
    return torch.exp(-((strength * torch.stack(sure).mean(0) * torch.stack(differ).mean(0)) ** 2))
