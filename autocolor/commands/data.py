"""``autocolor data``: fetch the photo sets, and write aged twins of photos and films."""

from __future__ import annotations

import argparse
from pathlib import Path

from ..options import number
from .common import fail


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autocolor data", description="Photo sets for training and evaluation.")
    sub = p.add_subparsers(dest="action", required=True)
    f = sub.add_parser("fetch", help="download the freely licensed photo sets (Debian, PyPI)")
    f.add_argument("dest", help="folder to fill: DEST/train, DEST/val, DEST/eval and DEST/manifest.csv")
    f.add_argument(
        "--split",
        choices=("train", "val", "eval", "all"),
        default="all",
        help="which split to fetch: train, val (to choose settings), eval (to report) or all (default: all)",
    )
    f.add_argument(
        "--package", action="append", default=[], help="only this source package (repeatable; default: all)"
    )
    a = sub.add_parser("age", help="write aged gray twins of a photo folder, with their defect masks")
    a.add_argument("src", help="folder of clean photos and films (searched recursively; films become "
                   "aged image sequences)")  # fmt: skip
    a.add_argument("dst", help="folder to fill: DST/images, DST/masks and DST/manifest.csv")
    a.add_argument("--seed", type=number(0, 2**63 - 1, integer=True), default=0,
                   help="seed of the old-print model (default 0): the same seed, the same twins")  # fmt: skip
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    from .. import data

    if args.action == "age":
        from ..data import twins

        if not Path(args.src).is_dir():
            return fail(f"{args.src}: no such folder", 2)
        return 1 if twins.age_folder(args.src, args.dst, args.seed) else 0
    try:
        splits = data.SPLITS if args.split == "all" else (args.split,)
        data.fetch(args.dest, splits, packages=tuple(args.package))
    except data.FetchError as err:
        return fail(str(err), 1, "autocolor data")
    return 0
