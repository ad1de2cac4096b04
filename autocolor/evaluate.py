"""``autocolor evaluate``: the paper's metrics on any colour photos, for checkpoints and the gray baseline.

Each photo is made gray (L = (R+G+B)/3, or Rec. 601 luma with ``--gray luma``), colorized by every
method exactly as ``autocolor`` would, and compared with the original. The "gray" method (no
colorization) is always scored too. Outputs in ``--out``: per_image.csv, summary.json, summary.md,
contact_sheet.jpg and plots (PSNR distribution, cumulative alpha-beta error, CMF of ab error).
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from . import data, imagefile, metrics

METRICS = metrics.ALL


def method_name(path: str) -> str:
    """A readable name for a checkpoint: its stem, or its folder for a trainer's model.pt."""
    p = Path(path)
    return p.parent.name if p.stem == "model" and p.parent.name else p.stem


def gray_baseline(g: np.ndarray) -> np.ndarray:
    """No colorization: the gray image L in every channel, as 8-bit RGB."""
    return imagefile.quantize(np.repeat(g[..., None], 3, axis=2))


def colorizer_method(colorizer) -> Callable[[np.ndarray], np.ndarray]:
    """A colorizer as a method: gray float (H, W) to 8-bit RGB, exactly as the command writes it."""
    return lambda g: imagefile.quantize(colorizer.colorize(g))


def build_methods(weights: list[str], **opts) -> dict[str, Callable[[np.ndarray], np.ndarray]]:
    """Name -> function from gray float (H, W) to uint8 RGB, the gray baseline first."""
    from .pipeline import Colorizer

    methods = {"gray": gray_baseline}
    colorizers = [(method_name(w), Colorizer.load(w, **opts)) for w in weights]
    if not weights:
        colorizers = [("autocolor", Colorizer.from_pretrained(**opts))]
    for name, c in colorizers:
        while name in methods:
            name += "'"
        methods[name] = colorizer_method(c)
    return methods


def _thumb(rgb: np.ndarray, height: int) -> Image.Image:
    im = Image.fromarray(rgb)
    return im.resize((max(1, round(im.width * height / im.height)), height), Image.LANCZOS)


def contact_sheet(rows: list[list[np.ndarray]], labels: list[str], height: int = 160) -> Image.Image:
    """A grid of thumbnails: one row per photo, one column per label."""
    thumbs = [[_thumb(a, height) for a in row] for row in rows]
    widths = [max(r[i].width for r in thumbs) for i in range(len(labels))]
    sheet = Image.new("RGB", (sum(widths) + 4 * len(widths), (height + 4) * len(rows) + 18), "white")
    from PIL import ImageDraw

    draw = ImageDraw.Draw(sheet)
    x = 0
    for i, label in enumerate(labels):
        draw.text((x + 4, 3), label, fill="black")
        for j, row in enumerate(thumbs):
            sheet.paste(row[i], (x + (widths[i] - row[i].width) // 2, 18 + j * (height + 4)))
        x += widths[i] + 4
    return sheet


def summarize(rows: list[dict], methods: list[str]) -> dict[str, dict[str, float]]:
    """Mean of each metric per method (PSNR of identical images counted as PSNR_CAP)."""
    out = {}
    gray = {r["image"]: r["psnr"] for r in rows if r["method"] == "gray"}
    for m in methods:
        mine = [r for r in rows if r["method"] == m]
        out[m] = {"images": len(mine)}
        for k in METRICS:
            vals = [min(r[k], metrics.PSNR_CAP) if k == "psnr" else r[k] for r in mine if k in r]
            out[m][k] = float(np.mean(vals)) if vals else math.nan
        ref = out[m]["colourfulness_ref"]
        out[m]["colourfulness_ratio"] = out[m]["colourfulness"] / ref if ref else math.nan
        better = [r["psnr"] > gray[r["image"]] for r in mine if r["image"] in gray]
        out[m]["improved"] = float(np.mean(better)) if better else math.nan  # share of photos above gray
    return out


def _cell(value: float, spec: str, scale: float = 1.0, unit: str = "") -> str:
    """One table cell; metrics not computed (``--quick``) show as a dash, not ``nan``."""
    return "–" if math.isnan(value) else f"{scale * value:{spec}}{unit}"


def markdown(summary: dict[str, dict[str, float]]) -> str:
    base = summary.get("gray", {}).get("psnr", math.nan)
    lines = [
        "| method | images | PSNR dB | ΔPSNR vs gray | improved | RMSE αβ | AuC CMF | ΔE2000 "
        "| colourfulness (ratio) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for m, s in summary.items():
        cells = [
            m,
            str(s["images"]),
            _cell(s["psnr"], ".2f"),
            _cell(s["psnr"] - base, "+.2f"),
            _cell(s["improved"], ".0f", 100, "%"),
            _cell(s["rmse_alpha_beta"], ".3f"),
            _cell(s["auc_cmf"], ".1f", 100, "%"),
            _cell(s["delta_e2000"], ".2f"),
            f"{_cell(s['colourfulness'], '.1f')} ({_cell(s['colourfulness_ratio'], '.2f')})",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def plots(out: Path, rows: list[dict], hists: dict[str, dict[str, np.ndarray]]) -> None:
    """PSNR distribution and the cumulative per-pixel error curves (as the paper's slides)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(15, 4))
    for m in hists:
        vals = [min(r["psnr"], metrics.PSNR_CAP) for r in rows if r["method"] == m]
        axes[0].hist(vals, bins=20, histtype="step", linewidth=1.5, label=m)
        for ax, key, bins in (
            (axes[1], "alpha_beta", metrics.ALPHA_BETA_BINS),
            (axes[2], "ab", metrics.AB_ERROR_BINS),
        ):
            h = hists[m][key]
            ax.plot(bins[1:], np.cumsum(h) / max(h.sum(), 1), label=m)
    axes[0].set(xlabel="PSNR (dB) per image", ylabel="images", title="PSNR distribution")
    axes[1].set(xlabel="per-pixel αβ error", ylabel="fraction of pixels", title="Cumulative αβ error")
    axes[2].set(xlabel="per-pixel ab error (Lab)", ylabel="fraction of pixels", title="CMF of ab error")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(out / "plots.png", dpi=100)
    plt.close(fig)


def evaluate(photos: list[Path], methods: dict, out: Path, gray_kind: str = "mean", sheet: int = 12,
             progress: bool = True, quick: bool = False) -> dict:  # fmt: skip
    """Score every method on every photo; write the reports to ``out``; return the summary.

    ``quick``: only PSNR and colourfulness, no plots (the trainer's validation at every save)."""
    out.mkdir(parents=True, exist_ok=True)
    names = metrics.QUICK if quick else METRICS
    rows, failed, sheet_rows = [], [], []
    hists = {m: {"alpha_beta": np.zeros(len(metrics.ALPHA_BETA_BINS) - 1),
                 "ab": np.zeros(len(metrics.AB_ERROR_BINS) - 1)} for m in methods}  # fmt: skip
    for path in tqdm(photos, unit="photo", disable=not progress, file=sys.stderr):
        try:
            ref = np.asarray(imagefile.open_image(path).convert("RGB"))
        except imagefile.ImageError as err:
            failed.append(str(err))
            tqdm.write(f"autocolor evaluate: skipped: {err}", file=sys.stderr)
            continue
        g = metrics.gray(ref, gray_kind)
        preds = []
        for name, fn in methods.items():
            pred = fn(g)
            preds.append(pred)
            rows.append({"image": str(path), "method": name, **metrics.score(pred, ref, names)})
            if quick:
                continue
            hists[name]["alpha_beta"] += np.histogram(
                metrics.alpha_beta_error(pred, ref), metrics.ALPHA_BETA_BINS
            )[0]
            hists[name]["ab"] += np.histogram(metrics.ab_error(pred, ref), metrics.AB_ERROR_BINS)[0]
        if len(sheet_rows) < sheet:
            sheet_rows.append(preds + [ref])
    with open(out / "per_image.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=["image", "method", *names])
        w.writeheader()
        w.writerows(rows)
    summary = summarize(rows, list(methods))
    report = {"summary": summary, "gray": gray_kind, "photos": len(photos), "failed": failed}
    metrics_out = {m: {k: None if v != v else v for k, v in s.items()} for m, s in summary.items()}
    (out / "summary.json").write_text(json.dumps({**report, "summary": metrics_out}, indent=2))  # NaN -> null
    (out / "summary.md").write_text(markdown(summary))
    if sheet_rows:
        contact_sheet(sheet_rows, list(methods) + ["original"]).save(out / "contact_sheet.jpg", quality=85)
    if rows and not quick:
        plots(out, rows, hists)
    return report


def parser() -> argparse.ArgumentParser:
    from .options import add_decoding_flags, add_view_flag

    p = argparse.ArgumentParser(
        prog="autocolor evaluate",
        description="The paper's metrics (PSNR, RMSE in alpha-beta, AuC of the ab error, colourfulness, "
        "Delta E 2000) of checkpoints and the gray baseline on any colour photos.",
    )
    p.add_argument("photos", nargs="+", help="colour photos: files, folders, or list files (path [label])")
    p.add_argument(
        "-w",
        "--weights",
        action="append",
        default=[],
        help="checkpoint (repeat to compare; default: the bundled model)",
    )
    p.add_argument("--root", help="folder that list-file paths are relative to (default: the list's)")
    p.add_argument(
        "-s", "--size", type=int, default=512, help="processing size, as autocolor's --size (default 512)"
    )
    add_decoding_flags(p)  # as autocolor's
    p.add_argument(
        "--gray",
        choices=("mean", "luma"),
        default="mean",
        help="how photos are made gray: (R+G+B)/3 or Rec. 601 luma (default mean)",
    )
    add_view_flag(p)
    p.add_argument("--limit", type=int, default=0, help="only the first N photos (default 0: all)")
    p.add_argument("--sheet", type=int, default=12, help="photos in the contact sheet (default 12)")
    p.add_argument(
        "-d", "--device", default="auto", help="where the network runs: auto, cpu, cuda or mps (default auto)"
    )
    p.add_argument("-o", "--out", default="evaluation", help="folder for the reports (default evaluation)")
    p.add_argument(
        "--quick",
        action="store_true",
        help="only PSNR and colourfulness, no plots: fast, as the trainer validates (default: off)",
    )
    return p  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    missing = [p for p in args.photos if not Path(p).exists()]
    if missing:
        print(f"autocolor evaluate: error: {missing[0]}: no such file or folder", file=sys.stderr)
        return 2
    try:
        photos = data.list_images(args.photos, root=args.root)
    except (ValueError, OSError) as err:
        print(f"autocolor evaluate: error: {err}", file=sys.stderr)
        return 2
    if args.limit:
        photos = photos[: args.limit]
    if not photos:
        print(f"autocolor evaluate: error: no photos in {' '.join(args.photos)}", file=sys.stderr)
        return 1
    from .model import CheckpointError
    from .pipeline import ModelNotAvailable

    try:
        decoding = dict(param=args.param, boost=args.boost, fade=args.fade, temperature=args.temperature)
        methods = build_methods(
            args.weights, size=args.size, device=args.device, view=args.view, mirror=args.mirror, **decoding
        )
    except (CheckpointError, ModelNotAvailable, ValueError) as err:
        print(f"autocolor evaluate: error: {err}", file=sys.stderr)
        return 2
    report = evaluate(photos, methods, Path(args.out), args.gray, args.sheet, quick=args.quick)
    print(markdown(report["summary"]), end="")
    scored = len(photos) - len(report["failed"])
    print(f"{scored} photos scored, {len(report['failed'])} skipped; reports in {Path(args.out)}{os.sep}")
    return 0 if scored else 1
