"""The ``autocolor`` command and its sub-commands, one module each.

    autocolor photo.jpg -o photo-color.png     one file                                  (colorize)
    autocolor scans/ -r -o colorized/          a folder tree, mirrored under colorized/
    autocolor old.jpg -o new.png --hint 120,80,#3060c0   steer the colour at a point
    autocolor old.jpg -o new.png --restore     restore an old print (grain, scratches, dust), then colour it
    autocolor scans/ -r -o out/ --ray auto     the same batch over a Ray cluster
    autocolor video film.mp4 -o film-color.mp4 a video, steadily, its sound kept            (video)
    autocolor data fetch DIR                   fetch the training and evaluation photo sets  (data)
    autocolor data age SRC DST                 aged twins of photos and films, with defect masks
    autocolor serve                            the web demo on http://127.0.0.1:7860        (serve)
    autocolor train PHOTOS... --out runs/x     train (see autocolor train -h)          (autocolor.train)
    autocolor train-restorer PHOTOS... --out runs/r   train the restorer      (autocolor.restore.train)
    autocolor evaluate LIST -w CKPT            score a model                        (autocolor.evaluate)
    autocolor average A.pt B.pt -o ab.pt       one model from checkpoints' mean weights (autocolor.average)
    autocolor export-backbone CKPT -o b.pt     the trained trunk alone, for other tasks (autocolor.export)

Training, evaluation and checkpoint tools keep their parser beside the code they drive. Nothing here
imports torch before the arguments are valid, so ``--help``, ``-V`` and usage errors answer at once.

Exit status: 0 if every photo was colorized, 1 if any failed (the batch goes on), 2 on a usage
error or when no model is available.
"""

from __future__ import annotations

import importlib
import signal
import sys

# sub-command -> module whose main(argv) runs it
SUBCOMMANDS = {
    "video": "autocolor.commands.video",
    "train": "autocolor.train",
    "train-restorer": "autocolor.restore.train",
    "data": "autocolor.commands.data",
    "evaluate": "autocolor.evaluate",
    "serve": "autocolor.commands.serve",
    "average": "autocolor.average",
    "export-backbone": "autocolor.export",
}


class Terminated(BaseException):
    """SIGTERM: unwinds like Ctrl-C, so that half-written temporary files are removed."""


def _on_sigterm(signum, _frame) -> None:
    raise Terminated(signum)


def main(argv: list[str] | None = None) -> int:
    """The ``autocolor`` command; Ctrl-C exits 130 and SIGTERM 143, each with one line."""
    previous = signal.signal(signal.SIGTERM, _on_sigterm)
    try:
        return dispatch(sys.argv[1:] if argv is None else list(argv))
    except KeyboardInterrupt:
        print("\nautocolor: interrupted (Ctrl-C); nothing half-written was left", file=sys.stderr)
        return 130
    except Terminated:
        print("autocolor: stopped by SIGTERM; nothing half-written was left", file=sys.stderr)
        return 143
    finally:
        signal.signal(signal.SIGTERM, previous)


def dispatch(argv: list[str]) -> int:
    """Run the sub-command ``argv[0]`` names, or colorize photos."""
    name = argv[0] if argv and argv[0] in SUBCOMMANDS else None
    module = importlib.import_module(SUBCOMMANDS[name] if name else "autocolor.commands.colorize")
    return module.main(argv[1:] if name else argv)


if __name__ == "__main__":
    sys.exit(main())
