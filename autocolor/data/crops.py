"""Photo folders and the training crops drawn from them.

A photo whose alpha channel leaves part of it transparent is a *cut-out* (an object without its
background, as in clip-art collections of real photos): it is pasted onto a crop of another training
photo (``cutouts="composite"``), or onto flat gray with every sampled point on the object
(``cutouts="mask"``, the alpha as a loss mask).
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from .. import color, histograms
from ..imagefile import IMAGE_SUFFIXES
from . import aging

View = Callable[[np.ndarray, tuple[int, int]], np.ndarray]  # what the network is shown (restore.view)

CUTOUT_MODES = ("composite", "mask")


def list_images(inputs, recursive: bool = True, root: str | Path | None = None) -> list[Path]:
    """Image files named by ``inputs``: files, folders (recursive) and list files (``.txt``).

    A list file has one ``path [label]`` per line (the ImageNet ctest10k/cval1k format: a label is
    a whole number after the last space; paths may hold spaces); lines starting with ``#`` are
    comments; paths are relative to ``root`` if given, else to the list file's folder. A list file
    that is not text is a ValueError naming it.
    """
    out: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            it = p.rglob("*") if recursive else p.glob("*")
            out += sorted(
                f
                for f in it
                if f.suffix.lower() in IMAGE_SUFFIXES
                and f.is_file()
                and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
        elif p.suffix.lower() == ".txt":
            names = _list_file(p)
            out += [Path(root) / n.lstrip("/") if root else p.parent / n for n in names]
        else:
            out.append(p)
    return out


def _list_file(path: Path) -> list[str]:
    """The paths a list file names (see ``list_images``)."""
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ValueError(f"{path}: not a list of photos (not UTF-8 text)") from None
    if "\0" in text:
        raise ValueError(f"{path}: not a list of photos (binary data)")
    names = []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        head, _, tail = line.rpartition(" ")
        names.append(head.rstrip() if head and tail.isdigit() else line)
    return names


def is_grayscale(path: Path, threshold: float = 0.02) -> bool:
    """True when a photo has (almost) no colour: mean chroma of a thumbnail's opaque pixels below
    ``threshold``."""
    with Image.open(path) as im:
        im.draft("RGB", (128, 128))
        im = im.convert("RGBA")
        im.thumbnail((128, 128))
        rgba = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
    chroma = color.hue_chroma(rgba[:3])[1]
    opaque = rgba[3] > 0.5
    return bool(chroma[opaque].mean() < threshold) if opaque.any() else True


def color_prior(photos, side: int = 64) -> torch.Tensor:
    """How often each coarse colour class (``histograms.color_class``) occurs in ``photos``: the
    class histogram of each photo's opaque thumbnail pixels, each photo weighing the same."""
    prior = torch.zeros(math.prod(histograms.BALANCE_BINS))
    for path in photos:
        with Image.open(path) as im:
            im.draft("RGB", (side, side))
            im = im.convert("RGBA")
            im.thumbnail((side, side))
            rgba = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
        hue, chroma = color.hue_chroma(rgba[:3])
        classes = histograms.color_class(hue, chroma)[rgba[3] > 0.5]
        if len(classes):
            prior += torch.bincount(classes, minlength=len(prior)) / len(classes)
    return prior / prior.sum().clamp(min=1e-12)


def degrade(
    light: torch.Tensor, g: torch.Generator, scan_scale=(1.0, 3.0), view: View | None = None
) -> torch.Tensor:
    """The gray input (H, W) as a scan of an old print would give it (``aging.age``: fading, uneven
    light, grain, soft focus, scratches, dust, hairs, creases, JPEG), seeded by ``g``. The print is
    aged at a scan resolution ``scan_scale`` times the crop's (log-uniform), then brought back to the
    crop's size, as the colorizer brings a large scan down to its processing size; ``view``: what the
    network is shown of it (``restore.view``), as the colorizer does."""
    import cv2

    rng = np.random.default_rng(int(torch.randint(0, 2**62, (1,), generator=g)))
    k = float(np.exp(rng.uniform(*np.log(scan_scale))))
    plane = light.numpy()
    h, w = plane.shape
    if k > 1.05:
        plane = cv2.resize(plane, (round(w * k), round(h * k)), interpolation=cv2.INTER_CUBIC)
    aged = aging.age(np.clip(plane, 0, 1), rng).light
    if view is not None:
        aged = view(aged, (h, w))
    if aged.shape != (h, w):
        aged = cv2.resize(aged, (w, h), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(aged)


def is_cutout(path: Path) -> bool:
    """True when a photo's alpha channel makes part of it transparent."""
    with Image.open(path) as im:
        if im.mode not in ("RGBA", "LA", "PA") and "transparency" not in im.info:
            return False
        return im.convert("RGBA").getchannel("A").getextrema()[0] < 128


def _seeded(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(hash(parts) & 0x7FFFFFFFFFFFFFFF)


def _uniform(g: torch.Generator, lo: float, hi: float) -> float:
    return lo + (hi - lo) * float(torch.rand(1, generator=g))


class TrainingCrops(Dataset):
    """Random crops with sparse targets; item ``n`` is a pure function of (seed, n).

    Sample n of epoch e = n // len(photos) is photo perm_e[n % len(photos)], rescaled so its
    shorter side is uniform in ``scale``, randomly cropped to ``crop`` and mirrored; ``points``
    integer pixels are drawn at least ``margin`` away from the border. A cut-out is scaled to
    ``object_scale`` of the crop, placed at random and half of the points (all with ``mask``) fall
    on it. Because nothing depends on earlier items, training resumes exactly and any number of
    workers or ranks can share it.

    ``degraded``: the share of crops whose gray input (never the targets) is aged as an old print
    (``degrade``); ``view``: what the network is shown of every gray input (``restore.view.View``),
    as the colorizer shows it; ``balance``: a weight per colour class (``histograms.rebalancing_weights``),
    giving each point a ``weight``; ``soften``: targets spread over neighbouring bins by a Gaussian of
    this many bins (``histograms.soften``).
    """

    def __init__(
        self,
        photos,
        head: str = "hue-chroma",
        crop: int = 224,
        scale=(256, 384),
        points: int = 128,
        margin: int = 16,
        window: int = 7,
        seed: int = 0,
        cutouts: str = "composite",
        object_scale=(0.4, 0.95),
        degraded: float = 0.0,
        balance: torch.Tensor | None = None,
        soften: float = 0.0,
        view: View | None = None,
    ):
        self.photos = list(photos)
        if not self.photos:
            raise ValueError("no training photos")
        if cutouts not in CUTOUT_MODES:
            raise ValueError(f"cutouts must be one of {CUTOUT_MODES}, not {cutouts!r}")
        self.head, self.crop, self.scale = head, crop, scale
        self.points, self.margin, self.window, self.seed = points, margin, window, seed
        self.cutouts, self.object_scale = cutouts, object_scale
        self.degraded, self.balance, self.soften = degraded, balance, soften
        self.view = view
        if head not in histograms.HEADS:
            raise ValueError(f"unknown head {head!r}; choose from {', '.join(histograms.HEADS)}")
        histograms.check_soften(head, soften)  # here, not first in a data-loading worker
        self.is_cutout = [is_cutout(p) for p in self.photos]
        self.backgrounds = [p for p, c in zip(self.photos, self.is_cutout, strict=True) if not c]
        if cutouts == "composite" and any(self.is_cutout) and not self.backgrounds:
            raise ValueError("cut-outs are pasted on other photos, and there are none")

    def __len__(self) -> int:  # an index space, not an epoch: any n >= 0 is valid
        return sys.maxsize

    def _index(self, n: int) -> int:
        count = len(self.photos)
        perm = torch.randperm(count, generator=_seeded(self.seed, n // count))
        return int(perm[n % count])

    def _photo_crop(self, path: Path, g: torch.Generator) -> torch.Tensor:
        """A photo rescaled to a random shorter side in ``scale``, randomly cropped: (3, crop, crop)."""
        short = int(torch.randint(self.scale[0], self.scale[1] + 1, (1,), generator=g))
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im)
            s = short / min(im.size)
            im.draft("RGB", (math.ceil(im.size[0] * s), math.ceil(im.size[1] * s)))
            im = im.convert("RGB")
            s = short / min(im.size)
            im = im.resize(
                (max(self.crop, round(im.size[0] * s)), max(self.crop, round(im.size[1] * s))),
                Image.BILINEAR,
                reducing_gap=3.0,
            )
        x0 = int(torch.randint(0, im.size[0] - self.crop + 1, (1,), generator=g))
        y0 = int(torch.randint(0, im.size[1] - self.crop + 1, (1,), generator=g))
        rgb = np.asarray(im.crop((x0, y0, x0 + self.crop, y0 + self.crop)), dtype=np.float32) / 255
        return torch.from_numpy(rgb.copy()).permute(2, 0, 1)

    def _composite(self, path: Path, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """A cut-out pasted at a random place and size on a background; (rgb, object mask)."""
        if self.cutouts == "composite":
            k = int(torch.randint(0, len(self.backgrounds), (1,), generator=g))
            rgb = self._photo_crop(self.backgrounds[k], g)
        else:
            rgb = torch.full((3, self.crop, self.crop), 0.5)
        with Image.open(path) as im:
            im = ImageOps.exif_transpose(im).convert("RGBA")
            s = _uniform(g, *self.object_scale) * self.crop / max(im.size)
            im = im.resize((max(1, round(im.size[0] * s)), max(1, round(im.size[1] * s))), Image.BILINEAR)
        obj = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
        h, w = obj.shape[1:]
        y0 = int(torch.randint(0, self.crop - h + 1, (1,), generator=g))
        x0 = int(torch.randint(0, self.crop - w + 1, (1,), generator=g))
        alpha = obj[3:]
        region = rgb[:, y0 : y0 + h, x0 : x0 + w]
        rgb[:, y0 : y0 + h, x0 : x0 + w] = alpha * obj[:3] + (1 - alpha) * region
        mask = torch.zeros(self.crop, self.crop, dtype=torch.bool)
        mask[y0 : y0 + h, x0 : x0 + w] = alpha[0] > 0.5
        return rgb, mask

    def _points(self, mask: torch.Tensor | None, g: torch.Generator) -> torch.Tensor:
        """(points, 2) integer (y, x) pixels away from the border; on the object where a mask says."""
        lo, hi = self.margin, self.crop - self.margin
        pts = torch.randint(lo, hi, (self.points, 2), generator=g)
        if mask is None:
            return pts
        inner = torch.zeros_like(mask)
        inner[lo:hi, lo:hi] = mask[lo:hi, lo:hi]
        on = inner.nonzero()
        if len(on) == 0:
            return pts
        count = self.points if self.cutouts == "mask" else self.points // 2
        pts[:count] = on[torch.randint(0, len(on), (count,), generator=g)]
        return pts

    def __getitem__(self, n: int) -> dict:
        g = _seeded(self.seed, n, 1)
        i = self._index(n)
        if self.is_cutout[i]:
            rgb, mask = self._composite(self.photos[i], g)
        else:
            rgb, mask = self._photo_crop(self.photos[i], g), None
        if torch.rand(1, generator=g) < 0.5:
            rgb = rgb.flip(-1)
            mask = None if mask is None else mask.flip(-1)
        pts = self._points(mask, g)
        light = color.lightness(rgb)
        if torch.rand(1, generator=g) < self.degraded:
            gray = degrade(light, g, view=self.view)
        else:
            gray = light if self.view is None else torch.from_numpy(self.view(light.numpy(), light.shape))
        py, px = pts[:, 0], pts[:, 1]
        hue, chroma = (v[:, 0] for v in color.hue_chroma(rgb[:, py, px, None]))  # at the points only
        targets = histograms.point_targets(rgb, self.head, pts, self.window, self.soften)
        item = {
            "gray": gray[None],
            "points": pts.float() + 0.5,  # pixel centres, continuous coordinates
            "targets": targets,
            "chroma": chroma,
            "light": light[py, px],
        }
        if self.balance is not None:
            item["weight"] = self.balance[histograms.color_class(hue, chroma)]
        return item
