"""Helpers shared by the benchmark scripts: fresh worker processes, peak memory, Markdown tables,
photos shrunk for quick choices."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux VmHWM), in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_fresh_process(script: str, worker_args: list, options: dict) -> dict:
    """Run ``script --worker ARGS --opt value...`` in a new process; return the JSON it prints last."""
    cmd = [sys.executable, script, "--worker", *map(str, worker_args)]
    for k, v in options.items():
        cmd += [f"--{k}", str(v)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode:
        sys.exit(f"{' '.join(map(str, worker_args))} failed:\n{res.stderr[-2000:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def load_rgb(path: Path, max_side: int = 0) -> np.ndarray:
    """A photo as uint8 RGB, shrunk to ``max_side`` on its longer side if given (quicker choices on
    validation; reported runs use full size)."""
    im = Image.open(path).convert("RGB")
    if max_side and max(im.size) > max_side:
        im.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return np.asarray(im)


def table(columns: list[str], rows: list[list]) -> str:
    """A Markdown table."""
    lines = ["| " + " | ".join(columns) + " |", "|---" * len(columns) + "|"]
    return "\n".join(lines + ["| " + " | ".join(map(str, r)) + " |" for r in rows])


def psnr(a, b) -> float:
    """PSNR (dB) of two arrays on a 0-1 scale."""
    mse = float(np.mean((np.asarray(a, np.float64) - b) ** 2))
    return 10 * np.log10(1 / max(mse, 1e-10))


def color_part(rgb: np.ndarray) -> np.ndarray:
    """RGB minus its channel mean: the colour, apart from the lightness (R+G+B)/3."""
    return rgb - rgb.mean(axis=2, keepdims=True)
