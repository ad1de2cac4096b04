"""Hypercolumns: every backbone layer read at the same image points, sparse or on a dense grid.

One coordinate convention serves both paths. Points are continuous input coordinates (pixel j
covers [j, j + 1), so its centre is j + 0.5); a layer cell is located by its ``Layer`` geometry
and read by bilinear interpolation (``grid_sample``, ``align_corners=False``, border clamped).
Layers finer than the output grid are first average-pooled to it, as the original dense
inference does, so sparse reads (training) equal dense reads (inference) at grid-cell centres.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from .backbones import Layer


def to_grid(feats: Sequence[Tensor], layers: Sequence[Layer], grid_stride: int):
    """Average-pool layers finer than ``grid_stride``; returns (features, layers)."""
    out_f, out_l = [], []
    for f, layer in zip(feats, layers, strict=True):
        if layer.stride < grid_stride:
            k = grid_stride // layer.stride
            f = F.avg_pool2d(f, k)
            # The pooled cell's centre is the mean of its members' centres: the offset is kept.
            layer = Layer(layer.name, layer.channels, grid_stride, layer.offset)
        out_f.append(f)
        out_l.append(layer)
    return out_f, out_l


def read(f: Tensor, layer: Layer, ys: Tensor, xs: Tensor) -> Tensor:
    """Bilinear read of layer ``f`` (B, C, h, w) at input coordinates ys, xs (B, *S) -> (B, C, *S)."""
    h, w = f.shape[-2:]
    gy = 2 * (ys - layer.offset) / (layer.stride * h) - 1
    gx = 2 * (xs - layer.offset) / (layer.stride * w) - 1
    grid = torch.stack([gx, gy], dim=-1).to(f.dtype)
    shape = grid.shape[1:-1]
    out = F.grid_sample(f, grid.reshape(grid.shape[0], 1, -1, 2), align_corners=False, padding_mode="border")
    return out.reshape(*out.shape[:2], *shape)


def linear_read(x: Tensor, u: Tensor, dim: int) -> Tensor:
    """``x`` linearly interpolated along ``dim`` at fractional indices ``u`` (clamped to the ends,
    as ``grid_sample``'s border padding): one dimension of a bilinear read, for separable grids."""
    u = u.clamp(0, x.shape[dim] - 1)
    i0 = u.floor().long()
    i1 = (i0 + 1).clamp(max=x.shape[dim] - 1)
    shape = [1] * x.dim()
    shape[dim] = -1
    return torch.lerp(x.index_select(dim, i0), x.index_select(dim, i1), (u - i0).to(x.dtype).view(shape))


def resample(f: Tensor, layer: Layer, hw: tuple[int, int], stride: int) -> Tensor:
    """Layer ``f`` (B, C, h, w) read at every cell centre of the ``hw`` grid: (B, C, *hw).

    Equal to ``read`` at the grid's centres; a grid is separable, so it is two small matrix
    products (rows, then columns), several times faster than ``grid_sample`` on the CPU."""
    if is_on_grid(layer, stride) and tuple(f.shape[-2:]) == tuple(hw):
        return f
    ry, rx = (
        linear_read(
            torch.eye(size, dtype=f.dtype, device=f.device),
            (grid_centres(n, stride, f.device) - layer.offset) / layer.stride - 0.5,
            0,
        )
        for size, n in zip(f.shape[-2:], hw, strict=True)
    )  # (n_out, n_in) interpolation matrices
    return ry @ (f @ rx.T)


def grid_centres(size: int, stride: int, device=None) -> Tensor:
    """Input coordinates of the centres of ``size`` grid cells of ``stride``."""
    return torch.arange(size, device=device, dtype=torch.float32) * stride + stride / 2


def grid_coords(batch: int, hw: tuple[int, int], stride: int, device=None) -> tuple[Tensor, Tensor]:
    """(ys, xs) of every grid cell centre, each (B, h, w)."""
    ys = grid_centres(hw[0], stride, device).view(1, -1, 1).expand(batch, hw[0], hw[1])
    xs = grid_centres(hw[1], stride, device).view(1, 1, -1).expand(batch, hw[0], hw[1])
    return ys, xs


def is_on_grid(layer: Layer, stride: int) -> bool:
    """True when a layer already is the grid (no resampling needed)."""
    return layer.stride == stride and layer.offset == 0


def sparse(feats: Sequence[Tensor], layers: Sequence[Layer], points: Tensor, grid_stride: int) -> Tensor:
    """Hypercolumns at ``points`` (B, P, 2) as continuous (y, x): (B, P, sum of channels)."""
    feats, layers = to_grid(feats, layers, grid_stride)
    ys, xs = points[..., 0], points[..., 1]
    cols = [read(f, layer, ys, xs) for f, layer in zip(feats, layers, strict=True)]
    return torch.cat(cols, dim=1).transpose(1, 2)


def dense(feats: Sequence[Tensor], layers: Sequence[Layer], hw: tuple[int, int], grid_stride: int) -> Tensor:
    """Hypercolumns on the ``hw`` grid of ``grid_stride``: (B, sum of channels, h, w).

    This materialises every channel and is meant for checks and small inputs; the model's dense
    inference uses the same reads on each layer's projection instead (see ``model``).
    """
    feats, layers = to_grid(feats, layers, grid_stride)
    return torch.cat([resample(f, la, hw, grid_stride) for f, la in zip(feats, layers, strict=True)], dim=1)
