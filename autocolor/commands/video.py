"""``autocolor video``: colorize films and image sequences, colour carried along the motion."""

from __future__ import annotations

import argparse
import functools
import sys
import warnings
from pathlib import Path

from tqdm import tqdm

from .. import imagefile
from ..options import DEVICE_HELP, add_decoding_flags, add_restore_flags, number, size
from .common import add_cluster_flags, add_model_flags, colorizer_from, fail


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor video",
        description="Colorize videos: colour carried along the optical flow from frame to frame, so it "
        "does not flicker; frame rate, timestamps and sound kept; H.264 output.",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="video files, or image sequences: a "
                   "pattern such as scan/%%06d.tif or a folder of frames")  # fmt: skip
    p.add_argument("-o", "--output", default="colorized", help="a video file or a frame pattern such "
                   "as out/%%06d.png (one input), or a folder (default colorized/, each IN as "
                   "NAME.mp4)")  # fmt: skip
    add_model_flags(p)
    p.add_argument(
        "-s", "--size", type=size, default=512, help="processing size, as for photos (default 512)"
    )
    add_decoding_flags(p)
    p.add_argument("--crf", type=number(0, 51, integer=True), default=18,
                   help="H.264 quality: 0 best, 51 worst (default 18)")  # fmt: skip
    p.add_argument("--lossless", action="store_true", help="lossless H.264, 4:4:4 (default: off)")
    p.add_argument("--start", type=number(0), default=0.0, help="first second to colorize (default 0)")
    p.add_argument("--end", type=number(0), default=None, help="second to stop at (default: the end)")
    p.add_argument("--fps", type=number(0.001, 1000), default=25.0,
                   help="frame rate of image sequences: their frame times and the rate of a video "
                   "made from one (default 25)")  # fmt: skip
    p.add_argument("--carry", type=number(0, 0.99), default=0.85,
                   help="how much colour each frame takes from the previous one along the flow; "
                   "0 colours every frame on its own (default 0.85)")  # fmt: skip
    p.add_argument("--reference", action="append", default=[], metavar="FILE",
                   help="a colour photo (or a still of the film in colour) whose colours are taken "
                   "wherever its content matches, in every frame; repeatable; per shot: run each shot "
                   "with --start/--end (default: none)")  # fmt: skip
    add_restore_flags(p, film=True)
    p.add_argument("--keep-partial", action="store_true",
                   help="a film cut short (it ends before its declared length): write the frames that could "
                   "be read, with a warning, instead of failing (default: off)")  # fmt: skip
    p.add_argument("--each-frame", action="store_true",
                   help="with --restore: restore every frame on its own, as a photo, without looking at "
                   "its neighbours (default: off)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace existing outputs (default: off)")
    add_cluster_flags(p)
    p.add_argument("-d", "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help=DEVICE_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar (default: off)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    try:
        from .. import video  # noqa: F401
    except ImportError as err:
        return fail(f"needs PyAV and OpenCV: pip install 'autocolor[video]' ({err})", 2, "autocolor video")
    out = Path(args.output)
    if out.suffix and len(args.inputs) > 1:
        return fail(f"-o {out} names a file, but there are {len(args.inputs)} inputs", 2, "autocolor video")
    if args.ray:
        from .. import cluster

        try:
            cluster.require()
        except cluster.ClusterError as err:
            return fail(str(err), 2, "autocolor video")
    try:
        step = film_step(args)  # also with --ray: a bad model or reference fails here, once
    except ValueError as err:
        return fail(str(err), 2, "autocolor video")
    plan = [(src, *_output(src, out, args)) for src in map(Path, args.inputs)]
    for _, _, problem in plan:
        if problem:
            fail(problem, command="autocolor video")
    todo = [(src, dst) for src, dst, problem in plan if not problem]
    failed = _cluster_films(todo, args) if args.ray else sum(not _done(step(src, dst)) for src, dst in todo)
    return 1 if failed or len(todo) < len(plan) else 0


def film_step(args: argparse.Namespace):
    """The one-film step: ``step(src, dst)`` colorizes a film; None when done, else the error."""
    from .. import video
    from ..model import CheckpointError
    from ..pipeline import ModelNotAvailable

    try:
        colorizer = colorizer_from(args)
    except (ModelNotAvailable, CheckpointError) as err:
        raise ValueError(str(err)) from None
    try:
        refs = [colorizer.reference(imagefile.to_rgb(r)) for r in args.reference]
    except (imagefile.ImageError, ValueError) as err:
        raise ValueError(f"--reference {err}") from None
    steady = video.Steady(carry=args.carry) if args.carry > 0 else None
    clip = video.Clip(args.start, args.end, args.fps, args.crf, args.lossless, args.keep_partial)
    return functools.partial(_film, colorizer, steady=steady, clip=clip, refs=refs, args=args)


def _output(src: Path, out: Path, args: argparse.Namespace) -> tuple[Path, str | None]:
    """Where a film goes, and why it must not be written there (None when it may)."""
    from ..video import sequence

    name = src.parent.name if sequence.is_sequence(src) and not src.is_dir() else src.stem
    dst = out if out.suffix else out / (name + ".mp4")
    try:
        exists = sequence.existing(dst) if sequence.is_sequence(dst) else dst.exists()
    except sequence.SequenceError as err:
        return dst, f"-o {err}"
    return dst, f"{dst} exists (use --overwrite)" if exists and not args.overwrite else None


def _film(colorizer, src: Path, dst: Path, steady, clip, refs, args: argparse.Namespace) -> str | None:
    """One video or image sequence; None when done, else the one-line error. A film cut short is
    written with a warning when ``--keep-partial`` asks for it."""
    from .. import video
    from ..video import sequence

    dst.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(unit="frame", desc=src.name, disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", video.PartialFilm)
            n = video.colorize_any(
                colorizer, src, dst, steady, clip, bar.update, refs, temporal=not args.each_frame
            )
    except (video.VideoError, sequence.SequenceError, imagefile.ImageError, OSError) as err:
        return str(err)
    finally:
        bar.close()
    for w in caught:
        if issubclass(w.category, video.PartialFilm):
            print(f"autocolor video: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not args.quiet:
        print(f"Colorized: {src} -> {dst} ({n} frames)")
    return None


def _done(error: str | None) -> bool:
    if error:
        fail(error, command="autocolor video")
    return not error


def _cluster_films(todo: list[tuple[Path, Path]], args: argparse.Namespace) -> int:
    """Whole films over a Ray cluster, one worker per film at a time; the number that failed."""
    import torch

    from .. import cluster

    manifest = cluster.manifest_for(args.output)
    tasks = [cluster.Task.plan(src, dst) for src, dst in todo if not manifest.done(src, dst)]
    failed: list[str] = []

    def report(msg: str) -> None:
        fail(msg, command="autocolor video")
        failed.append(msg)

    worker_args = argparse.Namespace(**{**vars(args), "quiet": True})  # one progress bar: the driver's
    worker_args.threads = args.threads or torch.get_num_threads()
    try:
        step = functools.partial(film_step, worker_args)
        cluster.batch(tasks, step, args.ray, worker_args.threads, args.workers, manifest, args.quiet, report)
    except cluster.ClusterError as err:
        fail(str(err), 1, "autocolor video")
        return len(tasks)
    return len(failed)
