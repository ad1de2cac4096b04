"""Video: steadiness, quality and speed of autocolor's video mode against frame-by-frame colorization.

Gray input is made from real colour footage (opencv-doc's vtest.avi, 795 frames of 768 x 576; tree.avi)
and compared with the originals:

* temporal warping error (Lai et al., ECCV 2018): each output frame t + 1 is warped onto frame t with
  the optical flow of the *original* colour frames (DIS), occlusions masked by a forward-backward
  check, and the squared RGB difference (0-1 scale) averaged over the unmasked pixels and frames;
* the same error split into its two exact parts. An output whose channel mean is the film's own
  lightness L is L (1, 1, 1) plus a colour offset that sums to zero, orthogonal to (1, 1, 1); warping
  is linear, so the squared difference is 3 (dL)^2 + |d offset|^2 and E_warp = E_warp(gray) +
  E_warp(colour offset). The first part is the film's own (noise, compression, light, flow errors),
  the same for every colorizer that keeps L; only the second is the colorizer's flicker;
* mean per-frame PSNR against the originals;
* end-to-end throughput (decode, colour, encode to H.264) of ``autocolor video``, frames per second.

    python benchmarks/video.py data/.cache/opencv-doc/usr/share/doc/opencv-doc/examples/data/vtest.avi

Old films (``--aged PHOTOS``): clips are slow pans over ``--clips`` photos spread evenly over a
folder's sorted list, and the given videos, made gray and aged by the old-film model
(``autocolor.data.film_aging``: fading, flicker, grain, dust, running scratches; seeded). Rows: no
restoration, the photo restorer frame by frame, temporal restoration (``autocolor video
--restore``), each then colorized in video mode:

* lightness dB: per-frame PSNR of the restored lightness against the original's, minus the aged
  frame's; defect pixels dB: the same on the pixels dust or a scratch covers (mask > 25 %), pooled
  over the clip;
* flicker: the standard deviation over time of each frame's mean lightness error, as a share of the
  aged film's;
* colour dB: the colour part only (RGB minus its channel mean) against the original's, PSNR minus
  that of leaving the frame gray; the mean over clips and the median clip (a clip whose truth is
  nearly gray, coloured wrongly, moves the mean by a dB);
* warping error of the colorized film (as above) and restoration frames per second.

    python benchmarks/video.py --aged data/val --clips 8 --frames 36 .../tree.avi    # choose
    python benchmarks/video.py --aged data/eval --clips 8 --frames 36 .../vtest.avi  # report
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import av
import cv2
import numpy as np
import torch
from common import color_part, psnr, table

from autocolor import Colorizer, imagefile, metrics
from autocolor.data import film_aging, list_images
from autocolor.options import ENGINES
from autocolor.pipeline import BUNDLED
from autocolor.restore import Restorer
from autocolor.restore.film import FilmRestorer
from autocolor.video import Clip, Steady, colorize_frames, colorize_video


def read_rgb(path: Path, limit: int) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    return frames[: limit or None]


def _flow_and_mask(dis, first: np.ndarray, second: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Where each pixel of original frame ``first`` is in ``second`` (x, y maps for ``cv2.remap``),
    and the pixels whose flow passes the forward-backward check and stays inside the frame."""
    a, b = (cv2.cvtColor(f, cv2.COLOR_RGB2GRAY) for f in (first, second))
    fwd, bwd = dis.calc(a, b, None), dis.calc(b, a, None)
    h, w = a.shape
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    mx, my = xs + fwd[..., 0], ys + fwd[..., 1]
    back = cv2.remap(bwd, mx, my, cv2.INTER_LINEAR)
    ok = np.sum((fwd + back) ** 2, axis=2) < 0.01 * (np.sum(fwd**2, 2) + np.sum(back**2, 2)) + 0.5
    ok &= (mx >= 0) & (mx <= w - 1) & (my >= 0) & (my <= h - 1)
    return mx, my, ok


def warping_errors(films: dict[str, list[np.ndarray]], originals: list[np.ndarray]) -> dict[str, tuple]:
    """Lai et al.'s E_warp of each uint8 RGB film, and of its colour offset alone: the mean over frames
    of the masked mean squared difference (0-1 scale) of O_t and warped O_{t+1}, the flow and its
    occlusion mask taken once per frame pair from the original frames."""
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    errors: dict[str, list] = {name: [] for name in films}
    for t in range(len(originals) - 1):
        mx, my, ok = _flow_and_mask(dis, originals[t], originals[t + 1])
        for name, frames in films.items():
            now, later = (frames[k].astype(np.float32) / 255 for k in (t, t + 1))
            diff = now - cv2.remap(later, mx, my, cv2.INTER_LINEAR)
            colour = diff - diff.mean(axis=2, keepdims=True)  # the part orthogonal to (1, 1, 1)
            errors[name].append(
                [float((d**2).sum(axis=2)[ok].mean()) if ok.any() else 0.0 for d in (diff, colour)]
            )
    return {name: tuple(np.mean(e, axis=0)) for name, e in errors.items()}


def throughput(colorizer: Colorizer, path: Path, steady: Steady | None, limit: int, runs: int = 3,
               temporal: bool = True) -> float:  # fmt: skip
    """Frames per second of ``colorize_video`` (decode, colour, H.264 encode), median of ``runs``."""
    end = None
    if limit:
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            end = limit / float(s.average_rate)
    rates = []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as tmp:
            t = time.perf_counter()
            n = colorize_video(
                colorizer, path, Path(tmp) / "out.mp4", steady, Clip(end=end), temporal=temporal
            )
            rates.append(n / (time.perf_counter() - t))
    return float(np.median(rates))


def aged_clips(folder: Path | None, videos: list[Path], clips: int, frames: int, seed: int):
    """(name, original RGB frames, aged lightness frames, defect masks) of every test clip."""
    sources = []
    photos = list_images([folder]) if folder else []
    photos = [photos[int(i)] for i in np.linspace(0, len(photos) - 1, min(clips, len(photos)))]
    for k, path in enumerate(photos):
        rgb = np.asarray(imagefile.to_rgb(path) * 255 + 0.5, np.uint8)
        sources.append((path.name, film_aging.pan(rgb, frames, np.random.default_rng([seed, k]))))
    sources += [(v.name, read_rgb(v, frames)) for v in videos]
    for k, (name, originals) in enumerate(sources):
        rng = np.random.default_rng([seed, 1000 + k])
        aged = list(film_aging.age_clip((metrics.gray(f) for f in originals), rng))
        yield name, originals, [a.light for a in aged], [a.defects() > 0.25 for a in aged]


def restorations(restorer: Restorer) -> dict:
    """The rows: name -> a function from aged lightness frames to restored ones."""
    return {
        "no restoration": lambda frames: list(frames),
        "photo restorer, frame by frame": lambda frames: [restorer(f).light for f in frames],
        "temporal restoration": lambda frames: [
            r.light for r, _ in FilmRestorer(restorer, restorer.parts).run((f, None) for f in frames)
        ],
    }


def score_aged(colorizer: Colorizer, restorer: Restorer, clips) -> list[list]:
    """Per row: the means over clips of the gains described in the module docstring; a last row gives
    the colour of the clean frames made gray (what restoration could at best give back)."""
    rows = restorations(restorer)
    got: dict = {name: {k: [] for k in ("light", "defect", "flicker", "colour", "warp", "fps")}
                 for name in [*rows, CLEAN]}  # fmt: skip
    for _name, originals, aged, masks in clips:
        truth = [metrics.gray(f) for f in originals]
        base_err = np.std([float((a - t).mean()) for a, t in zip(aged, truth, strict=True)])
        defect = np.stack(masks)
        for name, restore in rows.items():
            start = time.perf_counter()
            light = restore(aged)
            if name != "no restoration":
                got[name]["fps"].append(len(light) / (time.perf_counter() - start))
            got[name]["light"].append(
                np.mean([psnr(r, t) - psnr(a, t) for r, a, t in zip(light, aged, truth, strict=True)])
            )
            if defect.any():
                t, r, a = (np.stack(x)[defect] for x in (truth, light, aged))
                got[name]["defect"].append(psnr(r, t) - psnr(a, t))
            err = np.std([float((r - t).mean()) for r, t in zip(light, truth, strict=True)])
            got[name]["flicker"].append(err / max(base_err, 1e-6))
            # restored frames are colorized as `autocolor video --restore` does: no view on top
            shown = colorizer if name == "no restoration" else colorizer.with_view("plain")
            _colour(got[name], shown, light, originals)
        _colour(got[CLEAN], colorizer, truth, originals)
    formats = {"light": "{:+.2f}", "defect": "{:+.2f}", "flicker": "{:.2f}", "colour": "{:+.2f}"}
    mean = lambda g, k, f: f.format(np.mean(g[k])) if g[k] else "–"  # noqa: E731
    return [[name, *(mean(g, k, f) for k, f in formats.items()), f"{np.median(g['colour']):+.2f}",
             f"{1e3 * np.mean(g['warp']):.3f}", f"{np.median(g['fps']):.1f}" if g["fps"] else "–"]
            for name, g in got.items()]  # fmt: skip


CLEAN = "(the clean frames made gray, for reference)"


def _colour(got: dict, colorizer: Colorizer, light: list[np.ndarray], originals: list[np.ndarray]) -> None:
    """The colour gain and warping error of ``light`` colorized in video mode."""
    film = list(colorize_frames(colorizer, light, Steady()))
    got["colour"].append(np.mean([
        psnr(color_part(c / 255), color_part(o / 255)) - psnr(0, color_part(o / 255))
        for c, o in zip(film, originals, strict=True)]))  # fmt: skip
    got["warp"].append(warping_errors({"film": film}, originals)["film"][0])


def aged_strip(colorizer: Colorizer, restorer: Restorer, clip, path: Path) -> None:
    """Four frames of one aged clip: aged | colorized as it is | restored and colorized | original."""
    from autocolor.evaluate import contact_sheet

    _name, originals, aged, _masks = clip
    films = {k: list(colorize_frames(c, aged, Steady())) for k, c in
             (("plain", colorizer), ("restored", colorizer.with_restorer(restorer)))}  # fmt: skip
    gray = [np.repeat((a * 255 + 0.5).astype(np.uint8)[..., None], 3, 2) for a in aged]
    picks = np.linspace(len(aged) // 8, len(aged) - 1 - len(aged) // 8, 4).round().astype(int)
    rows = [[gray[i], films["plain"][i], films["restored"][i], originals[i]] for i in picks]
    labels = ["aged", "colorized as it is", "--restore, colorized", "original"]
    contact_sheet(rows, labels, height=200).save(path, quality=88)


def speed_table(colorizer: Colorizer, restorer: Restorer, videos: list[Path], frames: int, runs: int) -> str:
    """End-to-end frames per second of ``autocolor video`` (decode, restore, colour, encode) on the
    first ``frames`` frames of each video, without and with restoration; medians of ``runs``."""
    rows = []
    for path in videos:
        with av.open(str(path)) as c:
            size = f"{c.streams.video[0].width}×{c.streams.video[0].height}"
        restoring = colorizer.with_restorer(restorer)
        modes = {"no restoration": (colorizer, True), "--restore --each-frame": (restoring, False),
                 "--restore": (restoring, True)}  # fmt: skip
        fps = {
            name: throughput(c, path, Steady(), frames, runs, temporal)
            for name, (c, temporal) in modes.items()
        }
        rows += [
            [f"{path.name} ({size})", name, f"{f:.2f}", f"{f / fps['no restoration']:.2f}"]
            for name, f in fps.items()
        ]
    return "\n" + table(["video", "mode", "frames/s end to end", "ratio"], rows)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="*", type=Path, help="colour videos")
    p.add_argument("--frames", type=int, default=0, help="only the first N frames (default: all)")
    p.add_argument("--carry", type=float, nargs="+", default=[Steady().carry], help="carries to compare")
    p.add_argument(
        "--backbone", choices=BUNDLED, default=BUNDLED[0], help="bundled model (default: %(default)s)"
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs per mode, median reported (default: 3)")
    p.add_argument("--no-speed", action="store_true", help="skip the end-to-end timing")
    p.add_argument("--strip", type=Path, help="write a strip of frames: gray | per-frame | video | original "
                   "(--aged: of the last clip: aged | as it is | restored | original)")  # fmt: skip
    p.add_argument("--aged", type=Path, metavar="PHOTOS", help="old films: pans over these photos, aged")
    p.add_argument("--clips", type=int, default=8, help="--aged: pans over this many photos (default: 8)")
    p.add_argument("--seed", type=int, default=0, help="--aged: the ageing's seed (default: 0)")
    p.add_argument("--weights", help="colorizer checkpoint (default: the bundled --backbone)")
    p.add_argument("--restorer", help="--aged: restorer checkpoint (default: the bundled one)")
    p.add_argument(
        "--mirror",
        action="store_true",
        help="the colorizer's network also shown each frame's mirror image (autocolor --mirror)",
    )
    p.add_argument("--one-pass", action="store_true",
                   help="--aged: one pass of the restorer's network, not also shown each frame's mirror "
                   "image (API Restorer(mirror=False))")  # fmt: skip
    p.add_argument(
        "--engine", choices=ENGINES, default="torch", help="where the networks run (default: torch)"
    )
    a = p.parse_args()
    load = dict(engine=a.engine)
    if a.weights:
        colorizer = Colorizer.load(a.weights, mirror=a.mirror, **load)
    else:
        colorizer = Colorizer.from_pretrained(a.backbone, mirror=a.mirror, **load)
    print(f"model: {colorizer.net.config.backbone}")
    if a.aged:
        opts = dict(load, mirror=not a.one_pass)
        restorer = Restorer.load(a.restorer, **opts) if a.restorer else Restorer.from_pretrained(**opts)
        clips = list(aged_clips(a.aged, a.videos, a.clips, a.frames or 36, a.seed))
        if a.strip:
            aged_strip(colorizer, restorer, clips[-1], a.strip)
        columns = ["restoration", "lightness dB", "defect pixels dB", "flicker (share of aged)", "colour dB",
                   "colour dB, median clip", "warping error ×1e3", "restoration frames/s"]  # fmt: skip
        print(table(columns, score_aged(colorizer, restorer, clips)))
        if not a.no_speed:
            print(speed_table(colorizer, restorer, a.videos, a.frames or 60, a.runs))
        return
    print("| video | method | warping error ×1e3 | its colour part | PSNR dB | frames/s end to end |")
    print("|---|---|---|---|---|---|")
    for path in a.videos:
        originals = read_rgb(path, a.frames)
        lights = [metrics.gray(f) for f in originals]
        gray = [np.repeat((x * 255).round().astype(np.uint8)[..., None], 3, 2) for x in lights]
        modes = {"per frame": None} | {f"video mode (carry {c:g})": Steady(carry=c) for c in a.carry}
        shown = {name: list(colorize_frames(colorizer, lights, steady)) for name, steady in modes.items()}
        films = {"the originals": originals, "gray (the lightness alone)": gray} | shown
        for name, (e, c) in warping_errors(films, originals).items():
            psnr = fps = ""
            if name in modes:
                psnr = np.mean([metrics.psnr(o, r) for o, r in zip(films[name], originals, strict=True)])
                psnr = f"{psnr:.2f}"
                fps = (
                    "" if a.no_speed else f"{throughput(colorizer, path, modes[name], a.frames, a.runs):.1f}"
                )
            row = f"| {path.name} ({len(originals)} frames) | {name} | {1e3 * e:.3f} | {1e3 * c:.3f} | {psnr}"
            print(f"{row} | {fps} |", flush=True)
        if a.strip:
            from autocolor.evaluate import contact_sheet

            picks = np.linspace(0, len(originals) - 1, 4).round().astype(int)
            video = list(modes)[-1]
            rows = [[np.repeat((lights[i] * 255).astype(np.uint8)[..., None], 3, 2), shown["per frame"][i],
                     shown[video][i], originals[i]] for i in picks]  # fmt: skip
            contact_sheet(rows, ["gray", "per frame", "video mode", "original"]).save(a.strip, quality=88)
    print(f"\n{torch.get_num_threads()} threads")


if __name__ == "__main__":
    main()
