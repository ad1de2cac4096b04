"""Wall-clock of the training recipes in docs/training.md: the real trainer's crops per second.

    python benchmarks/recipes.py data/train --steps 40 --runs 3

Each recipe trains ``--steps`` steps from ImageNet weights on the given photos (data loading,
targets, forward, backward and optimiser all included; batch 8, one data worker, as the table's
runs) in a fresh process, ``--runs`` times, interleaved so that the machine's drift hits every
recipe alike. Speed is the median of the logged crops/s after ``--warmup`` steps; the table gives it,
its ratio to the 0.3 recipe, and the minutes that 1000 steps take. Pause any training run first.
"""

from __future__ import annotations

import argparse
import csv
import json
import statistics
import tempfile
from pathlib import Path

from common import in_fresh_process, table

BASE = {"backbone_lr": 0.03}  # the 0.3 recipe
RECIPES = {  # name: (the table's words, settings over BASE)
    "lite0": ("effnet-lite0, backbone x0.03 (0.3)", {}),
    "frozen": ("effnet-lite0, backbone frozen", {"backbone_lr": 0.0}),
    "freeze4": ("effnet-lite0, stem and stages 1-3 frozen", {"freeze_stages": 4}),
    "l2": ("effnet-lite0, (a, b) regressed", {"head": "lab-l2"}),
    "soften": ("effnet-lite0, softened targets", {"soften": 1.0}),
    "ema": ("effnet-lite0, weights averaged (EMA)", {"ema": 0.998}),
    "lite2": ("effnet-lite2, backbone x0.03 (0.4)", {"backbone": "effnet-lite2"}),
}


def worker(name: str, photos: str, steps: int, warmup: int) -> dict:
    from autocolor import train

    with tempfile.TemporaryDirectory() as out:
        cfg = train.TrainConfig(photos=(photos,), out=out, steps=steps, save_every=10**9, log_every=1,
                                workers=1, batch=8, **{**BASE, **RECIPES[name][1]})  # fmt: skip
        train.train(cfg, progress=False)
        with open(Path(out) / "log.csv") as f:
            speeds = [float(r["images_per_s"]) for r in csv.DictReader(f) if int(r["step"]) > warmup]
    return {"crops_per_s": statistics.median(speeds)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("photos", nargs="?", help="training photo folder (e.g. data/train)")
    p.add_argument("--steps", type=int, default=40)
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--runs", type=int, default=3)
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], args.worker[1], args.steps, args.warmup)))
        return
    opts = {"steps": args.steps, "warmup": args.warmup}
    speeds: dict[str, list[float]] = {r: [] for r in args.recipes}
    for _ in range(args.runs):
        for r in args.recipes:
            speeds[r].append(in_fresh_process(__file__, [r, args.photos], opts)["crops_per_s"])
    base = statistics.median(speeds[args.recipes[0]])
    rows = []
    for r in args.recipes:
        s = statistics.median(speeds[r])
        rows.append([RECIPES[r][0], f"{s:.2f}", f"{s / base:.2f}", f"{1000 * 8 / s / 60:.0f}"])
    print(f"medians of {args.runs} runs of {args.steps} steps (first {args.warmup} left out), batch 8")
    print(table(["recipe", "crops/s", f"speed / {args.recipes[0]}", "min per 1000 steps"], rows))


if __name__ == "__main__":
    main()
