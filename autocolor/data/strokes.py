"""Drawing primitives the damage models share: random draws, smooth random curves, anti-aliased
strokes along them, and painting a tone through a coverage mask. Everything is a function of the
``numpy.random.Generator`` it is given, so a seed reproduces a drawing exactly.
"""

from __future__ import annotations

import cv2
import numpy as np


def uniform(rng: np.random.Generator, lo_hi) -> float:
    """One uniform draw from the range ``lo_hi``."""
    return float(rng.uniform(*lo_hi))


def curve(rng: np.random.Generator, start, angle: float, length: float, bend: float, steps: int = 24):
    """Points (N, 2) of a smooth random curve from ``start``: direction drifts by ``bend`` rad/step."""
    turn = np.cumsum(rng.normal(0, bend, steps)) + angle
    step = length / steps
    pts = np.cumsum(np.stack([np.cos(turn), np.sin(turn)], 1) * step, axis=0) + start
    return np.vstack([start, pts])


def coverage(shape, curves, width: int) -> np.ndarray:
    """Anti-aliased coverage (float32 in [0, 1]) of polylines ``curves`` drawn ``width`` pixels wide."""
    canvas = np.zeros(shape, np.uint8)
    shift = 4  # sub-pixel precision
    polys = [np.round(c * (1 << shift)).astype(np.int32) for c in curves]
    cv2.polylines(canvas, polys, False, 255, max(1, width), cv2.LINE_AA, shift)
    return canvas.astype(np.float32) / 255


def paint(light: np.ndarray, cover: np.ndarray, value: np.ndarray | float) -> np.ndarray:
    """``light`` with ``value`` laid over it in proportion to ``cover``."""
    return (light * (1 - cover) + value * cover).astype(np.float32)
