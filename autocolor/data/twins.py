"""Aged twins of a photo folder: each photo made gray and aged by the old-print model, with its
defect mask, so that restoration and colorization can be scored against the clean original.

``DST/images/REL.png`` is the aged gray photo (8 bits), ``DST/masks/REL.png`` where local defects
cover it (0-255), ``DST/manifest.csv`` pairs each with its source and seed. Photo ``REL`` of a
folder is aged with seed (``seed``, the bytes of REL), so adding photos changes no other twin.
"""

from __future__ import annotations

import csv
import hashlib
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import numpy as np

from .. import io as image_io
from . import aging
from .crops import list_images

MANIFEST = "manifest.csv"


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
    """Write the aged twins of every photo under ``src`` into ``dst``; returns how many failed."""
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
            out = dst / folder / rel
            out.parent.mkdir(parents=True, exist_ok=True)
            image_io.write_image(out, np.repeat(aging.to_uint8(plane)[..., None], 3, axis=2))
        name = rel.as_posix()
        rows.append({"image": f"images/{name}", "mask": f"masks/{name}", "source": str(path.resolve()),
                     "seed": seed, "defects": ",".join(aged.masks)})  # fmt: skip
    with (dst / MANIFEST).open("w", newline="") as f:
        writer = csv.DictWriter(f, ["image", "mask", "source", "seed", "defects"])
        writer.writeheader()
        writer.writerows(rows)
    report(f"{len(rows)} aged twins in {dst} ({failed} failed)")
    return failed


def read_manifest(dst: str | Path) -> list[dict]:
    """The rows of an aged folder's manifest, with ``image`` and ``mask`` as paths under ``dst``."""
    dst = Path(dst)
    with (dst / MANIFEST).open(newline="") as f:
        return [{**r, "image": dst / r["image"], "mask": dst / r["mask"], "source": Path(r["source"])}
                for r in csv.DictReader(f)]  # fmt: skip
