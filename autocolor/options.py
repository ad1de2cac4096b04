"""Command-line options shared by the sub-commands: argparse types that check values (bounded
numbers, processing sizes, decoding methods and ramps, restoration parts) and the option groups that
several commands declare the same way (decoding, restoration). No torch: ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import math

from .decoding import (
    BOOST,
    BOOST_RANGE,
    CHROMA_METHODS,
    DEFAULT_PARAM,
    FADE,
    HUE_METHODS,
    TEMPERATURE_RANGE,
    DecodeParam,
)


def size(text: str) -> int:
    value = int(text)
    if value < 64 or value % 32:
        raise argparse.ArgumentTypeError(f"must be a multiple of 32 and at least 64, got {value}")
    return value


DEVICE_HELP = "where the network runs: auto picks CUDA, then Apple MPS, then the CPU (default auto)"


def number(low: float, high: float = math.inf, integer: bool = False, low_open: bool = False):
    """An argparse type: a finite number in [low, high] (or (low, high] with ``low_open``)."""

    def parse(text: str):
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not a {'whole ' if integer else ''}number: {text!r}") from None
        if not math.isfinite(value) or value < low or value > high or (low_open and value == low):
            bounds = f"{'above' if low_open else 'at least'} {low:g}" + (
                f" and at most {high:g}" if math.isfinite(high) else ""
            )
            raise argparse.ArgumentTypeError(f"must be a finite number {bounds}, got {text}")
        return value

    return parse


def fade(text: str) -> tuple[float, float]:
    """``LO,HI``, checked as ``DecodeParam`` checks a fading ramp."""
    try:
        lo, hi = (float(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected LO,HI such as 0.2,0.96, got {text!r}") from None
    try:
        DecodeParam.parse(fade=(lo, hi))
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return lo, hi


def param(text: str) -> str:
    try:
        DecodeParam.parse(text)
    except ValueError as err:
        raise argparse.ArgumentTypeError(str(err)) from None
    return text


def add_decoding_flags(p: argparse.ArgumentParser) -> None:
    """``--param``, ``--boost``, ``--fade`` and ``--temperature``: how histograms become colours."""
    p.add_argument(
        "-p",
        "--param",
        type=param,
        default=DEFAULT_PARAM,
        metavar="CHROMA:HUE",
        help=f"decoding (default {DEFAULT_PARAM}); chroma: {', '.join(CHROMA_METHODS)}; "
        f"hue: {', '.join(HUE_METHODS)}",
    )
    p.add_argument(
        "--boost",
        type=number(*BOOST_RANGE),
        default=BOOST,
        help=f"saturation multiplier of the network's colours, {BOOST_RANGE[0]:g}-{BOOST_RANGE[1]:g}; "
        f"hints keep theirs (default {BOOST:g})",
    )
    p.add_argument(
        "--fade",
        type=fade,
        default=FADE,
        metavar="LO,HI",
        help="chromatic fading: chroma 0 where the hue guesses agree less than LO (resultant length), "
        f"full from HI; the released tool's is 0,0.96 (default {FADE[0]:g},{FADE[1]:g})",
    )
    p.add_argument(
        "--temperature",
        type=number(*TEMPERATURE_RANGE),
        default=1.0,
        help="annealed-mean temperature, {:g}-{:g}; below 1 sharpens the histograms (default 1: off)".format(
            *TEMPERATURE_RANGE
        ),
    )


RESTORE_PARTS = ("levels", "grain", "defects")  # restore.PARTS, without importing torch for --help


def restore_parts(text: str) -> str:
    names = [p.strip() for p in text.split(",") if p.strip()]
    if names != ["all"] and (not names or any(n not in RESTORE_PARTS for n in names)):
        raise argparse.ArgumentTypeError(f"'all' or some of {','.join(RESTORE_PARTS)}, not {text!r}")
    return ",".join(names)


RESTORE_HELP = (
    "restore an old photo before colouring it: 'all' (the default when given without PARTS) or some of "
    "levels (faded tones stretched), grain (grain removed, soft focus sharpened), defects (scratches, "
    "dust, hairs found and filled), comma-separated; the output keeps the restored lightness (default: "
    "off, the photo's own lightness kept exactly)"
)
FILM_RESTORE_HELP = (
    "restore an old film before colouring it, each frame with the frames around it: 'all' (the default "
    "when given without PARTS) or some of levels (faded tones stretched, flicker evened out), grain "
    "(grain averaged away along the motion), defects (dust on single frames filled from their "
    "neighbours, running scratches filled), comma-separated (default: off)"
)


def add_restore_flags(p: argparse.ArgumentParser, film: bool = False) -> None:
    """``--restore [PARTS]`` and ``--restorer FILE``, shared by photos and films."""
    p.add_argument("--restore", nargs="?", const="all", type=restore_parts, metavar="PARTS",
                   help=FILM_RESTORE_HELP if film else RESTORE_HELP)  # fmt: skip
    p.add_argument("--restorer", metavar="FILE", help="restorer checkpoint (default: the bundled one)")


ENGINES = ("torch", "onnx", "openvino")  # where the networks run (``engines``), torch first; no torch import
VIEWS = ("restored", "plain")  # what the colorizer's network is shown (restore.view)


def add_view_flag(p: argparse.ArgumentParser) -> None:
    """``--view`` and ``--mirror``: what the networks are shown, shared by the colorizing commands and
    ``evaluate``."""
    p.add_argument("--view", choices=VIEWS, default=VIEWS[0],
                   help="what the network is shown of a photo not restored by --restore: restored (faded "
                   "tones and uneven light corrected, for its eyes only: colours that survive age) or plain; "
                   "the output keeps the photo's own lightness either way (default restored)")  # fmt: skip
    p.add_argument("--mirror", action="store_true",
                   help="the network also looks at the photo mirrored left to right and the two "
                   "answers are averaged: a little better colour for twice the network's time "
                   "(default: off)")  # fmt: skip
