"""What the sub-commands share: one error path, the model and cluster flags, the colorizer they ask for."""

from __future__ import annotations

import argparse
import sys

from ..bundled import BUNDLED, DEFAULT_BACKBONE
from ..options import ENGINES, add_view_flag, number


def fail(msg: str, code: int = 2, command: str = "autocolor") -> int:
    """The one way a command reports an error: one line on stderr; returns the exit status."""
    print(f"{command}: error: {msg}", file=sys.stderr)
    return code


def add_model_flags(p: argparse.ArgumentParser) -> None:
    """``-w/--weights``, ``--backbone``, ``--engine``, ``--view``: which model colours and how it runs,
    for photos and films alike."""
    p.add_argument("-w", "--weights", help="checkpoint file (default: the bundled model)")
    p.add_argument("--backbone", default=DEFAULT_BACKBONE, choices=BUNDLED,
                   help=f"bundled model to use when no --weights: {' or '.join(BUNDLED)} (default "
                   f"{DEFAULT_BACKBONE}; {BUNDLED[-1]} is a little faster)")  # fmt: skip
    p.add_argument("--engine", choices=ENGINES, default="torch",
                   help="where the colorizer and restorer run: torch, onnx (ONNX Runtime, needs "
                   "autocolor[onnx]) or openvino (OpenVINO, needs autocolor[openvino]); the last two run on "
                   "the CPU, a 1 MP photo in about 0.8 and 0.6 of torch's time once its size has been seen, "
                   "1.7 s more for each new size: for batches of like scans (default torch)")  # fmt: skip
    add_view_flag(p)


def _ray_address(text: str) -> str:
    from ..cluster import address  # Ray itself is imported only when a job runs

    try:
        return address(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{err}; put --ray after the inputs") from None


def add_cluster_flags(p: argparse.ArgumentParser) -> None:
    """``--ray``, ``--workers`` and ``--threads``: where the work runs."""
    p.add_argument("--ray", nargs="?", const="local", type=_ray_address, metavar="ADDRESS",
                   help="spread the work over a Ray cluster (needs autocolor[cluster]): no ADDRESS starts a "
                   "local Ray, 'auto' or ray://HOST:PORT joins a running one; a manifest beside the outputs "
                   "lets a stopped run resume (default: off)")  # fmt: skip
    p.add_argument("--workers", type=number(1, integer=True), default=None,
                   help="with --ray: workers, each loading the model once and taking whole files (films: "
                   "whole films); default: as many as the cluster's CPUs hold at --threads each, or one "
                   "per GPU")  # fmt: skip
    p.add_argument("--threads", type=number(1, 1024, integer=True), default=None,
                   help="CPU threads per photo (with --ray: per worker); PNG bytes are the same for the same "
                   "--threads (default: this machine's cores)")  # fmt: skip


def restorer_from(args: argparse.Namespace):
    """The restorer ``--restore`` and ``--restorer`` ask for, or None."""
    if not args.restore:
        return None
    from .. import restore
    from ..pipeline import pick_device

    path, device = args.restorer or restore.WEIGHTS, pick_device(args.device)
    engine = getattr(args, "engine", "torch")
    return restore.Restorer.load(path, args.restore, require_checksum=not args.restorer, device=device,
                                 engine=engine)  # fmt: skip


def colorizer_from(args: argparse.Namespace):
    """The bundled or ``--weights`` model with the decoding and restoration the flags ask for."""
    import torch

    from ..pipeline import Colorizer

    if getattr(args, "threads", None):
        torch.set_num_threads(args.threads)
    opts = dict(size=args.size, param=args.param, boost=args.boost, fade=args.fade,
                temperature=args.temperature, device=args.device, restore=restorer_from(args),
                guided=getattr(args, "upsample", "guided") == "guided",
                seed=getattr(args, "seed", 0), engine=getattr(args, "engine", "torch"),
                view=getattr(args, "view", "restored"), mirror=getattr(args, "mirror", False))  # fmt: skip
    if args.weights:
        return Colorizer.load(args.weights, **opts)
    return Colorizer.from_pretrained(backbone=args.backbone, **opts)
