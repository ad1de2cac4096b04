"""Reference photos, measured two ways; PSNR of the gray target's colorization against its original.

* other half: the left half of each photo in colour is the reference for its right half in gray;
* stereo pairs (``--pair TARGET REFERENCE``): one view in colour for the other view in gray;
* unrelated: the left half of the *next* photo as the reference, to check that a reference that does
  not match falls back to automatic colours instead of painting its colours everywhere.

Methods: automatic colorization (no reference), autocolor with the reference, and the global colour
transfer of Reinhard et al. (2001): the target's Lab a, b get the reference's mean and deviation; a
gray target has no deviation, so it takes the reference's mean colour (laid over its own lightness).

    python benchmarks/reference.py data/val --max-side 640 --match reach=0.5 --match ...   # choose
    python benchmarks/reference.py data/eval --pair aloeL.jpg aloeR.jpg                   # report
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from common import load_rgb

from autocolor import Colorizer, color, metrics
from autocolor.data.crops import list_images
from autocolor.evidence.reference import Match


def reinhard(light: np.ndarray, ref: np.ndarray) -> np.ndarray:
    """Reinhard et al.'s transfer to a gray target: the reference's mean (a, b) over the target's L."""
    ab = color.rgb_to_lab(torch.from_numpy(ref / 255).float().permute(2, 0, 1))[1:].mean((1, 2))
    lt = torch.from_numpy(light)
    lab = torch.stack([color.rgb_to_lab(lt.expand(3, *lt.shape))[0], *(v.expand_as(lt) for v in ab)])
    rgb = color.lab_to_rgb(lab)
    rgb = color.fit_in_cube(lt, rgb - rgb.mean(0, keepdim=True))
    return (rgb.permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def score(colorizer: Colorizer, target: np.ndarray, ref: np.ndarray, matches: dict[str, Match]) -> dict:
    """PSNR of every method for one (target, reference) pair."""
    light = metrics.gray(target)
    pred = colorizer.predict(light, features=True)
    out = np.empty((*light.shape, 3), np.uint8)
    scores = {"automatic": metrics.psnr(colorizer.render(pred, light, out=out), target)}
    scores["Reinhard et al. 2001"] = metrics.psnr(reinhard(light, ref), target)
    prepared = colorizer.reference(ref)
    for name, match in matches.items():
        colorizer.match = match
        steered = colorizer.steer(pred, references=[prepared])
        scores[name] = metrics.psnr(colorizer.render(steered, light, out=out), target)
    return scores


def parse_match(text: str) -> Match:
    """``reach=0.5,light=2`` -> Match."""
    kv = dict(item.split("=") for item in text.split(",") if item)
    return Match(**{k: int(v) if k == "neighbours" else float(v) for k, v in kv.items()})


def table(rows: dict[str, list[dict]]) -> str:
    methods = list(next(iter(rows.values()))[0])
    lines = ["| protocol | pairs | " + " | ".join(methods) + " |", "|---" * (len(methods) + 2) + "|"]
    for proto, scores in rows.items():
        means = [f"{np.mean([s[m] for s in scores]):.2f}" for m in methods]
        lines.append(f"| {proto} | {len(scores)} | " + " | ".join(means) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", nargs="*", help="folders of colour photos for the other-half protocol")
    p.add_argument("--pair", nargs=2, action="append", default=[], metavar=("TARGET", "REFERENCE"),
                   help="a stereo pair (repeat)")  # fmt: skip
    p.add_argument("--match", action="append", type=parse_match, help="matching settings (repeat to compare)")
    p.add_argument("--max-side", type=int, default=0, help="shrink photos to this longer side (default: no)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's)")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    colorizer = Colorizer.from_pretrained()
    matches = {
        f"autocolor {m.neighbours}/{m.light:g}/{m.reach:g}/{m.strength:g}": m for m in a.match or [Match()]
    }
    rows: dict[str, list[dict]] = {}
    paths = sorted(list_images([Path(x) for x in a.photos])) if a.photos else []
    for k, path in enumerate(paths):
        rgb, other = load_rgb(path, a.max_side), load_rgb(paths[(k + 1) % len(paths)], a.max_side)
        half = rgb.shape[1] // 2
        rows.setdefault("other half", []).append(score(colorizer, rgb[:, half:], rgb[:, :half], matches))
        unrelated = other[:, : other.shape[1] // 2]
        rows.setdefault("unrelated", []).append(score(colorizer, rgb[:, half:], unrelated, matches))
        print(path.name, flush=True)
    for target, ref in a.pair:
        rows.setdefault("stereo pairs", []).append(
            score(colorizer, load_rgb(Path(target), a.max_side), load_rgb(Path(ref), a.max_side), matches)
        )
        print(Path(target).name, {k: round(v, 2) for k, v in rows["stereo pairs"][-1].items()}, flush=True)
    print("\nmean PSNR (dB); autocolor's settings as neighbours/light/reach/strength\n")
    print(table(rows))


if __name__ == "__main__":
    main()
