"""Restoration of old photos: lightness in, restored lightness and the defects found out.

A learned restorer (``net.py``) looks at the scan as it is and gives back the clean lightness it
believes was there, and where it found defects. Its correction (restored minus scan) is split into
the parts a user can switch (``--restore levels,grain,defects`` or ``all``):

- ``levels``: the smooth part of the correction (a Gaussian of ``SMOOTH`` px, defects left out): faded
  tones, lifted blacks, uneven light;
- ``grain``: the rest of the correction where no defect was found: grain removed, soft focus sharpened;
- ``defects``: the rest of the correction where a defect was found (scratches, dust, hairs, creases),
  or OpenCV's Telea inpainting of those pixels (``fill="telea"``).

It knows nothing of colour: the colorizer takes the restored lightness as the photo's own. Films are
restored along time by ``film.FilmRestorer``, which runs this restorer on every frame first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from .. import engines
from ..bundled import RESTORER
from . import net as net_lib

PARTS = ("levels", "grain", "defects")
FILLS = ("net", "telea")
WEIGHTS = RESTORER
TILE = 1024  # the network runs on tiles of this side (plus a margin) so memory stays bounded
MARGIN = 32
# Telea's fill scores higher on the defect pixels of the aged validation twins, but it erases thin bright
# things the detector takes for scratches (a tripod's legs); the network's own correction keeps them.
FILL = "net"
THRESHOLD = 0.5  # defect probability above which a pixel counts as a defect
SMOOTH = 8.0  # pixels: the Gaussian that separates tone (levels) from detail (grain, defects)
# With ``mirror``, the network also looks at the photo mirrored left to right and the two answers are
# averaged, for twice its time: more of every figure on the aged validation twins (docs/benchmarks.md).
MIRROR = True


def parse_parts(text: str) -> tuple[str, ...]:
    """``all`` or a comma-separated subset of PARTS, in PARTS order; a ValueError names a bad part."""
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names == ["all"]:
        return PARTS
    bad = [p for p in names if p not in PARTS]
    if bad or not names:
        raise ValueError(f"--restore takes 'all' or some of {','.join(PARTS)}, not {text!r}")
    return tuple(p for p in PARTS if p in names)


@dataclass
class Restored:
    """A restored lightness (H, W) and the defect probability the detector gave each pixel."""

    light: np.ndarray
    defects: np.ndarray | None = None


class Restorer:
    """Restore an old photo's lightness: ``Restorer.from_pretrained()(light).light``.

    ``parts``: which of PARTS run; ``fill``: how defects are filled (FILLS); ``threshold``: the
    defect probability above which a pixel is filled; ``mirror``: average the network's answers on the
    photo and on its mirror image (twice the time); ``engine``: where the network runs
    (``engines.ENGINES``).
    """

    def __init__(self, net: net_lib.RestoreNet, parts=PARTS, fill: str = FILL, threshold: float = THRESHOLD,
                 device: str | torch.device = "cpu", engine: str = "torch",
                 mirror: bool = MIRROR):  # fmt: skip
        parts = parse_parts(parts) if isinstance(parts, str) else tuple(parts)
        if fill not in FILLS:
            raise ValueError(f"fill must be one of {FILLS}, not {fill!r}")
        if net is None:
            raise ValueError("restoration needs the learned restorer's weights")
        self.device = torch.device(device)
        self.net = net.eval().to(self.device)
        self.parts, self.fill, self.threshold, self.mirror = parts, fill, threshold, mirror
        self.engine = engine
        self._net = engines.restorer(self.net, engine, self.device)

    @classmethod
    def from_pretrained(cls, parts=PARTS, **kwargs) -> Restorer:
        """The bundled restorer (``autocolor/weights``), checked against its SHA-256."""
        return cls.load(WEIGHTS, parts, require_checksum=True, **kwargs)

    @classmethod
    def load(cls, path: str | os.PathLike, parts=PARTS, require_checksum: bool = False, **kwargs) -> Restorer:
        """A restorer from a checkpoint of ``autocolor train-restorer``."""
        return cls(net_lib.load(path, require_checksum), parts, **kwargs)

    def __call__(self, light: np.ndarray) -> Restored:
        """``light`` (H, W) in [0, 1] restored by the chosen parts; the defect probability beside it.
        Memory: about eight float planes of the photo, ten with ``mirror`` (a 24 MP scan: 0.8, 1 GB)."""
        light = np.asarray(light, np.float32)
        clean, prob = self.run_net(light)
        mask = grown(prob > self.threshold)
        tone, detail = split(clean - light, mask)
        out = light + tone if "levels" in self.parts else light.copy()
        keep = {"grain": 1 - mask, "defects": mask}
        for part, where in keep.items():
            if part in self.parts:
                out += detail * where
        if "defects" in self.parts and self.fill == "telea":
            out = telea(out, mask)
        return Restored(np.clip(out, 0, 1, out=out), prob)

    def run_net(self, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's restored lightness and defect probability (H, W each), with ``mirror`` the
        mean of its answers on the photo and on its mirror image."""
        clean, prob = self.run_tiles(light)
        if self.mirror:
            clean2, prob2 = self.run_tiles(np.ascontiguousarray(light[:, ::-1]))
            clean += clean2[:, ::-1]
            prob += prob2[:, ::-1]
            clean *= 0.5
            prob *= 0.5
        return clean, prob

    @torch.inference_mode()
    def run_tiles(self, light: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The network's restored lightness and defect probability (H, W each), tile by tile."""
        h, w = light.shape
        full = torch.from_numpy(light)[None, None]
        stats = net_lib.quantiles(full, self.net.config.stats).to(self.device)
        thumb = net_lib.thumbnail(full).to(self.device) if self.net.scene is not None else None
        clean, prob = np.empty_like(light), np.empty_like(light)
        for y in range(0, h, TILE):
            for x in range(0, w, TILE):
                y0, x0 = max(0, y - MARGIN), max(0, x - MARGIN)
                y1, x1 = min(h, y + TILE + MARGIN), min(w, x + TILE + MARGIN)
                tile = _padded(full[..., y0:y1, x0:x1], self.net.multiple).to(self.device)
                box = torch.tensor([[y0 / h, x0 / w, (y0 + tile.shape[-2]) / h, (x0 + tile.shape[-1]) / w]])
                c, logit = self._net(tile, stats, thumb, box.to(self.device))
                ty, tx = y - y0, x - x0
                th, tw = min(TILE, h - y), min(TILE, w - x)
                inner = (0, 0, slice(ty, ty + th), slice(tx, tx + tw))
                clean[y : y + th, x : x + tw] = c[inner].clamp(0, 1).cpu().numpy()
                prob[y : y + th, x : x + tw] = torch.sigmoid(logit[inner]).cpu().numpy()
        return clean, prob


def split(correction: np.ndarray, mask: np.ndarray, sigma: float | None = None):
    """(tone, detail): the correction's smooth part (a Gaussian average over the pixels outside
    ``mask``) and the rest."""
    import cv2

    sigma = sigma or SMOOTH
    keep = 1 - mask
    num = cv2.GaussianBlur(correction * keep, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    den = cv2.GaussianBlur(keep, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
    tone = num / np.maximum(den, 1e-3)
    return tone, correction - tone


def grown(found: np.ndarray) -> np.ndarray:
    """Found defect pixels grown by one pixel (their anti-aliased borders), as float32 0/1."""
    import cv2

    return cv2.dilate(found.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)


def _padded(x: torch.Tensor, m: int) -> torch.Tensor:
    h, w = x.shape[-2:]
    ph, pw = (-h) % m, (-w) % m
    if not (ph or pw):
        return x
    mode = "reflect" if ph < h and pw < w else "replicate"
    return F.pad(x, (0, pw, 0, ph), mode=mode)


def telea(light: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """OpenCV's fast-marching inpainting (Telea 2004) of ``mask``'s pixels, at 16-bit precision."""
    import cv2

    if not mask.any():
        return light
    src = np.clip(light * 65535 + 0.5, 0, 65535).astype(np.uint16)
    return cv2.inpaint(src, mask.astype(np.uint8), 3, cv2.INPAINT_TELEA).astype(np.float32) / 65535
