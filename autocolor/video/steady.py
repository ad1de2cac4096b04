"""Temporal consistency: each frame's histograms mixed with the previous frame's steadied ones,
carried along the optical flow (OpenCV's DIS flow on the gray frames):
p'_t = (1 - c m) p_t + c m warp(p'_{t-1}), where m is 0 where the flow fails its forward-backward
check (occlusions) or points outside the frame, and the carry c falls to 0 at a scene cut.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
import torch
import torch.nn.functional as F

from ..pipeline import Colorizer, Prediction

T = TypeVar("T")


@dataclass(frozen=True)
class Steady:
    """``carry``: weight of the previous frame's warped histograms; ``occlusion``: forward-backward
    flow error (grid cells) beyond which a cell takes nothing from the past; ``cut``: mean lightness
    change (0-1) after warping beyond which a frame starts a new shot."""

    carry: float = 0.85
    occlusion: float = 0.5
    cut: float = 0.12


DEFAULT_STEADY = Steady()


def _warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``x`` (1, C, h, w) sampled at (x + flow): brings the previous frame's maps to the current one."""
    _, _, h, w = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    gx = 2 * (xs + flow[..., 0] + 0.5) / w - 1
    gy = 2 * (ys + flow[..., 1] + 0.5) / h - 1
    grid = torch.stack([gx, gy], dim=-1)[None]
    return F.grid_sample(x, grid, align_corners=False, padding_mode="border")


def _grid_flow(flow: np.ndarray, hw: tuple[int, int]) -> torch.Tensor:
    """A processed-size flow (H, W, 2) averaged onto the prediction grid, in grid cells (h, w, 2)."""
    f = torch.from_numpy(flow).permute(2, 0, 1)[None]
    g = F.adaptive_avg_pool2d(f, hw)[0].permute(1, 2, 0)
    return g * torch.tensor([hw[1] / flow.shape[1], hw[0] / flow.shape[0]])


class Steadier:
    """Carries steadied histograms from frame to frame; ``step`` takes each frame's prediction."""

    def __init__(self, colorizer: Colorizer, steady: Steady = Steady()):
        self.colorizer, self.steady = colorizer, steady
        self.prev: Prediction | None = None
        self.prev_gray: np.ndarray | None = None
        import cv2

        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)  # made once, used twice a frame

    def _flow(self, a: np.ndarray, b: np.ndarray, hw: tuple[int, int]) -> torch.Tensor:
        """Optical flow from gray uint8 frame ``a`` to ``b``, on the prediction grid (``_grid_flow``)."""
        return _grid_flow(self.dis.calc(a, b, None), hw)

    def _gray(self, light: np.ndarray) -> np.ndarray:
        x, _ = self.colorizer.network_input(light)
        return (x[0, 0].numpy() * 255).round().astype(np.uint8)

    def step(self, pred: Prediction, light: np.ndarray) -> Prediction:
        gray = self._gray(light)
        prev, prev_gray = self.prev, self.prev_gray
        self.prev_gray = gray
        hw = tuple(pred.light.shape[-2:])
        if prev is None or tuple(prev.light.shape[-2:]) != hw or self.steady.carry == 0:
            self.prev = pred
            return pred
        back = self._flow(gray, prev_gray, hw)  # current -> previous, in grid cells
        fwd = self._flow(prev_gray, gray, hw)
        round_trip = back + _warp(fwd.permute(2, 0, 1)[None], back)[0].permute(1, 2, 0)
        ok = (round_trip.norm(dim=-1) < self.steady.occlusion).float()
        h, w = hw
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        inside = ((xs + back[..., 0]).clamp(-0.5, w - 0.5) == xs + back[..., 0]) & (
            (ys + back[..., 1]).clamp(-0.5, h - 0.5) == ys + back[..., 1]
        )
        mask = (ok * inside.float())[None, None]
        names = list(pred.probs)
        past = _warp(torch.cat([prev.light[:, None], *(prev.probs[n] for n in names)], 1), back)  # one pass
        past_light, *past_probs = past.split([1, *(pred.probs[n].shape[1] for n in names)], dim=1)
        change = (pred.light[:, None] - past_light).abs().mean()
        carry = 0.0 if float(change) > self.steady.cut else self.steady.carry
        probs = {
            n: (1 - carry * mask) * pred.probs[n] + carry * mask * q
            for n, q in zip(names, past_probs, strict=True)
        }
        self.prev = dataclasses.replace(pred, probs=probs)
        return self.prev


class FrameColorizer:
    """Colours a film frame after frame: restoration (if the colorizer has a restorer: along time, or
    frame by frame with ``temporal=False``), the network, the reference photos' evidence (if any),
    then the steadier (unless ``steady`` is None: frame by frame)."""

    def __init__(self, colorizer: Colorizer, steady: Steady | None = Steady(), references: Sequence = (),
                 temporal: bool = True):  # fmt: skip
        self.colorizer, self.references = colorizer, list(references)
        self.steadier = Steadier(colorizer, steady) if steady is not None else None
        self.film = None
        if colorizer.restorer is not None and temporal:
            from ..restore.film import FilmRestorer

            self.film = FilmRestorer(colorizer.restorer, colorizer.restorer.parts)

    def predict(self, light: np.ndarray) -> Prediction:
        pred = self.colorizer.predict(light, features=bool(self.references))
        if self.references:
            pred = self.colorizer.steer(pred, references=self.references)
        return self.steadier.step(pred, light) if self.steadier is not None else pred

    def restored(self, frames: Iterable[tuple[np.ndarray, T]]) -> Iterator[tuple[np.ndarray, T]]:
        """(lightness, payload) pairs restored, in order (a temporal restorer yields a few frames late)."""
        restorer = self.colorizer.restorer
        if self.film is not None:
            yield from ((r.light, payload) for r, payload in self.film.run(frames))
        elif restorer is not None:
            yield from ((restorer(light).light, payload) for light, payload in frames)
        else:
            yield from frames

    def run(
        self, frames: Iterable[tuple[np.ndarray, T]], bits8: bool = True
    ) -> Iterator[tuple[np.ndarray, T]]:
        """(lightness (H, W) in [0, 1], payload) in; (RGB, the same payload) out, frame for frame: 8-bit,
        or float with ``bits8=False`` (16-bit frames stay 16-bit when written as images)."""
        for light, payload in self.restored(frames):
            out = np.empty((*light.shape, 3), np.uint8) if bits8 else None
            yield self.colorizer.render(self.predict(light), light, out=out), payload


def colorize_frames(
    colorizer: Colorizer,
    frames: Iterable[np.ndarray],
    steady: Steady | None = Steady(),
    temporal: bool = True,
) -> Iterator[np.ndarray]:
    """uint8 RGB frames for lightness frames (H, W) float in [0, 1]; ``steady=None``: colours frame by
    frame; ``temporal=False``: a restorer restores frame by frame."""
    film = FrameColorizer(colorizer, steady, temporal=temporal)
    yield from (rgb for rgb, _ in film.run((light, None) for light in frames))
