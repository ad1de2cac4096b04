"""Old photos: restoration and colour on aged twins (``autocolor data age``), against the aged input.

For every twin (the photo made gray and aged by the old-print model, its defect mask, its clean
colour original) and every row (a way to restore, then the colorizer):

* lightness dB: PSNR of the restored lightness against the original's L = (R+G+B)/3, minus the aged
  input's PSNR (0-1 scale, per photo, then averaged);
* defect pixels dB: the same on the pixels a scratch, speck, hair or crease covers (mask > 25 %);
* colour dB: the colour part only (the output's RGB minus its channel mean) against the original's,
  PSNR minus that of leaving the photo gray (offset 0): what the colour adds, apart from lightness;
* s/MP: restoration seconds per megapixel (the colorizer not included), summed over the photos.

Rows: no restoration (the network shown its restored view of the photo, the default, and ``--view
plain``); a classical chain (percentile levels, a median-difference defect mask filled by
OpenCV's Telea inpainting, non-local-means denoising); each part of ``--restore`` alone; all of it
(with the restorer's own fill, with Telea's, with one pass of the restorer's network instead of the
photo and its mirror image: API ``Restorer(mirror=False)``); no restoration and all of it with
``--mirror`` (the colorizer's network also shown the mirror image).
``--oracle`` adds rows that are given the truth, to
show what limits the figures: the restorer's output with the *true* defect mask filled by Telea,
that with the true tones on top (the clean photo's smooth difference from it, defects left out), and
the restorer's output with the one gain and offset that fit the clean photo best.
``--clean FOLDER`` also scores ``--restore all`` on
the clean photos made gray (PSNR of the restored lightness against the input: how much it leaves alone)
and the colour each colorizer adds there, and on scikit-image's ``camera``, a real black-and-white
photo whose tripod has thin bright legs that a scratch detector can take for scratches.

    python benchmarks/restore.py data/val-aged --clean data/val
    python benchmarks/restore.py data/eval-aged --clean data/eval -w runs/aged/best.pt
    python benchmarks/restore.py data/val-aged --oracle --rows "--restore all,true mask,true mask and tones"
    python benchmarks/restore.py --timing data/eval --runs 5       # restoration speed at 1 MP
"""

from __future__ import annotations

import argparse
import re
import statistics
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from common import color_part, psnr, table
from PIL import Image

from autocolor import Colorizer, imagefile
from autocolor.bundled import RESTORER
from autocolor.data import list_images, twins
from autocolor.options import ENGINES
from autocolor.restore import THRESHOLD, Restorer, grown, split, telea
from autocolor.restore import net as net_lib

NONE = "no restoration"
MIRROR = "--mirror"
ONE_PASS = "restorer one pass"


def levels(light: np.ndarray, black: float = 0.05, white: float = 0.95) -> np.ndarray:
    """Percentile levels: the 0.5th and 99.5th percentiles stretched to ``black`` and ``white`` (the
    medians of those percentiles over the training photos); a photo as wide is left as it is."""
    lo, hi = np.quantile(light[:: max(1, light.shape[0] // 512)], (0.005, 0.995))
    if hi - lo >= white - black or hi - lo < 1e-3:
        return light
    return np.clip((light - lo) * (white - black) / (hi - lo) + black, 0, 1).astype(np.float32)


def classical(light: np.ndarray) -> np.ndarray:
    """Percentile levels, median-difference defects inpainted by Telea, non-local-means denoising."""
    light = levels(light)
    u8 = np.clip(light * 255 + 0.5, 0, 255).astype(np.uint8)
    diff = np.abs(u8.astype(np.int16) - cv2.medianBlur(u8, 5)) > 30
    mask = cv2.dilate(diff.astype(np.uint8), np.ones((3, 3), np.uint8))
    u8 = cv2.inpaint(u8, mask, 3, cv2.INPAINT_TELEA)
    return cv2.fastNlMeansDenoising(u8, None, h=10).astype(np.float32) / 255


def restorers(path: str | None, threshold: float) -> dict:
    """The rows: name -> a function from aged lightness to restored lightness."""
    net = net_lib.load(path or RESTORER)
    rows = {NONE: _as_is, f"{NONE}, --view plain": _as_is, f"{NONE}, {MIRROR}": _as_is,
            "classical chain": classical}  # fmt: skip
    for parts in ("levels", "grain", "defects", "all"):
        rows[f"--restore {parts}"] = _light(Restorer(net, parts, threshold=threshold))
    rows["--restore all (Telea fill)"] = _light(Restorer(net, "all", fill="telea", threshold=threshold))
    rows[f"--restore all, {ONE_PASS}"] = _light(Restorer(net, "all", threshold=threshold, mirror=False))
    rows[f"--restore all, {MIRROR}"] = rows["--restore all"]
    return rows


class Restoring:
    """``restorer`` remembering the photo it restored last, so that the oracle rows share one
    restoration per photo; it counts the detector's recall and precision on the defect pixels."""

    def __init__(self, restorer: Restorer):
        self.restorer, self.light, self.restored = restorer, None, None
        self.found: list[tuple[float, float]] = []  # per photo with defects

    def __call__(self, light: np.ndarray, defect: np.ndarray):
        if light is not self.light:
            self.light, self.restored = light, self.restorer(light)
            found = self.restored.defects > self.restorer.threshold
            if defect.any():
                hits = (found & defect).sum()
                self.found.append((hits / defect.sum(), hits / max(1, found.sum())))
        return self.restored


class Oracle:
    """A row that is given the truth: the restored photo with the true defect mask (grown by a pixel)
    filled by Telea and, with ``tones``, the clean photo's smooth difference from it added."""

    def __init__(self, restoring: Restoring, tones: bool = False):
        self.restoring, self.tones = restoring, tones

    def __call__(self, light: np.ndarray, truth: np.ndarray, defect: np.ndarray) -> np.ndarray:
        mask = grown(defect)
        out = telea(self.restoring(light, defect).light, mask)
        if self.tones:
            out = out + split(truth - out, mask)[0]
        return np.clip(out, 0, 1).astype(np.float32)


class TrueGain(Oracle):
    """A row given the truth: ``--restore all`` with the one gain and offset that bring it closest to
    the clean photo (least squares): what is left when only the photo's overall tone is wrong."""

    def __call__(self, light: np.ndarray, truth: np.ndarray, defect: np.ndarray) -> np.ndarray:
        out = self.restoring(light, defect).light
        gain, offset = np.polyfit(out.ravel()[::5], truth.ravel()[::5], 1)
        return np.clip(out * gain + offset, 0, 1).astype(np.float32)


def oracles(path: str | None, threshold: float) -> dict:
    """The rows given the truth (``Oracle``), sharing the ``--restore all`` restorer."""
    restoring = Restoring(Restorer(net_lib.load(path or RESTORER), "all", threshold=threshold))
    return {"true mask": Oracle(restoring), "true mask and tones": Oracle(restoring, tones=True),
            "true gain and offset": TrueGain(restoring)}  # fmt: skip


def _light(restorer: Restorer):
    return lambda light: restorer(light).light


def _as_is(light: np.ndarray) -> np.ndarray:
    return light


def _shown(colorizer: Colorizer, row: str) -> Colorizer:
    """The colorizer as the command runs it for ``row``: the network shown its restored view of the
    photo only when nothing restored it (``--view``), as ``autocolor --restore`` skips the view, and
    also shown its mirror image in a ``--mirror`` row."""
    shown = colorizer if row.startswith(NONE) and "--view plain" not in row else colorizer.with_view("plain")
    return shown.with_mirror(True) if row.endswith(MIRROR) else shown


def score(rows: dict, colorizers: dict, folder: Path, limit: int = 0) -> dict:
    """Per row: mean lightness, defect and colour gains (dB) and restoration seconds per MP."""
    sums: dict = {
        name: {"light": [], "defect": [], "seconds": 0.0, **{c: [] for c in colorizers}} for name in rows
    }
    megapixels = 0.0
    for twin in twins.read_manifest(folder)[: limit or None]:
        original = imagefile.to_rgb(twin["source"])  # float RGB in [0, 1]
        truth = original.mean(axis=2)
        aged = imagefile.read_image(twin["image"]).light
        defect = np.asarray(Image.open(twin["mask"]).convert("L")) > 64
        megapixels += aged.size / 1e6
        gray_color = psnr(0, color_part(original))
        restored: dict = {}  # rows that share a restoration (a --mirror row) run it once a photo
        for name, restore in rows.items():
            if restore not in restored:
                start = time.perf_counter()
                light = restore(aged, truth, defect) if isinstance(restore, Oracle) else restore(aged)
                restored[restore] = light, time.perf_counter() - start
            light, seconds = restored[restore]
            sums[name]["seconds"] += seconds
            sums[name]["light"].append(psnr(light, truth) - psnr(aged, truth))
            if defect.any():
                sums[name]["defect"].append(
                    psnr(light[defect], truth[defect]) - psnr(aged[defect], truth[defect])
                )
            for cname, colorizer in colorizers.items():
                rgb = _shown(colorizer, name).colorize_light(light)
                sums[name][cname].append(psnr(color_part(rgb), color_part(original)) - gray_color)
    return {n: {k: (v / megapixels if k == "seconds" else float(np.mean(v))) for k, v in s.items()}
            for n, s in sums.items()}  # fmt: skip


def score_clean(restorer, colorizers: dict, folder: Path) -> list[list]:
    """On clean photos made gray: what ``restorer`` changes, and each colorizer's colour gain (with the
    network shown its restored view, the default, and ``--view plain``)."""
    views = {f"{c}{v}": (_shown(col, NONE if v == "" else "plain"))
             for c, col in colorizers.items() for v in ("", ", --view plain")}  # fmt: skip
    changed, colour = [], {c: [] for c in views}
    for path in list_images([folder]):
        original = imagefile.to_rgb(path)
        light = original.mean(axis=2)
        changed.append(psnr(restorer(light), light))
        for cname, colorizer in views.items():
            rgb = colorizer.colorize_light(light)
            colour[cname].append(psnr(color_part(rgb), color_part(original)) - psnr(0, color_part(original)))
    rows = [["--restore all: PSNR of the restored lightness against the input", f"{np.mean(changed):.2f}",
             f"min {np.min(changed):.2f}"]]  # fmt: skip
    rows += [[f"colour gain, no restoration, {c}", f"{np.mean(v):+.2f}", ""] for c, v in colour.items()]
    return rows


def real_photo(path: str | None, threshold: float) -> list[list]:
    """scikit-image's ``camera`` (a black-and-white photo, no ageing) with ``--restore all``: the pixels
    taken for defects (its tripod's thin bright legs must not be) and the PSNR against the input."""
    import skimage.data

    light = skimage.data.camera().astype(np.float32) / 255
    restored = Restorer(net_lib.load(path or RESTORER), "all", threshold=threshold)(light)
    found = int((restored.defects > threshold).sum())
    kept = psnr(restored.light, light)
    return [["camera: pixels taken for defects", f"{found}", f"of {light.size}"],
            ["camera: PSNR of the restored lightness against the input", f"{kept:.2f}", ""]]  # fmt: skip


def timing(folder: Path, restorer_path: str | None, runs: int, engines: list[str]) -> str:
    """Restoration of a 1 MP photo, each row's median time and its ratio to the colorizer's work on
    the same photo (its view, network and full resolution, measured in the same rounds)."""
    rgb = imagefile.to_rgb(list_images([folder])[0])
    light = cv2.resize(rgb.mean(axis=2), (1152, 864), interpolation=cv2.INTER_AREA)
    net = net_lib.load(restorer_path or RESTORER)
    rows = {f"--restore {p}": Restorer(net, p) for p in ("levels", "grain", "defects", "all")}
    rows[f"--restore all, {ONE_PASS}"] = Restorer(net, "all", mirror=False)
    rows["classical chain"] = classical
    rows |= {f"--restore all, --engine {e}": Restorer(net, "all", engine=e) for e in engines}
    rows["colorizer (view, network and full resolution)"] = Colorizer.from_pretrained().colorize_light
    rows[f"colorizer, {MIRROR}"] = Colorizer.from_pretrained(mirror=True).colorize_light
    for e in engines:
        rows[f"colorizer, --engine {e}"] = Colorizer.from_pretrained(engine=e).colorize_light
    for r in rows.values():
        r(light)  # warm-up: an engine's first photo exports and compiles its graphs
    times: dict = {n: [] for n in rows}
    for _ in range(runs):
        for name, r in rows.items():
            start = time.perf_counter()
            r(light)
            times[name].append(time.perf_counter() - start)
    ref = statistics.median(times["colorizer (view, network and full resolution)"])
    out = [[n, f"{statistics.median(t):.3f}", f"{statistics.median(t) / ref:.2f}"] for n, t in times.items()]
    return table(["1 MP (1152x864)", "median s", "time / colorizer"], out)


def _height(rgb: np.ndarray, h: int) -> np.ndarray:
    return cv2.resize(rgb, (round(rgb.shape[1] * h / rgb.shape[0]), h), interpolation=cv2.INTER_AREA)


def contact_sheet(
    folder: Path, restorer_path: str | None, colorizer: Colorizer, out: Path, count: int, only=("",)
) -> None:
    """Rows of aged | restored | restored and colorized | original, each 360 px high; only twins whose
    path holds one of ``only`` (e.g. the collections that may be re-hosted)."""
    restorer = Restorer.load(restorer_path or RESTORER)
    manifest = [t for t in twins.read_manifest(folder) if any(k in str(t["image"]) for k in only)]
    rows = []
    for twin in manifest[:: max(1, len(manifest) // count)][:count]:
        aged = imagefile.read_image(twin["image"]).light
        light = restorer(aged).light
        tiles = [np.repeat(x[..., None], 3, 2) for x in (aged, light)]
        tiles += [_shown(colorizer, "--restore all").colorize_light(light), imagefile.to_rgb(twin["source"])]
        rows.append(np.hstack([_height(t, 360) for t in tiles]))
    width = max(r.shape[1] for r in rows)
    sheet = np.vstack([np.pad(r, ((0, 4), (0, width - r.shape[1]), (0, 0)), constant_values=1) for r in rows])
    Image.fromarray(imagefile.quantize(sheet, 8)).save(out, quality=88)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "aged", type=Path, help="a folder written by `autocolor data age` (or, with --timing, photos)"
    )
    p.add_argument("--clean", type=Path, help="the clean photo folder the twins were made from")
    p.add_argument(
        "-w", "--weights", action="append", default=[], help="colorizer checkpoints (default: bundled)"
    )
    p.add_argument("--restorer", help="restorer checkpoint (default: the bundled one)")
    p.add_argument("--timing", action="store_true", help="time restoration at 1 MP instead")
    p.add_argument("--runs", type=int, default=5, help="timing rounds (median)")
    p.add_argument("--engines", nargs="*", default=[], choices=ENGINES[1:],
                   help="--timing: also time restoring and colorizing on these engines")  # fmt: skip
    p.add_argument("--limit", type=int, default=0, help="only the first N twins (a quick look)")
    p.add_argument("--rows", help="row names to run, separated by commas without a space (default: all)")
    p.add_argument("--oracle", action="store_true", help="add the rows given the truth (true mask, tones)")
    p.add_argument("--threshold", type=float, default=THRESHOLD, help="defect probability that is filled")
    p.add_argument("--clean-row", default="--restore all", help="the row scored on the clean photos")
    p.add_argument(
        "--sheet", type=Path, help="write a contact sheet (aged | restored | colorized | original)"
    )
    p.add_argument("--sheet-count", type=int, default=6, help="photos on the contact sheet")
    p.add_argument("--sheet-from", nargs="+", default=[""], help="only twins whose path holds one of these")
    args = p.parse_args()
    torch.set_num_threads(2)
    if args.timing:
        print(timing(args.aged, args.restorer, args.runs, args.engines))
        return
    colorizers = {Path(w).stem: Colorizer.load(w) for w in args.weights} or {
        "bundled": Colorizer.from_pretrained()
    }
    if args.sheet:
        colorizer = next(iter(colorizers.values()))
        contact_sheet(args.aged, args.restorer, colorizer, args.sheet, args.sheet_count, args.sheet_from)
        return
    rows = restorers(args.restorer, args.threshold)
    if args.oracle:
        rows |= oracles(args.restorer, args.threshold)
    if args.rows:
        rows = {n: rows[n] for n in re.split(r",(?! )", args.rows)}  # names hold ", " but not ","
    result = score(rows, colorizers, args.aged, args.limit)
    cols = [
        "restoration",
        "lightness dB",
        "defect pixels dB",
        *[f"colour dB ({c})" for c in colorizers],
        "s/MP",
    ]
    print(table(cols, [[n, f"{r['light']:+.2f}", f"{r['defect']:+.2f}", *[f"{r[c]:+.2f}" for c in colorizers],
                        f"{r['seconds']:.3f}"] for n, r in result.items()]))  # fmt: skip
    oracle = next((r for r in rows.values() if isinstance(r, Oracle) and r.restoring.found), None)
    if oracle:
        recall, precision = np.mean(oracle.restoring.found, axis=0)
        print(f"\nThe detector found {recall:.0%} of the defect pixels; {precision:.0%} of its finds were.")
    if args.clean:
        print()
        print(
            table(
                ["clean photos", "mean", ""],
                score_clean(restorers(args.restorer, args.threshold)[args.clean_row], colorizers, args.clean)
                + real_photo(args.restorer, args.threshold),
            )
        )


if __name__ == "__main__":
    main()
