"""Training cost of sparse against dense hypercolumns: images/s and peak memory per step.

    python benchmarks/training.py --backbones effnet-lite0 vgg16-gray --batch 4 --crop 224

Same model, batch and crop. Sparse: the paper's way, hypercolumns at 128 random points per image.
Dense: the whole stride-4 prediction grid of the crop, every cell with a target, through autocolor's
factorised dense head (each layer projected, then resampled). Dense-concat: the same grid with the
hypercolumn materialised (every layer resampled and concatenated), the naive dense training that the
paper's sparse training is compared with. Each case runs in a
fresh process so its peak resident memory (VmHWM) is its own; times are medians after a warm-up.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

from common import in_fresh_process, peak_rss_mb, table


def worker(backbone: str, mode: str, batch: int, crop: int, points: int, runs: int) -> dict:
    import torch
    import torch.nn.functional as F

    from autocolor import histograms, hypercolumn
    from autocolor.model import HypercolumnColorizer, ModelConfig

    torch.manual_seed(0)
    net = HypercolumnColorizer(ModelConfig(backbone=backbone)).train()
    opt = torch.optim.AdamW(net.parameters(), lr=1e-4)
    gray = torch.rand(batch, 1, crop, crop)
    g = net.config.grid_stride
    n = points if mode == "sparse" else (crop // g) ** 2
    targets = {k: torch.softmax(torch.randn(batch, n, 32), -1) for k in ("hue", "chroma")}
    chroma = torch.rand(batch, n)
    pts = torch.randint(16, crop - 16, (batch, points, 2)).float() + 0.5

    def step():
        if mode == "sparse":
            logits = net.forward_sparse(gray, pts)
        elif mode == "dense-concat":
            hw = (crop // g, crop // g)
            cols = hypercolumn.dense(net.backbone(gray), net.layers, hw, g).flatten(2).transpose(1, 2)
            h = net.drop(F.relu(net.fc1(cols * net._channel_scale())))
            logits = net._split(net.out(h), dim=-1)
        else:
            logits = {k: v.flatten(2).transpose(1, 2) for k, v in net.forward_dense(gray).items()}
        loss = histograms.loss(logits, targets, chroma)
        opt.zero_grad()
        loss.backward()
        opt.step()

    step()
    base = peak_rss_mb()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    return {
        "backbone": backbone,
        "mode": mode,
        "points": n,
        "images_per_s": batch / statistics.median(times),
        "peak_rss_mb": peak_rss_mb(),
        "after_first_step_mb": base,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", nargs="+", default=["effnet-lite0", "vgg16-gray"])
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--crop", type=int, default=224)
    p.add_argument("--points", type=int, default=128)
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        res = worker(args.worker[0], args.worker[1], args.batch, args.crop, args.points, args.runs)
        print(json.dumps(res))
        return
    opts = {"batch": args.batch, "crop": args.crop, "points": args.points, "runs": args.runs}
    rows = []
    for backbone in args.backbones:
        s, *dense = (
            in_fresh_process(__file__, [backbone, m], opts) for m in ("sparse", "dense", "dense-concat")
        )
        for r in (s, *dense):
            mem = r["peak_rss_mb"] / s["peak_rss_mb"]
            speed = s["images_per_s"] / r["images_per_s"]
            rows.append(
                [
                    backbone,
                    r["mode"],
                    r["points"],
                    f"{r['images_per_s']:.2f}",
                    f"{r['peak_rss_mb']:.0f}",
                    f"{mem:.2f}",
                    f"{speed:.2f}",
                ]
            )
    print(f"batch {args.batch}, crop {args.crop}")
    cols = [
        "backbone",
        "hypercolumns",
        "points/image",
        "images/s",
        "peak RSS MB",
        "memory / sparse",
        "sparse speed / this",
    ]
    print(table(cols, rows))


if __name__ == "__main__":
    main()
