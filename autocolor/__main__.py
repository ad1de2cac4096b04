"""The ``autocolor`` command's entry point (also ``python -m autocolor``): Ctrl-C and SIGTERM end in
one line even while the command is still starting, before ``commands`` has set its own handlers."""

import signal
import sys


def _terminated(signum, frame):
    print("autocolor: stopped by SIGTERM while starting", file=sys.stderr)
    raise SystemExit(143)


def run() -> int:
    signal.signal(signal.SIGTERM, _terminated)
    try:
        from .commands import main
    except KeyboardInterrupt:
        print("\nautocolor: interrupted (Ctrl-C) while starting", file=sys.stderr)
        return 130
    return main()


if __name__ == "__main__":
    sys.exit(run())
