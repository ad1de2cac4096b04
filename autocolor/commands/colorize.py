"""``autocolor IN... -o OUT``: colorize photos, files or folder trees, here or over a Ray cluster."""

from __future__ import annotations

import argparse
import functools
import glob
import os
import sys
import time
from pathlib import Path

from PIL import Image
from tqdm import tqdm

from .. import __version__, bundled, imagefile
from ..options import DEVICE_HELP, add_decoding_flags, add_restore_flags, number, size
from . import SUBCOMMANDS
from .common import add_cluster_flags, add_model_flags, colorizer_from, fail


def _hint(text: str):
    from ..evidence.hints import HintError, parse  # imports torch: only when hints are given

    try:
        return parse(text)
    except HintError as err:
        raise argparse.ArgumentTypeError(str(err)) from None


def parser() -> argparse.ArgumentParser:
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
        default=imagefile.DEFAULT_MAX_PIXELS,
        help=f"refuse larger images (default {imagefile.DEFAULT_MAX_PIXELS / 1e6:.0f}e6)",
    )
    p.add_argument("--seed", type=number(0, 2**63 - 1, integer=True), default=0,
                   help="seed for the sampling decoders, 0 to 2**63-1 (default 0)")  # fmt: skip
    add_cluster_flags(p)
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
                files = sorted(f for f in it if f.is_file() and f.suffix.lower() in imagefile.IMAGE_SUFFIXES)
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
        imagefile.output_format(out)
        return [(files[0][0], out)]
    ext = "." + fmt
    return [(src, out / rel.with_suffix(ext)) for src, rel in files]


def _same_file(a: Path, b: Path) -> bool:
    try:
        return b.exists() and os.path.samefile(a, b)
    except OSError:
        return False


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    import torch  # only once args are valid

    from ..evidence.hints import HintError
    from ..model import CheckpointError
    from ..pipeline import ModelNotAvailable

    try:
        args.hint, args.hints = _hints(args), None
    except HintError as err:
        return fail(str(err))
    if args.ray:
        from .. import cluster

        try:
            cluster.require()
        except cluster.ClusterError as err:
            return fail(str(err))
    files, errors = expand_inputs(args.inputs, args.recursive)
    for e in errors:  # missing inputs: reported, and the rest goes on
        print(f"autocolor: error: {e}", file=sys.stderr)
    if not files:
        return 1 if errors else fail("no image files found in the given inputs", 1)
    try:
        pairs = plan_outputs(files, args.output, args.format)
        colorizer = colorizer_from(args)  # also with --ray: a bad model or reference fails here, once
        if args.verbose:
            _describe(colorizer, args)
    except (ModelNotAvailable, CheckpointError, ValueError, imagefile.ImageError) as err:
        return fail(str(err))
    try:
        steering = _steering(colorizer, args)
    except (imagefile.ImageError, ValueError) as err:
        return fail(f"--reference {err}")
    if args.ray:
        args.threads = args.threads or torch.get_num_threads()  # workers compute as this process would
        return _cluster_batch(pairs, args, errors)
    return _batch(colorizer, pairs, args, steering, errors)


def _steering(colorizer, args: argparse.Namespace) -> dict:
    """The hints and reference photos every photo of the batch is steered by."""
    references = [colorizer.reference(imagefile.to_rgb(r, int(args.max_pixels))) for r in args.reference]
    return {"hints": args.hint, "references": references}


def _hints(args: argparse.Namespace) -> list:
    """``--hint`` and ``--hints FILE`` together."""
    from ..evidence import hints as hint_lib

    return list(args.hint) + (hint_lib.load(args.hints) if args.hints else [])


def _describe(colorizer, args: argparse.Namespace) -> None:
    cfg, dp = colorizer.net.config, colorizer.decode_param
    print(
        f"model: {cfg.backbone}, head {cfg.head}, device {colorizer.device}, size {args.size}, "
        f"param {dp}, fade {dp.fade[0]:g},{dp.fade[1]:g}, boost {dp.boost:g}",
        file=sys.stderr,
    )


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
    from ..pipeline import processing_size

    dst.parent.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    colorizer.colorize_file(src, dst, quality=args.quality, max_pixels=int(args.max_pixels), **steering)
    if args.verbose:
        with Image.open(dst) as im:
            w, h = im.size
        ph, pw = processing_size(h, w, args.size)
        tqdm.write(f"{src}: {w}x{h}, network input {pw}x{ph} (padded to a multiple of 32), "
                   f"{time.perf_counter() - start:.2f} s", file=sys.stderr)  # fmt: skip


def _one_file(colorizer, src: Path, dst: Path, args: argparse.Namespace, steering: dict) -> str | None:
    """Colorize one photo; None when done, else the one-line error (a batch goes on past it)."""
    try:
        _colorize_one(colorizer, src, dst, args, steering)
    except (imagefile.ImageError, OSError, ValueError, MemoryError) as err:
        return str(err) if isinstance(err, imagefile.ImageError) else f"{src}: {err}"
    except Exception as err:  # a bug: one line, and the batch goes on
        first = (str(err).strip().splitlines() or [""])[0]
        return f"{src}: unexpected error ({type(err).__name__}: {first}); please report it"
    return None


def photo_step(args: argparse.Namespace):
    """A cluster worker's one-photo step: the same model, steering and writing as the plain command."""
    colorizer = colorizer_from(args)
    return functools.partial(_one_file, colorizer, args=args, steering=_steering(colorizer, args))


def _batch(colorizer, pairs: list[tuple[Path, Path]], args, steering: dict, errors: list[str]) -> int:
    """Colorize every (input, output) pair, going on past failures; the exit status."""
    seen: dict[Path, Path] = {}
    done = skipped = 0
    bar = tqdm(pairs, unit="photo", disable=args.quiet or len(pairs) < 2, file=sys.stderr, dynamic_ncols=True)
    for src, dst in bar:
        problem = _output_problem(src, dst, seen, args)
        if problem == "skip":
            skipped += 1
            continue
        error = problem or _one_file(colorizer, src, dst, args, steering)
        if error:
            _report(error, errors)
            continue
        done += 1
        if not args.quiet and len(pairs) < 2:
            print(f"Colorized: {src} -> {dst}")
    return _summary(done, skipped, len(pairs), args, errors)


def _report(msg: str, errors: list[str]) -> None:
    errors.append(msg)
    tqdm.write(f"autocolor: error: {msg}", file=sys.stderr)


def _summary(done: int, skipped: int, total: int, args: argparse.Namespace, errors: list[str]) -> int:
    if not args.quiet and total > 1:
        print(f"{done} colorized, {skipped} skipped, {len(errors)} failed -> {args.output}", file=sys.stderr)
    return 1 if errors else 0


def _cluster_batch(pairs: list[tuple[Path, Path]], args: argparse.Namespace, errors: list[str]) -> int:
    """The batch over a Ray cluster: what the manifest marks done is left, the rest spread over workers."""
    from .. import cluster

    manifest = cluster.manifest_for(args.output)
    tasks, seen, skipped, done = [], {}, 0, 0
    for src, dst in pairs:
        if manifest.done(src, dst):
            seen[dst.resolve()], done = src, done + 1
            continue
        problem = _output_problem(src, dst, seen, args)
        if problem == "skip":
            skipped += 1
            manifest.write(cluster.Task.plan(src, dst).row("skipped", "output exists"))
        elif problem:
            manifest.write(cluster.Task.plan(src, dst).row("failed", problem))
            _report(problem, errors)
        if problem:
            continue
        tasks.append(cluster.Task.plan(src, dst, cluster.photo_megapixels(src)))
    if done and not args.quiet:
        print(f"{done} already done ({manifest.path}); {len(tasks)} to do", file=sys.stderr)
    step = functools.partial(photo_step, args)
    try:
        done += cluster.batch(tasks, step, args.ray, args.threads, args.workers, manifest, args.quiet,
                              lambda msg: _report(msg, errors))  # fmt: skip
    except cluster.ClusterError as err:
        return fail(str(err), 1)
    return _summary(done, skipped, len(pairs), args, errors)
