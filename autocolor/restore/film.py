"""Temporal restoration of old films: the frames around each one tell its defects from its picture.

Each frame first goes through the photo restorer (``Restorer``: levels, grain and defects found in
the frame alone), then through four steps that look along time, a few frames behind and ahead:

1. **deflicker** (part ``levels``): the frame's tone is mapped (gain and offset, fitted on quantiles)
   onto the average tone of the frames within ``window`` of it in the same shot; a scene cut (the
   frames' standardised thumbnails differ by more than ``cut``) starts a new average;
2. **dust and dirt** (part ``defects``): with DIS optical flow, the previous restored frame and the
   next frame are warped onto this one; a pixel that differs from both in the same direction, by
   more than ``dust`` grain deviations, while they agree with each other, sits on this frame only: a
   speck. The photo restorer's detector is the second opinion (where it found a defect the bar is
   halved). Specks are filled with the warped neighbours' mean;
3. **running scratches** (part ``defects``): thin vertical ridges (a horizontal top-hat) that line up
   in most horizontal bands of the frame and were there in the frames before; filled across (Telea);
4. **grain** (part ``grain``): each pixel averaged with its warped neighbours, ``neighbours`` frames
   each side (those behind already restored), each weighed by how well it agrees (a difference of a
   few grain deviations counts for nothing): grain that changes every frame averages out, motion the
   flow missed does not smear.

Where the flow fails (occlusions, fast motion, a cut), the neighbours disagree with the frame and the
frame keeps the photo restorer's result. ``FilmRestorer.run`` takes (lightness, anything) pairs and
yields (``Restored``, the same anything) pairs ``window + 1`` frames later, in order.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from . import PARTS, Restored, Restorer, grown, parse_parts, telea

TONE_QUANTILES = np.linspace(0.05, 0.95, 10)


@dataclass(frozen=True)
class FilmSettings:
    """The temporal steps' constants (chosen on validation clips, ``benchmarks/video.py --aged``)."""

    window: int = 6  # frames each side whose tone the deflicker averages
    cut: float = 0.6  # mean change of standardised 32x24 thumbnails that starts a new shot
    dust: float = 2.5  # grain deviations by which a speck differs from both neighbours
    dust_floor: float = 0.05  # ... and at least this much (0-1 lightness)
    scratch: float = 0.015  # mean ridge height (0-1) by which a scratch's column stands out in a band
    scratch_sigma: float = 5.0  # ... and at least this many deviations of the band's columns
    scratch_bands: int = 8  # horizontal bands a column is judged in
    scratch_support: float = 0.85  # share of bands a scratch must cross (most run the full height)
    denoise: float = 6.0  # grain deviations within which a neighbour counts fully in the average
    neighbours: int = 3  # frames each side averaged against grain (at most ``window``)

    def __post_init__(self):
        if not 1 <= self.neighbours <= self.window:
            raise ValueError(f"neighbours must be from 1 to window ({self.window}), not {self.neighbours}")


@dataclass
class _Frame:
    raw: np.ndarray  # as it came (scratches are looked for here: the photo restorer blurs them)
    light: np.ndarray  # after the photo restorer
    prob: np.ndarray | None  # its defect probability
    q: np.ndarray  # tone quantiles
    shot: int
    payload: Any
    tone: np.ndarray | None = None  # deflickered, computed once its window is in
    columns: tuple[np.ndarray, np.ndarray] | None = None  # _scratch_columns of the raw frame


class FilmRestorer:
    """Restore a film's frames using their neighbours in time (module docstring)."""

    def __init__(self, photo: Restorer | None, parts=PARTS, settings: FilmSettings = FilmSettings()):
        self.photo = photo
        self.parts = parse_parts(parts) if isinstance(parts, str) else tuple(parts)
        self.s = settings
        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)

    def run(self, frames: Iterable[tuple[np.ndarray, Any]]) -> Iterator[tuple[Restored, Any]]:
        """(lightness (H, W) in [0, 1], payload) in; (restored, payload) out, in the same order."""
        window: list[_Frame] = []
        cur, shot, thumb = 0, 0, None
        done: list[tuple[np.ndarray, int]] = []  # the last restored frames and their shots, oldest first
        for light, payload in frames:
            light = np.asarray(light, np.float32)
            small = _thumbnail(light)
            if thumb is not None and (
                small.shape != thumb.shape or np.abs(small - thumb).mean() > self.s.cut
            ):
                shot += 1
            thumb = small
            window.append(self._prepare(light, payload, shot))
            while len(window) - 1 - cur > self.s.window:
                yield from self._emit(window, cur, done)
                cur += 1
                if cur > self.s.window:
                    window.pop(0)
                    cur -= 1
        while cur < len(window):
            yield from self._emit(window, cur, done)
            cur += 1

    def _prepare(self, light: np.ndarray, payload: Any, shot: int) -> _Frame:
        """The frame through the photo restorer, with its tone quantiles."""
        prob, raw = None, light
        if self.photo is not None:
            done = self.photo(light)
            light, prob = done.light, done.defects
        q = np.quantile(light[::4, ::4], TONE_QUANTILES).astype(np.float32)
        return _Frame(raw, light, prob, q, shot, payload)

    def _emit(self, window: list[_Frame], i: int, done: list[tuple[np.ndarray, int]]):
        """Restore frame ``i`` of the window and yield it with its payload; ``done``: the frames
        restored before it and their shots, which it joins."""
        f = window[i]
        light = self._tone(window, i)
        k = self.s.neighbours
        behind = [out for out, shot in reversed(done) if shot == f.shot and out.shape == light.shape]
        ahead = []
        for j in range(i + 1, min(i + 1 + k, len(window))):
            if window[j].shot != f.shot:
                break
            ahead.append(self._tone(window, j))
        lines = self._scratches(window, i) if "defects" in self.parts else None
        out, found = self._temporal(light, f.prob, behind, ahead, lines)
        yield Restored(out, found), f.payload
        # No longer needed: the frames after this one read only its quantiles and scratch columns.
        f.raw = f.light = f.tone = None
        done.append((out, f.shot))
        del done[:-k]

    def _tone(self, window: list[_Frame], i: int) -> np.ndarray:
        """Frame ``i`` deflickered: its tone mapped onto the mean tone of its shot's frames nearby."""
        f = window[i]
        if f.tone is None:
            f.tone = f.light
            if "levels" in self.parts:
                near = [
                    g.q for g in window[max(0, i - self.s.window) : i + self.s.window + 1] if g.shot == f.shot
                ]
                f.tone = _match_tone(f.light, f.q, np.mean(near, axis=0))
        return f.tone

    def _temporal(self, light, prob, behind, ahead, lines) -> tuple[np.ndarray, np.ndarray | None]:
        """Dust, scratches and grain of one deflickered frame, from its neighbours (``behind``:
        restored frames, nearest first; ``ahead``: deflickered ones, nearest first) warped onto it."""
        if "grain" not in self.parts:  # only grain reads beyond the nearest frame each side
            behind, ahead = behind[:1], ahead[:1]
        behind = [self._warped(light, b) for b in behind]
        ahead = [self._warped(light, a) for a in ahead]
        past = behind[0] if behind else None
        future = ahead[0] if ahead else None
        neighbours = behind[:1] + ahead[:1]
        if not neighbours:
            return light, prob
        found = np.zeros_like(light) if prob is None else (prob > 0.5).astype(np.float32)
        sigma = _grain_sigma(light, neighbours)
        out = light
        if "defects" in self.parts:
            if past is not None and future is not None:
                specks = self._specks(out, past, future, sigma, found)
                out = np.where(specks, 0.5 * (past + future), out).astype(np.float32)
                found = np.maximum(found, specks)
            if lines.any():  # from the restored frame before, where the scene moved under the scratch
                out = np.where(lines, past, out) if past is not None else telea(out, lines)
                found = np.maximum(found, lines)
        if "grain" in self.parts:
            scale = self.s.denoise * sigma
            if lines is not None and lines.any():
                scale[lines] = 0  # the neighbours carry the same scratch there: nothing to average
            out = _average(out, behind + ahead, scale)
        return out, found

    def _scratches(self, window: list[_Frame], i: int) -> np.ndarray:
        """Scratch pixels of frame ``i``: columns found in it and, within 3 pixels, in a frame next to
        it in the same shot (a scratch runs over many frames; the scene's own lines move)."""
        f = window[i]
        crossing, height = self._columns(window, i)
        seen = np.zeros_like(crossing)
        for j in (i - 1, i + 1):
            near = window[j] if 0 <= j < len(window) else None
            if (
                near is not None
                and near.shot == f.shot
                and (near.columns is not None or near.raw is not None)
            ):
                seen |= self._columns(window, j)[0]
        seen = cv2.dilate(seen[None].astype(np.uint8), np.ones((1, 7), np.uint8))[0].astype(bool)
        return _scratch_mask(f.tone.shape, _scratch_cells(crossing & seen, height), self.s.scratch_bands)

    def _columns(self, window: list[_Frame], i: int) -> tuple[np.ndarray, np.ndarray]:
        f = window[i]
        if f.columns is None:
            f.columns = _scratch_columns(f.raw, self.s)
        return f.columns

    def _warped(self, light: np.ndarray, other: np.ndarray) -> np.ndarray:
        """``other`` warped onto ``light`` along the DIS optical flow between them."""
        a, b = (np.clip(x * 255 + 0.5, 0, 255).astype(np.uint8) for x in (light, other))
        flow = self.dis.calc(a, b, None)
        h, w = light.shape
        xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
        return cv2.remap(
            other, xs + flow[..., 0], ys + flow[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )

    def _specks(self, light, before, after, sigma: np.ndarray, second: np.ndarray) -> np.ndarray:
        """Pixels that differ from both warped neighbours, in the same direction, which agree."""
        bar = np.maximum(self.s.dust * sigma, np.float32(self.s.dust_floor))
        bar = bar * (1 - 0.5 * second)  # the photo restorer found a defect here: half the bar
        db, da = light - before, light - after
        near = np.minimum(np.abs(db), np.abs(da))
        same = (db * da) > 0
        agree = np.abs(before - after) < bar
        found = (near > bar) & same & agree
        return grown(found).astype(bool)


def _thumbnail(light: np.ndarray) -> np.ndarray:
    small = cv2.resize(light, (32, 24), interpolation=cv2.INTER_AREA)
    return (small - small.mean()) / max(float(small.std()), 1e-3)


def _match_tone(light: np.ndarray, q: np.ndarray, target: np.ndarray) -> np.ndarray:
    """``light`` mapped by the gain and offset that best carry its quantiles ``q`` onto ``target``."""
    gain, offset = np.polyfit(q.astype(np.float64), target.astype(np.float64), 1)
    if not np.isfinite(gain) or gain <= 0:
        return light
    return np.clip(light * np.float32(gain) + np.float32(offset), 0, 1)


def _grain_sigma(light: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    """The grain's local deviation (H, W): the mean absolute difference to the warped neighbours over
    15 x 15 pixels (grain follows the signal, so it is judged where it is)."""
    d = np.mean([np.abs(light - o) for o in others], axis=0)
    return cv2.blur(d, (15, 15)) * np.float32(np.sqrt(np.pi / 2) / np.sqrt(2))


def _scratch_columns(light: np.ndarray, s: FilmSettings) -> tuple[np.ndarray, np.ndarray]:
    """Where thin vertical ridges, bright or dark, stand out from the columns beside them, per
    horizontal band: (the columns crossed in most bands (W,), how far each band's columns stand out
    in units of the bar (bands, W); 1 or more is a ridge)."""
    kernel = np.ones((1, 7), np.uint8)
    h, w = light.shape
    bands = np.array_split(np.arange(h), s.scratch_bands)
    height = np.zeros((len(bands), w), np.float32)  # of the ridges that count: thin ones
    strong = np.zeros((len(bands), w), bool)
    for ridge in (light - cv2.morphologyEx(light, cv2.MORPH_OPEN, kernel),
                  cv2.morphologyEx(light, cv2.MORPH_CLOSE, kernel) - light):  # fmt: skip
        profile = np.stack([ridge[b].mean(axis=0) for b in bands])  # (bands, W)
        padded = np.pad(profile, ((0, 0), (8, 8)), mode="edge")
        beside = np.stack([padded[:, 8 + d : 8 + d + w] for d in (-8, -7, -6, -5, -4, 4, 5, 6, 7, 8)])
        excess = profile - np.median(beside, axis=0)
        spread = 1.4826 * np.median(np.abs(excess - np.median(excess, axis=1, keepdims=True)), axis=1)
        units = excess / np.maximum(s.scratch, s.scratch_sigma * spread)[:, None]
        thin = (units >= 1) & ~_wide(units >= 1, 6)  # a bright line's dark halo is wide: not a ridge
        strong |= thin
        height = np.maximum(height, np.where(thin, units, np.minimum(units, 0.99)))
    reach = cv2.dilate(strong.astype(np.uint8), np.ones((1, 5), np.uint8))  # a slant of 2 px a band
    crossing = reach.sum(axis=0) >= s.scratch_support * len(bands)
    return crossing, height


def _scratch_cells(crossing: np.ndarray, height: np.ndarray) -> np.ndarray:
    """The scratch's columns in every band (bands, W): where the band found it, else the column that
    stands out most along the crossing run (a scratch runs the frame's full height)."""
    cells = np.zeros(height.shape, bool)
    edges = np.flatnonzero(np.diff(np.r_[0, crossing.astype(np.int8), 0]))
    for a, b in zip(edges[::2], edges[1::2], strict=True):
        run = height[:, a:b]
        found = run >= 1
        best = np.zeros_like(found)
        best[np.arange(len(run)), run.argmax(axis=1)] = True
        cells[:, a:b] = np.where(found.any(axis=1, keepdims=True), found, best)
    return cells


def _wide(cells: np.ndarray, width: int) -> np.ndarray:
    """The runs of True along each row of ``cells`` that are more than ``width`` long."""
    k = np.ones((1, width + 1), np.uint8)
    core = cv2.erode(cells.astype(np.uint8), k, anchor=(0, 0), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    return cv2.dilate(core, k, anchor=(width, 0)).astype(bool) if core.any() else np.zeros_like(cells)


def _scratch_mask(shape, strong: np.ndarray, bands: int) -> np.ndarray:
    """The pixels of the band-columns ``strong`` (bands, W), two pixels wider on each side (the photo
    restorer's partial fill of a scratch spreads a little)."""
    h, w = shape
    mask = np.zeros((h, w), np.uint8)
    for rows, cols in zip(np.array_split(np.arange(h), bands), strong, strict=True):
        mask[rows[0] : rows[-1] + 1, cols] = 1
    return cv2.dilate(mask, np.ones((1, 5), np.uint8)).astype(bool)


def _average(light: np.ndarray, neighbours: list[np.ndarray], scale: np.ndarray) -> np.ndarray:
    """Each pixel averaged with its warped neighbours, weighed by exp(-(difference / scale)^2) (a
    scale of 0: not at all)."""
    total, weight = light.copy(), np.ones_like(light)
    scale = np.maximum(scale, np.float32(1e-6))
    for n in neighbours:
        w = np.exp(-np.square((light - n) / scale))
        total += w * n
        weight += w
    return total / weight
