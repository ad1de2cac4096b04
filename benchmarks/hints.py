"""Colour hints, measured as Zhang et al. (SIGGRAPH 2017) did: reveal the true colour at N random
points of each photo (mean over a 5 x 5 patch; the same points, nested in N, for every method) and
report mean PSNR against N, for autocolor's hints and for Levin, Lischinski & Weiss, *Colorization
using Optimization* (SIGGRAPH 2004), the classic optimisation given the same points.

    python benchmarks/hints.py data/val --spread light=1,features=0.2 --spread ...   # choose
    python benchmarks/hints.py data/eval --levin --plot docs/hints.png              # report

Levin's method runs at the network's processing size (shorter side 256 for ``--size 512``: its
sparse system at 2 MP takes minutes) in the same opponent colour plane as autocolor, and its colour
offset is upsampled bilinearly and laid over the photo's own lightness, as autocolor's is.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import astuple
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import load_rgb
from PIL import Image
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import splu

from autocolor import Colorizer, Hint, Spread, color, metrics
from autocolor.data.crops import list_images
from autocolor.evaluate import contact_sheet
from autocolor.evidence.hints import draw
from autocolor.pipeline import processing_size

POINTS = (0, 1, 2, 5, 10, 20, 50, 100)
PATCH = 2  # the revealed colour is the mean of a (2 * PATCH + 1)^2 patch


def reveal(rgb: np.ndarray, n: int, seed: int) -> list[Hint]:
    """The true colours at the first ``n`` of a fixed random sequence of points (nested in n)."""
    h, w, _ = rgb.shape
    rng = np.random.default_rng(seed)
    ys = rng.integers(PATCH, h - PATCH, max(POINTS))
    xs = rng.integers(PATCH, w - PATCH, max(POINTS))
    out = []
    for y, x in zip(ys[:n], xs[:n], strict=True):
        patch = rgb[y - PATCH : y + PATCH + 1, x - PATCH : x + PATCH + 1].reshape(-1, 3)
        out.append(Hint(((float(x), float(y)),), tuple(patch.mean(0) / 255)))
    return out


def _levin_weights(y: np.ndarray) -> coo_matrix:
    """Levin et al.'s affinity: each pixel's 3 x 3 neighbours, weights exp(-(Y_r - Y_s)^2 / 2 s_r^2)
    with s_r^2 the window's variance, normalised to sum 1 per pixel."""
    h, w = y.shape
    pad = np.pad(y, 1, mode="edge")
    shifts = [(dy, dx) for dy in (-1, 0, 1) for dx in (-1, 0, 1) if dy or dx]
    nb = np.stack([pad[1 + dy : 1 + dy + h, 1 + dx : 1 + dx + w] for dy, dx in shifts])
    var = np.concatenate([nb, y[None]]).var(axis=0) * 0.6
    wts = np.exp(-((nb - y) ** 2) / (2 * np.maximum(var, 2e-6)))
    inside = np.stack(
        [
            (np.arange(h)[:, None] + dy >= 0) & (np.arange(h)[:, None] + dy < h)
            & (np.arange(w)[None] + dx >= 0) & (np.arange(w)[None] + dx < w)
            for dy, dx in shifts
        ]
    )  # fmt: skip
    wts = wts * inside
    wts /= wts.sum(0, keepdims=True)
    idx = np.arange(h * w).reshape(h, w)
    rows = np.broadcast_to(idx, nb.shape)[inside]
    cols = np.stack([np.clip(idx + dy * w + dx, 0, h * w - 1) for dy, dx in shifts])[inside]
    return coo_matrix((wts[inside], (rows, cols)), (h * w, h * w))


def levin(light: np.ndarray, hints: list[Hint], size: int) -> np.ndarray:
    """Levin et al.'s colorization of ``light`` (H, W) from ``hints``, as uint8 RGB at full size."""
    big_h, big_w = light.shape
    h, w = processing_size(big_h, big_w, size)
    small = F.interpolate(torch.from_numpy(light)[None, None], (h, w), mode="bilinear", antialias=True)
    y = small[0, 0].numpy().astype(np.float64)
    offset = np.zeros((2, h, w))
    if hints:
        fixed, values = {}, {}
        for hint in hints:
            (x0, y0), rgb = hint.points[0], torch.tensor(hint.rgb, dtype=torch.float64)
            i, j = min(int(y0 * h / big_h), h - 1), min(int(x0 * w / big_w), w - 1)
            fixed[i * w + j] = True
            values[i * w + j] = color._OPPONENT.double() @ (rgb - rgb.mean())
        a = (coo_matrix((np.ones(h * w), (np.arange(h * w),) * 2)) - _levin_weights(y)).tocsr()
        keep = np.array([k not in fixed for k in range(h * w)], dtype=float)
        a = coo_matrix((keep, (np.arange(h * w),) * 2)) @ a  # hint rows become identity rows
        a = a + coo_matrix((1 - keep, (np.arange(h * w),) * 2))
        b = np.zeros((h * w, 2))
        for k, v in values.items():
            b[k] = v.numpy()
        offset = splu(a.tocsc()).solve(b).T.reshape(2, h, w)
    up = F.interpolate(torch.from_numpy(offset).float()[None], (big_h, big_w), mode="bilinear")[0]
    rgb = color.offset_to_rgb(torch.from_numpy(light), up)
    return (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def parse_spread(text: str) -> Spread:
    """``sigma=0.5,light=1,...`` -> Spread."""
    return Spread(**{k: float(v) for k, v in (kv.split("=") for kv in text.split(",") if kv)})


def run(photos: list[Path], colorizer: Colorizer, spreads: list[Spread], use_levin: bool, seed: int,
        points: tuple[int, ...] = POINTS, max_side: int = 0):  # fmt: skip
    """Mean PSNR (and seconds per photo) per method and N."""
    psnr: dict[tuple[str, int], list[float]] = {}
    secs: dict[tuple[str, int], list[float]] = {}
    names = {"autocolor " + "/".join(f"{v:g}" for v in astuple(s)): s for s in spreads}
    for k, path in enumerate(photos):
        ref = load_rgb(path, max_side)
        light = metrics.gray(ref)
        pred = colorizer.predict(light, features=True)
        out = np.empty((*light.shape, 3), np.uint8)
        for n in points:
            hints = reveal(ref, n, seed + k)
            for name, spread in names.items():
                colorizer.spread = spread
                t = time.perf_counter()
                colorizer.render(colorizer.steer(pred, hints), light, out=out)
                secs.setdefault((name, n), []).append(time.perf_counter() - t)
                psnr.setdefault((name, n), []).append(metrics.psnr(out, ref))
            if use_levin:
                t = time.perf_counter()
                result = levin(light, hints, colorizer.size)
                secs.setdefault(("Levin et al. 2004", n), []).append(time.perf_counter() - t)
                psnr.setdefault(("Levin et al. 2004", n), []).append(metrics.psnr(result, ref))
        print(f"{k + 1}/{len(photos)} {path.name}", flush=True)
    return psnr, secs


def report(psnr: dict, secs: dict) -> str:
    methods = list(dict.fromkeys(m for m, _ in psnr))
    points = list(dict.fromkeys(n for _, n in psnr))
    head = "| method | " + " | ".join(f"N={n}" for n in points) + f" | s/photo (N={points[-1]}) |"
    lines = [head, "|---" * (len(points) + 2) + "|"]
    for m in methods:
        cells = [f"{np.mean(psnr[m, n]):.2f}" for n in points]
        lines.append(f"| {m} | " + " | ".join(cells) + f" | {np.median(secs[m, points[-1]]):.3f} |")
    return "\n".join(lines)


def plot(psnr: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    points = list(dict.fromkeys(n for _, n in psnr))
    for m in dict.fromkeys(m for m, _ in psnr):
        ax.plot(points, [np.mean(psnr[m, n]) for n in points], marker="o", label=m)
    ax.set_xscale("symlog", linthresh=1)
    ax.set_xlabel("revealed points N")
    ax.set_ylabel("mean PSNR (dB)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def examples(colorizer: Colorizer, photos: list[Path], n: int, path: Path) -> None:
    """A contact sheet: gray | automatic | the revealed points | with them | Levin's | original."""
    rows = []
    for k, photo in enumerate(photos):
        ref = np.asarray(Image.open(photo).convert("RGB"))
        light = metrics.gray(ref)
        hints = reveal(ref, n, k)
        pred = colorizer.predict(light, features=True)
        auto, steered = (np.empty((*light.shape, 3), np.uint8) for _ in range(2))
        colorizer.render(pred, light, out=auto)
        colorizer.render(colorizer.steer(pred, hints), light, out=steered)
        gray = np.repeat((light * 255).round().astype(np.uint8)[..., None], 3, axis=2)
        small = np.asarray(Image.fromarray(gray).resize((round(160 * gray.shape[1] / gray.shape[0]), 160)))
        dots = draw(small, hints, light.shape)  # drawn at the sheet's scale, so they show
        rows.append([gray, auto, dots, steered, levin(light, hints, colorizer.size), ref])
    labels = ["gray", "automatic", f"{n} revealed points", "autocolor with them", "Levin et al.", "original"]
    contact_sheet(rows, labels).save(path, quality=88)


def edit_timing(colorizer: Colorizer, photo: Path, megapixels: float, runs: int) -> str:
    """Median seconds of an edit (steer a cached prediction with N hints, render at full size)
    against colorizing the photo from scratch, at ``megapixels``."""
    im = Image.open(photo).convert("RGB")
    scale = (megapixels * 1e6 / (im.width * im.height)) ** 0.5
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.LANCZOS)
    ref = np.asarray(im)
    light = metrics.gray(ref)
    out = np.empty((*light.shape, 3), np.uint8)
    pred = colorizer.predict(light, features=True)

    def full():
        colorizer.render(colorizer.predict(light, features=True), light, out=out)

    rows, cases = [], {"colorize from scratch (network + render)": full}
    for n in (1, 10, 100):
        hints = reveal(ref, n, 0)

        def edit(h=hints):
            colorizer.render(colorizer.steer(pred, h), light, out=out)

        cases[f"edit: {n} hint(s), no network"] = edit
    times = {name: [] for name in cases}
    for _ in range(runs):  # interleaved, so that a noisy machine hits every case alike
        for name, fn in cases.items():
            t = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t)
    base = np.median(times["colorize from scratch (network + render)"])
    for name, ts in times.items():
        rows.append(f"| {name} | {np.median(ts):.3f} | {np.median(ts) / base:.2f} |")
    size = f"{im.width}x{im.height} ({megapixels:g} MP), {torch.get_num_threads()} threads"
    head = f"| at {size} | median s | / from scratch |"
    return "\n".join([head, "|---|---|---|", *rows])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="+", help="folders of colour photos")
    p.add_argument("--spread", action="append", type=parse_spread, help="hint spread (repeat to compare)")
    p.add_argument("--levin", action="store_true", help="also run Levin et al.'s optimisation")
    p.add_argument("--limit", type=int, default=0, help="only the first N photos")
    p.add_argument("--points", type=int, nargs="+", default=POINTS, help="values of N (default: all)")
    p.add_argument("--max-side", type=int, default=0, help="shrink photos to this longer side (default: no)")
    p.add_argument("--seed", type=int, default=0, help="seed of the revealed points")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    p.add_argument("--plot", type=Path, help="write the PSNR-against-N plot here")
    p.add_argument("--timing", type=float, metavar="MP", help="only time edits at this many megapixels")
    p.add_argument("--runs", type=int, default=9, help="timing runs (default 9)")
    p.add_argument("--examples", type=Path, metavar="JPG", help="only draw a contact sheet of the photos")
    p.add_argument("--examples-points", type=int, default=10, help="revealed points in --examples")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    photos = sorted(list_images([Path(x) for x in a.photos]))[: a.limit or None]
    if a.examples:
        examples(Colorizer.from_pretrained(), photos, a.examples_points, a.examples)
        return
    if a.timing:
        print(edit_timing(Colorizer.from_pretrained(), photos[0], a.timing, a.runs))
        return
    psnr, secs = run(
        photos, Colorizer.from_pretrained(), a.spread or [Spread()], a.levin, a.seed, a.points, a.max_side
    )
    fields = "sigma/distance/light/features/sharpness/shading/alike/alike_reach/guess/alike_guess"
    print(f"\n{len(photos)} photos; hint spread as {fields}\n")
    print(report(psnr, secs))
    if a.plot:
        plot(psnr, a.plot)


if __name__ == "__main__":
    main()
