"""Calibrate decoding on validation photos: each photo's histograms are predicted once, then decoded
with every setting asked for and scored (PSNR gain over gray, share of photos improved, colourfulness
as a share of the originals'), as `autocolor evaluate --quick` scores them.

    python benchmarks/decoding.py data/val --fade 0,0.96 0.1,0.96 0,0.7 --param median q75 --boost 1 1.2

Every combination of --param, --fade and --boost is a row. Choose on validation only.
"""

from __future__ import annotations

import argparse
import itertools
import sys
from pathlib import Path

import numpy as np
from common import load_rgb
from tqdm import tqdm

from autocolor import data, imagefile, metrics
from autocolor.evaluate import gray_baseline
from autocolor.histograms import DecodeParam
from autocolor.pipeline import Colorizer


def settings(args) -> list[DecodeParam]:
    """Every combination of the decoding options asked for."""
    fades = [tuple(float(v) for v in f.split(",")) for f in args.fade]
    return [
        DecodeParam.parse(param, boost=boost, fade=fade)
        for param, fade, boost in itertools.product(args.param, fades, args.boost)
    ]


def label(p: DecodeParam) -> str:
    return f"{p} fade {p.fade[0]:g}-{p.fade[1]:g} boost {p.boost:g}"


def score(colorizer: Colorizer, photos: list[Path], params: list[DecodeParam], max_side: int) -> dict:
    """Per setting: arrays of PSNR gain over gray and of colourfulness; and the originals' colourfulness."""
    gains = {label(p): [] for p in params}
    colour = {label(p): [] for p in params}
    originals = []
    for path in tqdm(photos, unit="photo", file=sys.stderr):
        ref = load_rgb(path, max_side)
        gray = metrics.gray(ref)
        base = metrics.psnr(gray_baseline(gray), ref)
        originals.append(metrics.colourfulness(ref))
        pred = colorizer.predict(gray)
        for p in params:
            out = imagefile.quantize(colorizer.render(pred, gray, p))
            gains[label(p)].append(metrics.psnr(out, ref) - base)
            colour[label(p)].append(metrics.colourfulness(out))
    return {"gain": gains, "colour": colour, "originals": np.mean(originals)}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("photos", nargs="+", help="validation photos (folders or files)")
    ap.add_argument("-w", "--weights", help="checkpoint (default: the bundled model)")
    ap.add_argument("--param", nargs="+", default=["median:expectation-cf"], help="CHROMA:HUE settings")
    ap.add_argument("--fade", nargs="+", default=["0,0.96"], help="fading ramps LO,HI on R")
    ap.add_argument("--boost", nargs="+", type=float, default=[1.0], help="chroma multipliers")
    ap.add_argument("--size", type=int, default=512, help="processing size (default 512)")
    ap.add_argument("--max-side", type=int, default=0, help="shrink photos first (default: full size)")
    args = ap.parse_args(argv)
    opts = {"size": args.size}
    colorizer = Colorizer.load(args.weights, **opts) if args.weights else Colorizer.from_pretrained(**opts)
    photos = data.list_images(args.photos)
    result = score(colorizer, photos, settings(args), args.max_side)
    print(f"{len(photos)} photos, {args.weights or 'bundled model'}, size {args.size}\n")
    print("| decoding | ΔPSNR vs gray | improved | colourfulness (ratio) |\n|---|---|---|---|")
    for name, gains in result["gain"].items():
        g = np.asarray(gains)
        ratio = np.mean(result["colour"][name]) / result["originals"]
        print(f"| {name} | {g.mean():+.3f} | {np.mean(g > 0):.0%} | {ratio:.2f} |")


if __name__ == "__main__":
    main()
