"""``autocolor serve``: the web demo."""

from __future__ import annotations

import argparse
import importlib.util

from ..options import DEVICE_HELP, ENGINES, number
from .common import fail


def parser() -> argparse.ArgumentParser:
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
    p.add_argument("--engine", choices=ENGINES, default="torch",
                   help="where the colorizers and the restorer run: torch, onnx (needs "
                   "autocolor[onnx]) or openvino (needs autocolor[openvino]), as for autocolor --engine "
                   "(default torch)")  # fmt: skip
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
    p.add_argument("--max-memory-gb", type=number(0.1), default=4.0,
                   help="photos all visitors' sessions keep in memory together; past it, the sessions used "
                   "longest ago let go of theirs and are asked to upload again (default 4)")  # fmt: skip
    p.add_argument("--open", action="store_true", help="open the page in a browser (default: off)")
    return p


def main(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    if importlib.util.find_spec("gradio") is None:  # not imported here: serve() configures it first
        return fail("the demo needs Gradio: pip install 'autocolor[demo]'", 2, "autocolor serve")
    from .. import demo, engines
    from ..pipeline import pick_device

    try:
        if args.engine != "torch":  # said at the start, not on a visitor's first photo
            engines.runtime(args.engine, pick_device(args.device))
        models = demo.Models.find(args.weights, args.device, args.engine)
    except (FileNotFoundError, ValueError) as err:
        return fail(str(err), 2, "autocolor serve")
    try:
        demo.serve(
            models,
            args.host,
            args.port,
            int(args.max_pixels),
            args.max_upload_mb,
            args.queue_size,
            args.open,
            args.max_memory_gb,
        )
    except OSError as err:  # e.g. the port is taken
        return fail(str(err), 2, "autocolor serve")
    return 0
