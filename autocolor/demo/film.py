"""The demo's video tab: a short clip in, the same clip colorized steadily, its sound kept.

The logic only (no Gradio): the page hands an uploaded file here. Clips are capped so that one
visitor cannot hold the network for long: the first ``MAX_SECONDS`` seconds are colorized (counted
in frames, so that a stream without timestamps cannot pass), and a clip with any frame larger than
``MAX_FRAME_PIXELS`` is refused, whatever size it declares (``autocolor video`` has no such limits).
"""

from __future__ import annotations

import importlib.util
import tempfile
import threading
from pathlib import Path

from ..pipeline import Colorizer
from ..video import Clip, Steady, VideoError, colorize_video  # PyAV and OpenCV are imported when used
from ..video.files import frame_rate

MAX_SECONDS = 20.0
MAX_RATE = 60.0  # frames a second counted towards MAX_SECONDS (frames, not timestamps, are counted)
MAX_FRAME_PIXELS = 1280 * 720


def available() -> bool:
    """Whether the video extra (PyAV, OpenCV) is installed."""
    return all(importlib.util.find_spec(m) is not None for m in ("av", "cv2"))


def _probe(src: Path) -> tuple[int, int, float | None, float]:
    """(width, height, duration in seconds or None, frames a second) of a clip's first video stream."""
    import av

    try:
        with av.open(str(src)) as c:
            if not c.streams.video:
                raise VideoError(f"{src.name}: has no video stream")
            vs = c.streams.video[0]
            seconds = float(c.duration) / 1e6 if c.duration else None
            return vs.width, vs.height, seconds, frame_rate(vs)
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{src.name}: not a video FFmpeg can read ({type(err).__name__})") from None


def colorize_clip(colorizer: Colorizer, src: str | Path, root: Path, carry: float = 0.85,
                  stop: threading.Event | None = None) -> tuple[Path, str]:  # fmt: skip
    """Colorize the start of clip ``src`` into a new folder under ``root``; (the MP4, a status line).
    Raises ``VideoError`` with a one-line message for a file that is not a usable clip, or after the
    frame in progress once ``stop`` is set (the server is shutting down)."""
    src = Path(src)
    width, height, seconds, rate = _probe(src)
    if width * height > MAX_FRAME_PIXELS:
        raise VideoError(f"{src.name}: {width}x{height} frames are larger than this demo takes "
                         "(1280x720); use the command `autocolor video`")  # fmt: skip
    root.mkdir(parents=True, exist_ok=True)
    dst = Path(tempfile.mkdtemp(prefix="video-", dir=root)) / f"{src.stem}-colorized.mp4"
    clip = Clip(
        end=MAX_SECONDS, max_frames=int(MAX_SECONDS * min(rate, MAX_RATE)), max_frame_pixels=MAX_FRAME_PIXELS
    )

    def check(_frames: int) -> None:
        if stop is not None and stop.is_set():
            raise VideoError(f"{src.name}: stopped, the server is shutting down")

    n = colorize_video(colorizer, src, dst, Steady(carry=carry) if carry > 0 else None, clip, progress=check)
    cut = seconds is not None and seconds > MAX_SECONDS
    return dst, f"**{n}** frames colorized" + (
        f" (the first {MAX_SECONDS:g} s of {seconds:.0f} s)" if cut else ""
    )
