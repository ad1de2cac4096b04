"""Inference speed and memory: end to end (read, predict, decode, write PNG) and the network alone.

    python benchmarks/inference.py                       # effnet-lite0 and vgg16-gray, 0.25-24 MP
    python benchmarks/inference.py --backbones effnet-lite0 --megapixels 1 24 --runs 7

Each (backbone, size) runs in a fresh process so that its peak resident memory (VmHWM) is its own.
In each round the steps run in turns: a bare Pillow read of the same JPEG plus an RGB PNG write (the
floor any tool pays), autocolor end to end, the network alone, and the full-resolution stage alone
(decode, guided upsampling, lightness, 8-bit output); times are medians of ``--runs`` rounds after a
warm-up, and "end to end / Pillow" is the median of the per-round ratios with its interquartile range.
Weights do not change speed: the bundled model is used when it exists, else random weights.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from common import in_fresh_process, peak_rss_mb, table
from PIL import Image


def worker(backbone: str, megapixels: float, runs: int, threads: int) -> dict:
    import skimage
    import torch

    from autocolor import Colorizer, imagefile
    from autocolor.model import HypercolumnColorizer, ModelConfig
    from autocolor.pipeline import bundled_weights

    if threads:
        torch.set_num_threads(threads)
    backbone, _, engine = backbone.partition(":")  # e.g. effnet-lite2:onnx
    path, engine = bundled_weights(backbone), engine or "torch"
    if path.exists():
        colorizer = Colorizer.from_pretrained(backbone, device="cpu", engine=engine)
    else:
        net = HypercolumnColorizer(ModelConfig(backbone=backbone))
        colorizer = Colorizer(net, device="cpu", engine=engine)
    src = Image.open(Path(skimage.__file__).parent / "data" / "astronaut.png").convert("L")
    w = round((megapixels * 1e6 * 4 / 3) ** 0.5)
    h = round(w * 3 / 4)
    with tempfile.TemporaryDirectory() as tmp:
        inp, out, bare = Path(tmp) / "in.jpg", Path(tmp) / "out.png", Path(tmp) / "bare.png"
        src.resize((w, h), Image.BICUBIC).save(inp, quality=92)
        base_rss = peak_rss_mb()
        photo = imagefile.read_image(inp)
        x, _ = colorizer.network_input(photo.light)
        pred = colorizer.predict(photo)
        rgb8 = np.empty((h, w, 3), np.uint8)

        def pillow():  # the floor: read the same JPEG, write an RGB PNG at the same compression
            with Image.open(inp) as im:
                im.convert("RGB").save(bare, compress_level=1)

        def network():
            with torch.inference_mode():
                colorizer._dense(x)  # the engine's dense pass

        def full_res():
            colorizer.render(pred, photo.light, out=rgb8)

        steps = {"pillow": pillow, "end_to_end": lambda: colorizer.colorize_file(inp, out),
                 "network": network, "full_res": full_res}  # fmt: skip
        times = {k: [] for k in steps}
        for i in range(runs + 1):  # in turns, so a slow spell falls on all alike; the first is warm-up
            for k, fn in steps.items():
                t = time.perf_counter()
                fn()
                if i:
                    times[k].append(time.perf_counter() - t)
    ratios = [e / p for e, p in zip(times["end_to_end"], times["pillow"], strict=True)]
    return {
        "backbone": backbone,
        "megapixels": round(w * h / 1e6, 2),
        "network_input": list(x.shape[-2:]),
        **{f"{k}_s": statistics.median(v) for k, v in times.items()},
        "full_res_ns_per_px": statistics.median(times["full_res"]) / (w * h) * 1e9,
        "vs_pillow": statistics.median(ratios),
        "vs_pillow_iqr": statistics.quantiles(ratios, n=4)[::2] if len(ratios) > 1 else [ratios[0]] * 2,
        "peak_rss_mb": peak_rss_mb(),
        "model_loaded_rss_mb": base_rss,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--backbones",
        nargs="+",
        default=["effnet-lite0", "vgg16-gray"],
        help="backbones, each optionally with an engine: effnet-lite2:onnx",
    )
    p.add_argument("--megapixels", nargs="+", type=float, default=[0.25, 1, 4, 12, 24])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--threads", type=int, default=2, help="torch threads, pinned (default 2)")
    p.add_argument("--worker", nargs=2, metavar=("BACKBONE", "MP"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker[0], float(args.worker[1]), args.runs, args.threads)))
        return
    rows = []
    for backbone in args.backbones:
        for mp in args.megapixels:
            r = in_fresh_process(__file__, [backbone, mp], {"runs": args.runs, "threads": args.threads})
            lo, hi = r["vs_pillow_iqr"]
            size = "x".join(map(str, r["network_input"]))
            rows.append([backbone, f"{r['megapixels']:.2f}", size, f"{r['end_to_end_s']:.3f}",
                         f"{r['network_s']:.3f}", f"{r['full_res_ns_per_px']:.0f}", f"{r['pillow_s']:.3f}",
                         f"{r['vs_pillow']:.2f} ({lo:.2f}-{hi:.2f})", f"{r['peak_rss_mb']:.0f}"])  # fmt: skip
    cols = ["backbone", "photo MP", "network input", "end to end s", "network s", "full-res ns/px",
            "Pillow read + PNG write s", "end to end / Pillow (IQR)", "peak RSS MB"]  # fmt: skip
    print(table(cols, rows))


if __name__ == "__main__":
    main()
