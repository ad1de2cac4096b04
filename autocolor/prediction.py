"""What the network predicts for one photo (``Prediction``), and the geometry from photo to grid.

A photo's lightness is resized (never up) to ``processing_size`` and padded to a multiple of 32; the
network predicts histograms on its stride-4 grid. ``Prediction`` holds them with the map from the
photo's own pixels to grid cells, and the network's view of each cell (``project_features``), which
is what hints and reference photos (``evidence``) match on. It sits below both the pipeline that
makes it and the evidence that reads it.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import hypercolumn
from .backbones import Layer

FEATURE_DIMS = 64  # the hidden layer kept with a prediction, randomly projected to this many channels


def processing_size(h: int, w: int, size: int) -> tuple[int, int]:
    """Network input size (before padding) for an h x w photo and ``--size``: never upscaled."""
    min_side, max_side = size // 2, size - 12
    scale = min(min_side / min(h, w), 1.0)
    if max(h, w) * scale > max_side:
        scale = max_side / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def project_features(hidden: Tensor, dims: int = FEATURE_DIMS) -> Tensor:
    """The hidden layer (B, C, h, w) through a fixed random projection to ``dims`` channels, scaled so
    that distances between cells approximate the full layer's (Johnson-Lindenstrauss): the same
    projection for every photo, so the cells of two photos can be compared."""
    gen = torch.Generator().manual_seed(0)
    proj = torch.randn(dims, hidden.shape[1], generator=gen).to(hidden) / dims**0.5
    return torch.einsum("dc,bchw->bdhw", proj, hidden.float())


@dataclass
class Prediction:
    """Histograms for one photo on the network's grid (stride 4 of the processed image).

    ``probs`` maps histogram names (``hue``, ``chroma``, or ``a``/``b``/``ab``) to (1, K, h, w),
    or for the L2 head ``ab-value`` to the colour's (a, b) / 100 (1, 2, h, w);
    ``light`` is the lightness on the same grid. ``scale`` maps full-resolution pixel
    coordinates to processed ones (y, x); cell (i, j) is centred at processed (4i + 2, 4j + 2).
    ``features`` (1, D, h, w): what the network sees at each cell (``project_features``), so that
    hints and references can be placed without running the network again. ``steered`` (1, h, w):
    the weight of the hints and references fused into each cell (None: the network's own guess).
    """

    probs: dict[str, Tensor]
    light: Tensor
    scale: tuple[float, float]
    image_size: tuple[int, int]
    grid_stride: int
    features: Tensor | None = None
    steered: Tensor | None = None

    def cell(self, y: float, x: float) -> tuple[int, int]:
        """The grid cell (row, column) holding full-resolution pixel (y, x), clamped to the grid."""
        h, w = self.light.shape[-2:]
        i = int((y + 0.5) * self.scale[0] // self.grid_stride)
        j = int((x + 0.5) * self.scale[1] // self.grid_stride)
        return min(max(i, 0), h - 1), min(max(j, 0), w - 1)

    def read(self, ys: Tensor, xs: Tensor, maps: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """Histograms (or other ``maps`` on the same grid) bilinearly read at full-resolution pixel
        coordinates (ys, xs), each (1, *S) -> (1, K, *S)."""
        ys, xs = (ys + 0.5) * self.scale[0], (xs + 0.5) * self.scale[1]
        layer = Layer("grid", 0, self.grid_stride)
        return {n: hypercolumn.read(p, layer, ys, xs) for n, p in (maps or self.probs).items()}

    def full_resolution(self) -> dict[str, Tensor]:
        """Histograms bilinearly resampled to every pixel of the photo (memory: K floats a pixel)."""
        h, w = self.image_size
        ys = torch.arange(h, dtype=torch.float32).view(1, -1, 1).expand(1, h, w)
        xs = torch.arange(w, dtype=torch.float32).view(1, 1, -1).expand(1, h, w)
        return self.read(ys, xs)

    def at(self, y: float, x: float) -> dict[str, Tensor]:
        """The histograms (K,) at full-resolution pixel (y, x)."""
        point = self.read(torch.tensor([[float(y)]]), torch.tensor([[float(x)]]))
        return {n: p[0, :, 0] for n, p in point.items()}

    def steered_at(self, y: float, x: float) -> float:
        """The weight of hints and references at full-resolution pixel (y, x): 0 (none) to 1."""
        if self.steered is None:
            return 0.0
        ys, xs = torch.tensor([[float(y)]]), torch.tensor([[float(x)]])
        return float(self.read(ys, xs, {"w": self.steered[:, None]})["w"].flatten()[0])
