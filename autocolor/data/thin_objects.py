"""Thin things that belong to the photo: poles, masts, wires, rods, tripod legs.

The old-print model's scratches are thin bright lines; so are a sunlit pole and a tripod's leg. A
restorer trained only on scratches learns that every thin bright line is a defect and fills real
structure in. ``draw`` adds such objects to a *clean* photo before it is aged, as part of the scene
(the restorer's target keeps them, its defect mask does not): nearly straight rods, bright or dark,
their tones taken from the photo's own range; shaded ones 2-7 pixels wide (a body and a narrower
highlight along one side, as a lit cylinder), flat bright ones 4-9 pixels wide. A scratch is 1-3
pixels wide.
"""

from __future__ import annotations

import numpy as np

from .strokes import coverage, curve, paint, uniform


def rod(light: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One rod drawn into ``light`` (H, W): flat and bright, or a body and, offset to one side, its
    highlight."""
    h, w = light.shape
    angle = rng.uniform(0, 2 * np.pi)
    line = curve(rng, rng.uniform([0, 0], [w, h]), angle, rng.uniform(0.1, 0.8) * max(h, w), 0.003)
    lo, hi = np.quantile(light[:: max(1, h // 256), :: max(1, w // 256)], (0.02, 0.98))
    kind = rng.random()
    if kind < 0.35:  # a sunlit pole or a tripod's leg: flat and nearly as bright as the photo's white
        width = rng.uniform(4, 9)
        return paint(light, coverage(light.shape, [line], round(width)), hi * uniform(rng, (0.85, 1.0)))
    width = rng.uniform(2, 7)
    if kind < 0.65:  # lit metal or paint: a mid-bright body, its highlight near the photo's white
        body, shine = lo + (hi - lo) * uniform(rng, (0.45, 0.8)), hi * uniform(rng, (0.9, 1.0))
    else:  # a wire or a pole against the light: dark, a faint sheen
        body = lo + (hi - lo) * uniform(rng, (0.0, 0.25))
        shine = body + (hi - lo) * uniform(rng, (0.05, 0.25))
    normal = np.array([-np.sin(angle), np.cos(angle)]) * width / 4 * rng.choice([-1, 1])
    light = paint(light, coverage(light.shape, [line], round(width)), body)
    return paint(light, coverage(light.shape, [line + normal], max(1, round(width / 3))), shine)


def draw(light: np.ndarray, rng: np.random.Generator, count=(1, 4)) -> np.ndarray:
    """``light`` (H, W) with ``count`` (a range) rods drawn in as part of the scene."""
    for _ in range(int(rng.integers(count[0], count[1] + 1))):
        light = rod(light, rng)
    return np.clip(light, 0, 1).astype(np.float32)
