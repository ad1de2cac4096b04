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

from autocolor import Colorizer, metrics
from autocolor.pipeline import BUNDLED
from autocolor.video import Steady, colorize_frames, colorize_video


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


def throughput(colorizer: Colorizer, path: Path, steady: Steady | None, limit: int, runs: int = 3) -> float:
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
            n = colorize_video(colorizer, path, Path(tmp) / "out.mp4", steady=steady, end=end)
            rates.append(n / (time.perf_counter() - t))
    return float(np.median(rates))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("videos", nargs="+", type=Path, help="colour videos")
    p.add_argument("--frames", type=int, default=0, help="only the first N frames (default: all)")
    p.add_argument("--carry", type=float, nargs="+", default=[Steady().carry], help="carries to compare")
    p.add_argument(
        "--backbone", choices=BUNDLED, default=BUNDLED[0], help="bundled model (default: %(default)s)"
    )
    p.add_argument("--runs", type=int, default=3, help="timed runs per mode, median reported (default: 3)")
    p.add_argument("--no-speed", action="store_true", help="skip the end-to-end timing")
    p.add_argument("--strip", type=Path, help="write a strip of frames: gray | per-frame | video | original")
    a = p.parse_args()
    colorizer = Colorizer.from_pretrained(a.backbone)
    print(f"model: {colorizer.net.config.backbone}")
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
