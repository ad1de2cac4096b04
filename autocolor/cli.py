"""The ``autocolor`` command: colorize photos, and the ``train``, ``data`` and ``evaluate`` sub-commands.

    autocolor photo.jpg -o photo-color.png     one file
    autocolor scans/ -r -o colorized/          a folder tree, mirrored under colorized/
    autocolor old.jpg -o new.png --hint 120,80,#3060c0   steer the colour at a point
    autocolor video film.mp4 -o film-color.mp4 a video, steadily, its sound kept
    autocolor old.jpg -o new.png --restore     restore an old print (grain, scratches, dust), then colour it
    autocolor train PHOTOS... --out runs/x     train (see autocolor train -h)
    autocolor train-restorer PHOTOS... --out runs/r   train the old-photo restorer
    autocolor data fetch DIR                   fetch the training and evaluation photo sets
    autocolor data age SRC DST                 aged twins of photos and films, with defect masks
    autocolor serve                            the web demo on http://127.0.0.1:7860
    autocolor average A.pt B.pt -o ab.pt       one model from several checkpoints' mean weights
    autocolor export-backbone CKPT -o b.pt     the trained trunk alone, for other tasks

Exit status: 0 if every photo was colorized, 1 if any failed (the batch goes on), 2 on a usage
error or when no model is available.
"""

from __future__ import annotations

import argparse
import glob
import importlib.util
import os
import signal
import sys
import time
import warnings
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from . import __version__, bundled, io
from .bundled import BUNDLED, DEFAULT_BACKBONE
from .options import DEVICE_HELP, add_decoding_flags, add_restore_flags, number, size

SUBCOMMANDS = ("video", "train", "train-restorer", "data", "evaluate", "serve", "average", "export-backbone")


def _hint(text: str):
    from .evidence.hints import HintError, parse  # imports torch: only when hints are given

    try:
        return parse(text)
    except HintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def add_model_flags(p: argparse.ArgumentParser) -> None:
    """``-w/--weights`` and ``--backbone``: which model colours, for photos and films alike."""
    p.add_argument("-w", "--weights", help="checkpoint file (default: the bundled model)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, choices=BUNDLED,
                   help=f"bundled model to use when no --weights: {' or '.join(BUNDLED)} (default "
                   f"{DEFAULT_BACKBONE}; {BUNDLED[-1]} is a little faster)")  # fmt: skip


def colorize_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor",
        description="Colorize grayscale photos automatically (Larsson et al., ECCV 2016). "
        f"Sub-commands: {', '.join(SUBCOMMANDS)} (autocolor SUB -h).",
    )
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files, folders or glob patterns")
    p.add_argument(
        "-o",
        "--output",
        default="colorized",
        help="output file (one input) or folder (default: colorized/); a file's format follows its extension",
    )
    p.add_argument("-r", "--recursive", action="store_true", help="descend into sub-folders (default: off)")
    add_model_flags(p)
    p.add_argument(
        "-s",
        "--size",
        type=size,
        default=512,
        help="processing size as in autocolorize: "
        "shorter side size/2, longer side at most size-12, never upscaled (default 512)",
    )
    add_decoding_flags(p)
    p.add_argument(
        "--hint",
        action="append",
        type=_hint,
        default=[],
        metavar="X,Y,COLOUR",
        help="the colour at pixel (X, Y) of the photo as seen, e.g. 120,80,#3060c0 or 120,80,red; "
        "spread to the region it falls in; repeat for more (default: none)",
    )
    p.add_argument(
        "--hints",
        metavar="FILE",
        help='hints from a JSON file: [{"x": 120, "y": 80, "color": "#3060c0"}, '
        '{"points": [[x, y], ...], "color": "red"}] (default: none)',
    )
    p.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="FILE",
        help="a colour photo whose colours are taken where its content matches (same place, same "
        "kind of thing); repeat for several (default: none)",
    )
    add_restore_flags(p)
    p.add_argument(
        "--upsample",
        choices=("guided", "bilinear"),
        default="guided",
        help="how colour reaches full resolution (default: guided by the photo's lightness)",
    )
    p.add_argument("-d", "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help=DEVICE_HELP)
    p.add_argument(
        "-f",
        "--format",
        choices=("png", "jpg", "webp", "tiff"),
        default="png",
        help="output format when -o is a folder (default png)",
    )
    p.add_argument(
        "--quality",
        type=number(1, 100, integer=True),
        default=95,
        help="JPEG/WebP quality, 1-100 (default 95)",
    )
    p.add_argument(
        "--skip-existing", action="store_true", help="leave outputs that already exist (default: refuse them)"
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace existing outputs, even an input (default: off)"
    )
    p.add_argument(
        "--max-pixels",
        type=number(1),
        default=io.DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {io.DEFAULT_MAX_PIXELS / 1e6:.0f}e6)",
    )
    p.add_argument("--seed", type=number(0, 2**63 - 1, integer=True), default=0,
                   help="seed for the sampling decoders, 0 to 2**63-1 (default 0)")  # fmt: skip
    p.add_argument(
        "-q", "--quiet", action="store_true", help="no progress bar or per-file lines (default: off)"
    )
    p.add_argument("-v", "--verbose", action="store_true", help="print sizes and timings (default: off)")
    p.add_argument("-V", "--version", action="version",
                   version=f"autocolor {__version__} (bundled models: {bundled.describe()})")  # fmt: skip
    return p


def expand_inputs(inputs: list[str], recursive: bool) -> tuple[list[tuple[Path, Path]], list[str]]:
    """(file, path relative to the output folder) for every input, and errors for missing ones."""
    found, errors = [], []
    for item in inputs:
        paths = [Path(item)]
        if not Path(item).exists() and glob.has_magic(item):
            paths = [Path(p) for p in sorted(glob.glob(item, recursive=recursive))]
            if not paths:
                errors.append(f"{item}: no file matches this pattern")
        for p in paths:
            if p.is_dir():
                it = p.rglob("*") if recursive else p.glob("*")
                files = sorted(f for f in it if f.is_file() and f.suffix.lower() in io.IMAGE_SUFFIXES)
                found += [(f, f.relative_to(p)) for f in files]
            elif p.exists():
                found.append((p, Path(p.name)))
            else:
                errors.append(f"{p}: no such file or folder")
    return found, errors


def plan_outputs(files: list[tuple[Path, Path]], output: str, fmt: str) -> list[tuple[Path, Path]]:
    """Pair each input with its output path; ``output`` is a file only for a single input."""
    out = Path(output)
    if out.suffix and not out.is_dir():
        if len(files) != 1:
            raise ValueError(f"-o {output} names a file, but there are {len(files)} inputs; give a folder")
        io.output_format(out)
        return [(files[0][0], out)]
    ext = "." + fmt
    return [(src, out / rel.with_suffix(ext)) for src, rel in files]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def _fail(msg: str, code: int = 2, command: str = "autocolor") -> int:
    """The one way a command reports an error: one line on stderr; returns the exit status."""
    print(f"{command}: error: {msg}", file=sys.stderr)
    return code


def colorize_main(argv: list[str]) -> int:
    args = colorize_parser().parse_args(argv)
    from .evidence.hints import HintError  # torch only once args are valid
    from .model import CheckpointError
    from .pipeline import ModelNotAvailable

    try:
        hints = _hints(args)
    except HintError as err:
        return _fail(str(err))
    files, errors = expand_inputs(args.inputs, args.recursive)
    for e in errors:  # missing inputs: reported, and the rest goes on
        print(f"autocolor: error: {e}", file=sys.stderr)
    if not files:
        return 1 if errors else _fail("no image files found in the given inputs", 1)
    try:
        pairs = plan_outputs(files, args.output, args.format)
        colorizer = _colorizer(args)
    except (ModelNotAvailable, CheckpointError, ValueError, io.ImageError) as err:
        return _fail(str(err))
    try:
        references = [colorizer.reference(io.to_rgb(r, int(args.max_pixels))) for r in args.reference]
    except (io.ImageError, ValueError) as err:
        return _fail(f"--reference {err}")
    return _batch(colorizer, pairs, args, {"hints": hints, "references": references}, errors)


def _hints(args: argparse.Namespace) -> list:
    """``--hint`` and ``--hints FILE`` together."""
    from .evidence import hints as hint_lib

    return list(args.hint) + (hint_lib.load(args.hints) if args.hints else [])


def _restorer(args: argparse.Namespace):
    """The restorer ``--restore`` and ``--restorer`` ask for, or None."""
    if not args.restore:
        return None
    from . import restore
    from .pipeline import pick_device

    path, device = args.restorer or restore.WEIGHTS, pick_device(args.device)
    return restore.Restorer.load(path, args.restore, require_checksum=not args.restorer, device=device)


def _colorizer(args: argparse.Namespace):
    """The bundled or ``--weights`` model with the decoding the flags ask for."""
    from .pipeline import Colorizer

    opts = dict(size=args.size, param=args.param, boost=args.boost, fade=args.fade,
                temperature=args.temperature, device=args.device, guided=args.upsample == "guided",
                seed=args.seed)  # fmt: skip
    opts["restore"] = _restorer(args)
    if args.weights:
        colorizer = Colorizer.load(args.weights, **opts)
    else:
        colorizer = Colorizer.from_pretrained(backbone=args.backbone, **opts)
    if args.verbose:
        cfg, dp = colorizer.net.config, colorizer.decode_param
        print(f"model: {cfg.backbone}, head {cfg.head}, device {colorizer.device}, size {args.size}, "
              f"param {dp}, fade {dp.fade[0]:g},{dp.fade[1]:g}, boost {dp.boost:g}",
              file=sys.stderr)  # fmt: skip
    return colorizer


def _output_problem(src: Path, dst: Path, seen: dict[Path, Path], args: argparse.Namespace) -> str | None:
    """Why ``dst`` must not be written ("skip" for --skip-existing), or None."""
    key = dst.resolve()
    if key in seen:
        return f"{src}: output {dst} would also be written for {seen[key]}; rename one"
    seen[key] = src
    if dst.exists() and not args.overwrite:
        if args.skip_existing:
            return "skip"
        what = "is the input" if _same_file(src, dst) else "exists"
        return f"{src}: output {dst} {what} (use --overwrite or --skip-existing)"
    return None


def _colorize_one(colorizer, src: Path, dst: Path, args: argparse.Namespace, steering: dict) -> None:
    from .pipeline import processing_size

    dst.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    colorizer.colorize_file(src, dst, quality=args.quality, max_pixels=int(args.max_pixels), **steering)
    if args.verbose:
        with Image.open(dst) as im:
            w, h = im.size
        ph, pw = processing_size(h, w, args.size)
        tqdm.write(f"{src}: {w}x{h}, network input {pw}x{ph} (padded to a multiple of 32), "
                   f"{time.perf_counter() - start:.2f} s", file=sys.stderr)  # fmt: skip


def _batch(colorizer, pairs: list[tuple[Path, Path]], args, steering: dict, errors: list[str]) -> int:
    """Colorize every (input, output) pair, going on past failures; the exit status."""

    def report(msg: str) -> None:
        errors.append(msg)
        tqdm.write(f"autocolor: error: {msg}", file=sys.stderr)

    seen: dict[Path, Path] = {}
    done = skipped = 0
    bar = tqdm(pairs, unit="photo", disable=args.quiet or len(pairs) < 2, file=sys.stderr, dynamic_ncols=True)
    for src, dst in bar:
        problem = _output_problem(src, dst, seen, args)
        if problem == "skip":
            skipped += 1
        elif problem is not None:
            report(problem)
        if problem is not None:
            continue
        try:
            _colorize_one(colorizer, src, dst, args, steering)
        except (io.ImageError, OSError, ValueError, MemoryError) as err:
            report(str(err) if isinstance(err, io.ImageError) else f"{src}: {err}")
            continue
        except Exception as err:  # a bug: one line, and the batch goes on
            first = (str(err).strip().splitlines() or [""])[0]
            report(f"{src}: unexpected error ({type(err).__name__}: {first}); please report it")
            continue
        done += 1
        if not args.quiet and len(pairs) < 2:
            print(f"Colorized: {src} -> {dst}")
    if not args.quiet and len(pairs) > 1:
        print(f"{done} colorized, {skipped} skipped, {len(errors)} failed -> {args.output}", file=sys.stderr)
    return 1 if errors else 0


def data_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="autocolor data", description="Photo sets for training and evaluation.")
    sub = p.add_subparsers(dest="action", required=True)
    f = sub.add_parser("fetch", help="download the freely licensed photo sets (Debian, PyPI)")
    f.add_argument("dest", help="folder to fill: DEST/train, DEST/val, DEST/eval and DEST/manifest.csv")
    f.add_argument(
        "--split",
        choices=("train", "val", "eval", "all"),
        default="all",
        help="which split to fetch: train, val (to choose settings), eval (to report) or all (default: all)",
    )
    f.add_argument(
        "--package", action="append", default=[], help="only this source package (repeatable; default: all)"
    )
    a = sub.add_parser("age", help="write aged gray twins of a photo folder, with their defect masks")
    a.add_argument("src", help="folder of clean photos and films (searched recursively; films become "
                   "aged image sequences)")  # fmt: skip
    a.add_argument("dst", help="folder to fill: DST/images, DST/masks and DST/manifest.csv")
    a.add_argument("--seed", type=number(0, 2**63 - 1, integer=True), default=0,
                   help="seed of the old-print model (default 0): the same seed, the same twins")  # fmt: skip
    return p


def data_main(argv: list[str]) -> int:
    args = data_parser().parse_args(argv)
    from . import data

    if args.action == "age":
        from .data import twins

        if not Path(args.src).is_dir():
            return _fail(f"{args.src}: no such folder", 2)
        return 1 if twins.age_folder(args.src, args.dst, args.seed) else 0
    try:
        splits = data.SPLITS if args.split == "all" else (args.split,)
        data.fetch(args.dest, splits, packages=tuple(args.package))
    except data.FetchError as err:
        return _fail(str(err), 1, "autocolor data")
    return 0


def serve_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor serve",
        description="The web demo: drop photos into a page and see them colorized (needs autocolor[demo]).",
    )
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1: this machine)")
    p.add_argument("--port", type=number(1, 65535, integer=True), default=7860, help="port (default 7860)")
    p.add_argument(
        "-w",
        "--weights",
        action="append",
        default=[],
        help="a checkpoint to offer beside the bundled models (repeatable; default: none)",
    )
    p.add_argument("-d", "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help=DEVICE_HELP)
    p.add_argument("--max-pixels", type=number(1), default=50e6, help="refuse larger photos (default 50e6)")
    p.add_argument(
        "--max-upload-mb",
        type=number(0, low_open=True),
        default=50,
        help="refuse larger uploads (default 50 MB)",
    )
    p.add_argument(
        "--queue-size",
        type=number(1, integer=True),
        default=32,
        help="requests waiting at most (default 32)",
    )
    p.add_argument("--open", action="store_true", help="open the page in a browser (default: off)")
    return p


def serve_main(argv: list[str]) -> int:
    args = serve_parser().parse_args(argv)
    if importlib.util.find_spec("gradio") is None:  # not imported here: serve() configures it first
        print("autocolor serve: error: the demo needs Gradio: pip install 'autocolor[demo]'", file=sys.stderr)
        return 2
    from . import demo

    try:
        models = demo.Models.find(args.weights, args.device)
    except (FileNotFoundError, ValueError) as err:
        return _fail(str(err), 2, "autocolor serve")
    try:
        demo.serve(
            models,
            args.host,
            args.port,
            int(args.max_pixels),
            args.max_upload_mb,
            args.queue_size,
            args.open,
        )
    except OSError as err:  # e.g. the port is taken
        return _fail(str(err), 2, "autocolor serve")
    return 0


def video_parser() -> argparse.ArgumentParser:
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
    p.add_argument("-d", "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto", help=DEVICE_HELP)
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar (default: off)")
    return p


def video_main(argv: list[str]) -> int:
    args = video_parser().parse_args(argv)
    from .model import CheckpointError
    from .pipeline import Colorizer, ModelNotAvailable

    try:
        from . import video
    except ImportError as err:
        return _fail(f"needs PyAV and OpenCV: pip install 'autocolor[video]' ({err})", 2, "autocolor video")
    out = Path(args.output)
    if out.suffix and len(args.inputs) > 1:
        return _fail(f"-o {out} names a file, but there are {len(args.inputs)} inputs", 2, "autocolor video")
    try:
        opts = dict(size=args.size, param=args.param, boost=args.boost, fade=args.fade,
                    temperature=args.temperature, device=args.device, restore=_restorer(args))  # fmt: skip
        colorizer = (
            Colorizer.load(args.weights, **opts)
            if args.weights
            else Colorizer.from_pretrained(backbone=args.backbone, **opts)
        )
    except (ModelNotAvailable, CheckpointError, ValueError) as err:
        return _fail(str(err), 2, "autocolor video")
    try:
        refs = [colorizer.reference(io.to_rgb(r)) for r in args.reference]
    except (io.ImageError, ValueError) as err:
        return _fail(f"--reference {err}", 2, "autocolor video")
    steady = video.Steady(carry=args.carry) if args.carry > 0 else None
    clip = video.Clip(args.start, args.end, args.fps, args.crf, args.lossless, args.keep_partial)
    failed = 0
    for src in map(Path, args.inputs):
        failed += not _colorize_film(colorizer, src, out, steady, clip, refs, args)
    return 1 if failed else 0


def _colorize_film(colorizer, src: Path, out: Path, steady, clip, refs, args: argparse.Namespace) -> bool:
    """One video or image sequence of ``autocolor video``; False (after one line) when it failed."""
    from . import video
    from .video import sequence

    name = src.parent.name if sequence.is_sequence(src) and not src.is_dir() else src.stem
    dst = out if out.suffix else out / (name + ".mp4")
    try:
        exists = sequence.existing(dst) if sequence.is_sequence(dst) else dst.exists()
    except sequence.SequenceError as err:
        _fail(f"-o {err}", command="autocolor video")
        return False
    if exists and not args.overwrite:
        _fail(f"{dst} exists (use --overwrite)", command="autocolor video")
        return False
    dst.parent.mkdir(parents=True, exist_ok=True)
    bar = tqdm(unit="frame", desc=src.name, disable=args.quiet, file=sys.stderr, dynamic_ncols=True)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", video.PartialFilm)
            n = video.colorize_any(
                colorizer, src, dst, steady, clip, bar.update, refs, temporal=not args.each_frame
            )
    except (video.VideoError, sequence.SequenceError, io.ImageError, OSError) as err:
        _fail(str(err), command="autocolor video")
        return False
    finally:
        bar.close()
    for w in caught:
        if issubclass(w.category, video.PartialFilm):
            print(f"autocolor video: warning: {w.message}", file=sys.stderr)
        else:
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    if not args.quiet:
        print(f"Colorized: {src} -> {dst} ({n} frames)")
    return True


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so that half-written temporary files are removed."""


def _on_sigterm(signum, _frame) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    """The ``autocolor`` command; Ctrl-C exits 130 and SIGTERM 143, each with one line."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return _dispatch(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        print("\nautocolor: interrupted (Ctrl-C); nothing half-written was left", file=sys.stderr)
        return 130
    except Terminated:
        print("autocolor: stopped by SIGTERM; nothing half-written was left", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def _dispatch(argv: list[str]) -> int:
    if argv and argv[0] == "train":
        from . import train

        return train.main(argv[1:])
    if argv and argv[0] == "train-restorer":
        from .restore import train as restore_train

        return restore_train.main(argv[1:])
    if argv and argv[0] == "data":
        return data_main(argv[1:])
    if argv and argv[0] == "evaluate":
        from . import evaluate

        return evaluate.main(argv[1:])
    if argv and argv[0] == "serve":
        return serve_main(argv[1:])
    if argv and argv[0] == "video":
        return video_main(argv[1:])
    if argv and argv[0] == "average":
        from . import average

        return average.main(argv[1:])
    if argv and argv[0] == "export-backbone":
        from . import export

        return export.main(argv[1:])
    return colorize_main(argv)


if __name__ == "__main__":
    sys.exit(main())
