"""Ray on one machine: photos and megapixels per second with one and two workers against the plain command.

Each case is the whole command in a fresh process, run in turns ``--runs`` times on N and on 2N photos
(the list repeated under new names). The difference gives the steady rate (photos and megapixels per
second once running) and the rest the fixed start-up (Python, torch, Ray, loading the model); the
table gives medians and each steady rate's ratio to the plain command's. On a real cluster the same
command scales with the workers the nodes hold (docs/cluster.md).

    python benchmarks/cluster.py data/val --photos 24 --runs 3
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import table
from PIL import Image

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}


def photos(folder: Path, n: int) -> list[Path]:
    found = sorted(p for p in folder.rglob("*") if p.suffix.lower() in SUFFIXES)
    return found[:: max(1, len(found) // n)][:n]


def megapixels(files: list[Path]) -> float:
    total = 0
    for f in files:
        with Image.open(f) as im:
            total += im.width * im.height
    return total / 1e6


def timed(cmd: list[str], out: Path) -> float:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if res.returncode:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stderr[-2000:]}")
    return seconds


def batch_folder(files: list[Path], root: Path, copies: int) -> Path:
    """A flat folder of links to ``files``, ``copies`` times over under distinct names."""
    root.mkdir()
    for c in range(copies):
        for i, f in enumerate(files):
            os.symlink(f.resolve(), root / f"{c}-{i:03d}-{f.name}")
    return root


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("folder", type=Path, help="a folder of photos (searched recursively)")
    p.add_argument("--photos", type=int, default=24, help="N")
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    files = photos(args.folder, args.photos)
    mp = megapixels(files)
    cores = os.cpu_count() or 1
    tool = [sys.executable, "-m", "autocolor"]
    cases = {
        f"plain command ({cores} threads)": [],
        "plain command, --threads 1": ["--threads", "1"],
        f"--ray, 1 worker x {cores} threads": ["--ray", "--workers", "1"],
        "--ray, 1 worker x 1 thread": ["--ray", "--workers", "1", "--threads", "1"],
        "--ray, 2 workers x 1 thread": ["--ray", "--workers", "2", "--threads", "1"],
    }
    times: dict[tuple[str, int], list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        folders = {n: batch_folder(files, Path(tmp) / f"in{n}", n) for n in (1, 2)}
        out = Path(tmp) / "out"
        for _ in range(args.runs):
            for name, extra in cases.items():
                for n, src in folders.items():
                    cmd = [*tool, str(src), "-o", str(out), "-q", *extra]
                    times.setdefault((name, n), []).append(timed(cmd, out))
    rows, plain_rate = [], None
    for name in cases:
        one, two = (statistics.median(times[name, n]) for n in (1, 2))
        rate = len(files) / max(two - one, 1e-6)  # photos/s once running
        plain_rate = plain_rate or rate
        fixed = one - len(files) / rate
        rows.append([name, f"{fixed:.1f}", f"{rate:.2f}", f"{rate * mp / len(files):.2f}",
                     f"{rate / plain_rate:.2f}", f"{one:.1f} / {two:.1f}"])  # fmt: skip
    print(f"N = {len(files)} photos ({mp:.1f} MP), {cores} CPU cores, medians of {args.runs} runs\n")
    print(table(["case", "start-up s", "photos/s", "MP/s", "rate vs plain", f"{len(files)} / "
                 f"{2 * len(files)} photos, s"], rows))  # fmt: skip


if __name__ == "__main__":
    main()
