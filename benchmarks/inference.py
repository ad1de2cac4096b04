"""Inference speed and memory: end to end (read, predict, decode, write PNG) and the network alone.

    python benchmarks/inference.py                       # effnet-lite0 and vgg16-gray, 0.25-24 MP
    python benchmarks/inference.py --backbones effnet-lite0 --megapixels 1 24 --runs 7

Each (backbone, size) runs in a fresh process so that its peak resident memory (VmHWM) is its own.
Times are medians of ``--runs`` runs after one warm-up run; the model is loaded before timing.
Weights do not change speed: the bundled model is used when it exists, else random weights.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from common import in_fresh_process, peak_rss_mb, table
from PIL import Image


def worker(backbone: str, megapixels: float, runs: int, threads: int) -> dict:
    import skimage
    import torch

    from autocolor import Colorizer, io
    from autocolor.model import HypercolumnColorizer, ModelConfig
    from autocolor.pipeline import bundled_weights

    if threads:
        torch.set_num_threads(threads)
    path = bundled_weights(backbone)
    if path.exists():
        colorizer = Colorizer.from_pretrained(backbone, device="cpu")
    else:
        colorizer = Colorizer(HypercolumnColorizer(ModelConfig(backbone=backbone)), device="cpu")
    src = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("L")
    w = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = round(w * 3 / 4)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out = Path(tmp) / "in.jpg", Path(tmp) / "out.png"
        src.resize((w, h), Image.BICUBIC).save(inp, quality=92)
        base_rss = peak_rss_mb()
        e2e, net = [], []
        for i in range(runs + 1):
            t = time.perf_counter()
            colorizer.colorize_file(inp, out)
            if i:
                e2e.append(time.perf_counter() - t)
        x, _ = colorizer._prepare(io.read_image(inp).light)
        with torch.inference_mode():
            for i in range(runs + 1):
                t = time.perf_counter()
                colorizer.net.forward_dense(x)
                if i:
                    net.append(time.perf_counter() - t)
    return {
        "backbone": backbone,
        "megapixels": round(w * h / 1e6, 2),
        "network_input": list(x.shape[-2:]),
        "end_to_end_s": statistics.median(e2e),
        "network_s": statistics.median(net),
        "peak_rss_mb": peak_rss_mb(),
        "model_loaded_rss_mb": base_rss,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--backbones", nargs="+", default=["effnet-lite0", "vgg16-gray"])
    p.add_argument("--megapixels", nargs="+", type=float, default=[0.25, 1, 4, 12, 24])
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--worker", nargs=2, metavar=("BACKBONE", "MP"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], float(args.worker[1]), args.runs, args.threads)))
        return
    rows = []
    for backbone in args.backbones:
        for mp in args.megapixels:
            r = in_fresh_process(__file__, [backbone, mp], {"runs": args.runs, "threads": args.threads})
            rows.append(
                [
                    r["backbone"],
                    f"{r['megapixels']:.2f}",
                    "x".join(map(str, r["network_input"])),
                    f"{r['end_to_end_s']:.3f}",
                    f"{r['network_s']:.3f}",
                    f"{r['end_to_end_s'] / r['network_s']:.1f}",
                    f"{r['peak_rss_mb']:.0f}",
                ]
            )
    cols = [
        "backbone",
        "photo MP",
        "network input",
        "end to end s",
        "network s",
        "end to end / network",
        "peak RSS MB",
    ]
    print(table(cols, rows))


if __name__ == "__main__":
    main()
