"""The old-film model: what a film's age does to its frames, beside the old-print model (``aging``).

A film shares some defects across all its frames and draws others anew for each one:

- for the whole clip (drawn once): soft focus, uneven exposure (vignetting), fading and gamma, the
  grain's strength and size, how dusty the print is;
- for each frame: brightness flicker (a gain and an offset: uneven exposure and development from
  frame to frame), fresh grain, fresh dust and dirt (specks sit on one frame only);
- over tens of frames: running scratches, thin near-vertical lines along the film strip that run the
  frame's full height and drift slowly sideways (a track is born with some probability each frame and
  dies after a random lifetime).

``age_clip(frames, rng)`` yields one ``aging.Aged`` per frame (lightness and the ``dust`` and
``scratches`` coverage masks), lazily, so clips of any length stream through it. ``pan`` makes a
clip from a still photo: a slow camera pan, the usual test footage where real film is scarce.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from . import aging
from .strokes import coverage, paint, uniform


@dataclass(frozen=True)
class OldFilm:
    """How likely each defect is and how strong it may be (ranges are uniform draws)."""

    soft_focus: float = 0.5  # probability per clip
    blur_sigma: tuple[float, float] = (0.4, 1.5)
    uneven: float = 0.6
    fade: float = 0.9
    black: tuple[float, float] = (0.03, 0.2)
    white: tuple[float, float] = (0.75, 0.97)
    gamma: tuple[float, float] = (0.8, 1.25)
    flicker_gain: tuple[float, float] = (0.03, 0.12)  # sigma of the per-frame gain around 1
    flicker_offset: tuple[float, float] = (0.0, 0.03)  # sigma of the per-frame offset
    grain_strength: tuple[float, float] = (0.02, 0.07)
    grain_size: tuple[float, float] = (0.3, 1.0)
    dust: float = 0.95
    dust_per_mp: tuple[float, float] = (20.0, 150.0)  # specks per megapixel and frame
    scratches: float = 0.8  # probability that a clip is scratched at all
    scratch_birth: tuple[float, float] = (0.02, 0.08)  # chance per frame that a new scratch starts
    scratch_life: tuple[float, float] = (15.0, 120.0)  # mean lifetime, frames
    scratch_drift: float = 0.4  # pixels per frame, sigma of a scratch's sideways speed


@dataclass
class _Scratch:
    x: float  # position at the frame's top, pixels
    speed: float  # pixels per frame
    slant: float  # pixels across the frame's height
    width: int
    tone: float
    strength: float
    death: float  # chance per frame that it ends

    def curve(self, h: int, rng: np.random.Generator) -> np.ndarray:
        """The scratch's line this frame (a little weave from the projector's gate)."""
        ys = np.linspace(-2, h + 2, 12)
        xs = self.x + self.slant * ys / h + rng.normal(0, 0.15)
        return np.stack([xs, ys], 1)


class _Clip:
    """The clip-wide draws of one aged film and its live scratches."""

    def __init__(self, rng: np.random.Generator, model: OldFilm):
        self.rng, self.m = rng, model
        self.static_seed = int(rng.integers(2**63))  # the same soft focus, vignette and fade every frame
        self.grain = (uniform(rng, model.grain_strength),) * 2, (uniform(rng, model.grain_size),) * 2
        self.gain, self.offset = uniform(rng, model.flicker_gain), uniform(rng, model.flicker_offset)
        self.dust = (uniform(rng, model.dust_per_mp),) * 2 if rng.random() < model.dust else None
        self.birth = uniform(rng, model.scratch_birth) if rng.random() < model.scratches else 0.0
        self.tracks: list[_Scratch] = []

    def static(self, light: np.ndarray) -> np.ndarray:
        """Soft focus, vignetting and fading, drawn once for the clip."""
        rng, m = np.random.default_rng(self.static_seed), self.m
        for chance, apply in (
            (m.soft_focus, lambda x: aging.soft_focus(x, rng, m.blur_sigma)),
            (m.uneven, lambda x: aging.uneven_exposure(x, rng)),
            (m.fade, lambda x: aging.fade(x, rng, m.black, m.white, m.gamma)),
        ):
            if rng.random() < chance:
                light, _ = apply(light)
        return light

    def flicker(self, light: np.ndarray) -> np.ndarray:
        """This frame's own gain and offset (its exposure and development)."""
        gain, offset = 1 + self.rng.normal(0, self.gain), self.rng.normal(0, self.offset)
        return np.clip(light * gain + offset, 0, 1).astype(np.float32)

    def scratches(self, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Live scratches moved on by a frame, new ones born, dead ones gone; drawn with their mask."""
        h, w = light.shape
        rng = self.rng
        self.tracks = [s for s in self.tracks if rng.random() >= s.death]
        if rng.random() < self.birth:
            self.tracks.append(_Scratch(
                x=rng.uniform(0.05 * w, 0.95 * w), speed=rng.normal(0, self.m.scratch_drift),
                slant=rng.normal(0, 2.0), width=int(rng.integers(1, 4)), tone=aging.defect_tone(rng, 0.6),
                strength=rng.uniform(0.5, 1.0), death=1 / uniform(rng, self.m.scratch_life)))  # fmt: skip
        mask = np.zeros_like(light)
        for s in self.tracks:
            s.x += s.speed + rng.normal(0, 0.1)
            cover = coverage(light.shape, [s.curve(h, rng)], s.width) * s.strength
            light = paint(light, cover, s.tone)
            np.maximum(mask, cover, out=mask)
        return light, mask


def age_clip(
    frames: Iterable[np.ndarray], rng: np.random.Generator, model: OldFilm = OldFilm()
) -> Iterator[aging.Aged]:
    """Each lightness frame (H, W) in [0, 1] of a clip as an old film's: its masks ``dust`` and
    ``scratches`` (coverage, float32), quantised to 8 bits as a scan would be."""
    clip = _Clip(rng, model)
    for frame in frames:
        light = clip.flicker(clip.static(np.asarray(frame, np.float32)))
        strength, size = clip.grain
        light, _ = aging.grain(light, rng, strength, size)
        light, scratched = clip.scratches(light)
        masks = {"scratches": scratched}
        if clip.dust is not None:
            light, masks["dust"] = aging.dust(light, rng, clip.dust)
        yield aging.Aged(aging.to_uint8(light).astype(np.float32) / 255, masks)


def pan(photo: np.ndarray, frames: int, rng: np.random.Generator, max_side: int = 640) -> list[np.ndarray]:
    """A slow pan over ``photo`` (H, W[, C]): ``frames`` crops of 80 % of its sides (at most
    ``max_side`` pixels on the longer one), moving in a straight line at up to 1-4 pixels a frame."""
    h, w = photo.shape[:2]
    scale = min(1.0, max_side / (0.8 * max(h, w)))
    if scale < 1:
        photo = cv2.resize(photo, (round(w * scale), round(h * scale)), interpolation=cv2.INTER_AREA)
    h, w = photo.shape[:2]
    ch, cw = int(0.8 * h) // 2 * 2, int(0.8 * w) // 2 * 2
    room = np.array([w - cw, h - ch], np.float64)
    start = rng.uniform(0, 1, 2) * room
    angle = rng.uniform(0, 2 * np.pi)
    move = np.array([np.cos(angle), np.sin(angle)]) * rng.uniform(1, 4) * (frames - 1)
    end = start + move
    end = np.where((end < 0) | (end > room), start - move, end).clip(0, room)  # turn back from the edge
    out = []
    for t in np.linspace(0, 1, frames):
        x, y = start + t * (end - start)
        m = np.float32([[1, 0, -x], [0, 1, -y]])
        out.append(cv2.warpAffine(photo, m, (cw, ch), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT))
    return out
