"""Old photos: what the restorer still gets wrong on the defect pixels, by kind of defect.

Each aged twin of ``autocolor data age`` is aged again from its source photo with its recorded seed,
which gives the mask of every defect separately (the twin's own mask is their union). For each kind
(scratches, dust, hairs, creases) over the pixels it covers (mask > 25 %), pooled over the twins: the
mean squared error of the aged and of the restored lightness against the original's, the gain in dB,
the share of the pixels the detector found (its probability above the threshold, grown by a pixel as
for filling), and the kind's share of the restored squared error over all defect pixels.

    python benchmarks/defect_types.py data/val-aged
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from common import table

from autocolor import imagefile
from autocolor.data import aging, twins
from autocolor.restore import Restorer, grown

ALL = "all defects"


def tally(folder: Path, restorer: Restorer) -> dict[str, np.ndarray]:
    """Per kind: pixels, aged squared error, restored squared error, pixels found, photos."""
    sums: dict[str, np.ndarray] = {}
    for row in twins.read_manifest(folder):
        rel = row["image"].relative_to(folder / "images")
        clean = imagefile.read_image(row["source"]).light.astype(np.float32)
        aged = aging.age(clean, np.random.default_rng(twins.twin_seed(int(row["seed"]), rel)))
        restored = restorer(aged.light)
        found = grown(restored.defects > restorer.threshold)
        for kind, mask in [*aged.masks.items(), (ALL, aged.defects())]:
            where = mask > 0.25
            if where.any():
                err = ((aged.light - clean)[where] ** 2).sum(), ((restored.light - clean)[where] ** 2).sum()
                counts = [where.sum(), *err, found[where].sum(), 1]
                sums[kind] = sums.get(kind, np.zeros(5)) + counts
    return sums


def summary(kind: str, counts: np.ndarray, total: float) -> list:
    """One table row from a kind's tally; ``total``: the restored squared error over all defects."""
    n, aged, rest, found, photos = counts
    gain = 10 * np.log10(aged / rest)
    shares = f"{found / n:.0%}", f"{rest / total:.0%}"
    return [kind, int(n), int(photos), f"{aged / n:.4f}", f"{rest / n:.4f}", f"{gain:+.2f}", *shares]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("aged", type=Path, help="a folder written by `autocolor data age`")
    p.add_argument("--restorer", help="restorer checkpoint (default: the bundled one)")
    args = p.parse_args()
    restorer = Restorer.load(args.restorer) if args.restorer else Restorer.from_pretrained()
    sums = tally(args.aged, restorer)
    total = sums[ALL][2]
    rows = [summary(kind, counts, total) for kind, counts in sorted(sums.items(), key=lambda kv: -kv[1][2])]
    cols = ["defect", "pixels", "photos", "aged MSE", "restored MSE", "gain dB", "found", "share of error"]
    print(table(cols, rows))


if __name__ == "__main__":
    main()
