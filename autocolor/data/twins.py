"""Aged twins of a photo folder: each photo made gray and aged by the old-print model, with its
defect mask, so that restoration and colorization can be scored against the clean original.

``DST/images/REL.png`` is the aged gray photo (8 bits), ``DST/masks/REL.png`` where local defects
cover it (0-255), ``DST/manifest.csv`` pairs each with its source and seed. Photo ``REL`` of a
folder is aged with seed (``seed``, the bytes of REL), so adding photos changes no other twin.

Films in the folder (``FILMS``: .avi, .mp4, .mkv, .mov, .webm; PyAV needed) are aged by the old-film
model into image sequences: ``DST/images/REL/0001.png`` ... and ``DST/masks/REL/0001.png`` ...; their
manifest rows name the patterns (``images/REL/%04d.png``), which ``autocolor video`` reads.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import imagefile as image_io
from . import aging, film_aging
from .crops import list_images

MANIFEST = "manifest.csv"
FILMS = (".avi", ".mp4", ".mkv", ".mov", ".webm")


def twin_seed(seed: int, rel: Path) -> list[int]:
    """The seed of one photo's ageing: the folder's seed and its path inside the folder."""
    return [seed, int.from_bytes(hashlib.sha256(rel.as_posix().encode()).digest()[:8], "little")]


def twin_names(src: Path) -> dict[Path, Path]:
    """Each photo under ``src`` and its twin's name: its path with ``.png`` for its suffix, or with
    ``.png`` added where two photos differ only by their suffix (``a.jpg``, ``a.png``)."""
    photos = list_images([src])
    plain = [p.relative_to(src).with_suffix(".png") for p in photos]
    taken = Counter(plain)
    return {
        p: (r if taken[r] == 1 else r.with_name(p.name + ".png")) for p, r in zip(photos, plain, strict=True)
    }


def age_folder(src: str | Path, dst: str | Path, seed: int = 0, model: aging.OldPrint | None = None,
               report: Callable[[str], None] = print) -> int:  # fmt: skip
    """Write the aged twins of every photo and film under ``src`` into ``dst``; returns how many failed."""
    src, dst = Path(src), Path(dst)
    rows, failed = [], 0
    for path, rel in twin_names(src).items():
        try:
            photo = image_io.read_image(path)
        except image_io.ImageError as err:
            report(f"autocolor data age: error: {err}")
            failed += 1
            continue
        aged = aging.age(photo.light, np.random.default_rng(twin_seed(seed, rel)), model or aging.OldPrint())
        for folder, plane in (("images", aged.light), ("masks", aged.defects())):
            _write_plane(dst / folder / rel, plane)
        rows.append(_row(rel.as_posix(), path, seed, aged.masks))
    for path in sorted(p for p in src.rglob("*") if p.suffix.lower() in FILMS and p.is_file()):
        rel = path.relative_to(src).with_suffix("")
        try:
            rows.append(age_film(path, dst, rel, seed))
        except ValueError as err:
            report(f"autocolor data age: error: {err}")
            failed += 1
    with (dst / MANIFEST).open("w", newline="") as f:
        writer = csv.DictWriter(f, ["image", "mask", "source", "seed", "defects"])
        writer.writeheader()
        writer.writerows(rows)
    report(f"{len(rows)} aged twins in {dst} ({failed} failed)")
    return failed


def age_film(path: Path, dst: Path, rel: Path, seed: int) -> dict:
    """Age one film into ``dst/images/REL/%04d.png`` (and its masks); its manifest row. A film that
    cannot be read is a ValueError naming it."""
    try:
        import av
    except ImportError:
        raise ValueError(f"{path}: ageing films needs PyAV: pip install 'autocolor[video]'") from None
    defects: set[str] = set()
    try:
        with av.open(str(path)) as c:
            if not c.streams.video:
                raise ValueError(f"{path}: has no video stream")
            frames = (
                f.to_ndarray(format="rgb24").mean(axis=2, dtype=np.float32) / 255 for f in c.decode(video=0)
            )
            rng = np.random.default_rng(twin_seed(seed, rel))
            for n, aged in enumerate(film_aging.age_clip(frames, rng), 1):
                for folder, plane in (("images", aged.light), ("masks", aged.defects())):
                    _write_plane(dst / folder / rel / f"{n:04d}.png", plane)
                defects |= {k for k, m in aged.masks.items() if m.any()}
    except (av.FFmpegError, OSError) as err:
        raise ValueError(f"{path}: not a film FFmpeg can read ({err})") from None
    return _row(f"{rel.as_posix()}/%04d.png", path, seed, sorted(defects))


def _write_plane(out: Path, plane: np.ndarray) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    image_io.write_image(out, np.repeat(aging.to_uint8(plane)[..., None], 3, axis=2))


def _row(name: str, source: Path, seed: int, defects) -> dict:
    return {"image": f"images/{name}", "mask": f"masks/{name}", "source": str(source.resolve()), "seed": seed,
            "defects": ",".join(defects)}  # fmt: skip


def read_manifest(dst: str | Path) -> list[dict]:
    """The rows of an aged folder's manifest, with ``image`` and ``mask`` as paths under ``dst``."""
    dst = Path(dst)
    with (dst / MANIFEST).open(newline="") as f:
        return [{**r, "image": dst / r["image"], "mask": dst / r["mask"], "source": Path(r["source"])}
                for r in csv.DictReader(f)]  # fmt: skip
