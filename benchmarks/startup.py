"""Start-up: how long the command takes before and around the work, against a bare ``import torch``.

Each case runs in a fresh process, in turns, ``--runs`` times; the table gives medians and each
median's ratio to ``python -c "import torch"`` measured in the same rounds. The per-photo overhead is
a whole ``autocolor photo -o out.png`` minus the same photo colorized inside one warm process.

    python benchmarks/startup.py data/eval/scikit-image/coffee.png --runs 7
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import table


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, capture_output=True)
    return time.perf_counter() - start


def warm_seconds(photo: Path, out: Path, runs: int) -> float:
    """The same photo colorized inside one process, after a first call (median)."""
    from autocolor import Colorizer

    colorizer = Colorizer.from_pretrained()
    colorizer.colorize_file(photo, out)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        colorizer.colorize_file(photo, out)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photo", type=Path, help="a photo for the per-photo overhead")
    p.add_argument("--runs", type=int, default=7)
    args = p.parse_args()
    tool = [sys.executable, "-m", "autocolor"]
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.png"
        cases = {
            'python -c "import torch"': [sys.executable, "-c", "import torch"],
            "autocolor --help": [*tool, "--help"],
            "autocolor -V": [*tool, "-V"],
            "autocolor (a usage error)": [*tool, str(args.photo), "--boost", "much"],
            "autocolor PHOTO -o out.png": [*tool, str(args.photo), "-o", str(out), "--overwrite", "-q"],
            "autocolor PHOTO -o out.png --restore": [
                *tool, str(args.photo), "-o", str(out), "--overwrite", "-q", "--restore",
            ],
        }  # fmt: skip
        times: dict[str, list[float]] = {name: [] for name in cases}
        for _ in range(args.runs):
            for name, cmd in cases.items():
                times[name].append(timed(cmd))
        warm = warm_seconds(args.photo, out, args.runs)
    ref = statistics.median(times['python -c "import torch"'])
    rows = [[n, f"{statistics.median(t):.3f}", f"{statistics.median(t) / ref:.2f}"] for n, t in times.items()]
    rows.append(["the photo inside a warm process", f"{warm:.3f}", f"{warm / ref:.2f}"])
    print(table(["command", "median s", "/ import torch"], rows))
    overhead = statistics.median(times["autocolor PHOTO -o out.png"]) - warm
    print(f"\nper-photo overhead of a fresh command: {overhead:.2f} s")


if __name__ == "__main__":
    main()
