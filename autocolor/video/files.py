"""Films in and out: videos through PyAV (frame rate, timestamps and sound kept, H.264 written to a
temporary file and renamed when complete) and image sequences (``sequence``), in any combination."""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import imagefile
from ..pipeline import Colorizer
from . import sequence
from .steady import DEFAULT_STEADY, FrameColorizer, Steady


class VideoError(RuntimeError):
    """A video that cannot be read or written; the message names the file."""


class _FrameTooLarge(VideoError):
    """A frame beyond ``Clip.max_frame_pixels`` (the message does not name the file yet)."""


class PartialFilm(UserWarning):
    """A film that ended before its declared end; the frames read were kept (``keep_partial``)."""


def _light(frame, turns: int = 0) -> np.ndarray:
    """Lightness (R+G+B)/3 in [0, 1] of a PyAV frame of any pixel format, turned upright by ``turns``
    quarter turns counterclockwise (``upright_turns``)."""
    rgb = frame.to_ndarray(format="rgb24")
    light = rgb.mean(axis=2, dtype=np.float32) / 255
    return np.ascontiguousarray(np.rot90(light, turns)) if turns else light


def frame_rate(vs) -> float:
    """A video stream's frames per second: its average rate, else FFmpeg's guess, else 25."""
    return float(vs.average_rate or vs.guessed_rate or 25)


def upright_turns(src) -> int:
    """Quarter turns counterclockwise (numpy's ``rot90``) that stand a film's frames upright, from the
    display matrix its first frame carries (a phone's portrait video); 0 when it has none."""
    import av

    try:
        with av.open(str(src)) as c:
            frame = next(c.decode(video=0), None) if c.streams.video else None
    except (av.FFmpegError, OSError):
        return 0
    return round((getattr(frame, "rotation", 0) or 0) / 90) % 4


def colorize_video(
    colorizer: Colorizer,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    steady: Steady | None = DEFAULT_STEADY,
    clip: Clip | None = None,
    progress=None,
    references: Sequence = (),
    temporal: bool = True,
) -> int:
    """Colorize video ``src`` into ``dst`` (H.264, audio copied); returns the number of frames.
    ``clip``: which part and how (``Clip``); ``progress``: called with 1 after each frame (a tqdm's
    ``update``); ``references``: prepared reference photos (``Colorizer.reference``) for every frame;
    ``temporal``: a colorizer's restorer looks at each frame's neighbours (else frame by frame). The
    output appears only when complete. A film that ends before its declared end (a cut download) is a
    ``VideoError`` and nothing is written; with ``clip.keep_partial`` the frames read are written and
    a ``PartialFilm`` warning says what is missing."""
    import av

    src, dst, clip = Path(src), Path(dst), clip or Clip()
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{src}: not a video FFmpeg can read ({err})") from None
    with inp:
        if not inp.streams.video:
            raise VideoError(f"{src}: has no video stream")
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        try:
            with _temporary(dst) as tmp:
                film = FrameColorizer(colorizer, steady, references, temporal)
                turns = upright_turns(src)
                reading = _Reading()
                count = _transcode(film, inp, vs, tmp, dst, clip, progress, turns, reading)
                if count == 0:
                    raise VideoError(f"{src}: no frames between {clip.start:g} s and {clip.end or 'the end'}")
                missing = None if reading.stopped else _missing(inp, vs, reading)
                if missing and not clip.keep_partial:
                    raise VideoError(f"{src}: cut short: {missing} could not be read; nothing written "
                                     f"(--keep-partial keeps the {count} frames read)")  # fmt: skip
            if missing:
                warnings.warn(f"{src}: cut short: {missing} could not be read; kept the {count} frames read",
                              PartialFilm, stacklevel=2)  # fmt: skip
        except av.FFmpegError as err:
            raise VideoError(f"{src}: corrupt or unreadable video ({err})") from None
        except _FrameTooLarge as err:
            raise VideoError(f"{src}: {err}") from None
    return count


@contextlib.contextmanager
def _temporary(dst: Path) -> Iterator[str]:
    """A temporary file beside ``dst``, renamed to it when the block ends normally, else removed:
    an interrupted or failed run leaves no broken video."""
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=dst.suffix or ".mp4", dir=dst.parent)
    os.close(fd)
    try:
        yield tmp
        os.chmod(tmp, 0o644)  # as photos are written (mkstemp makes it private)
        os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)


@contextlib.contextmanager
def _writable(dst: Path) -> Iterator[None]:
    """PyAV's refusal to create ``dst`` (a suffix that names no container, or one that cannot hold
    H.264) as a one-line ``VideoError``."""
    import av

    try:
        yield
    except (av.FFmpegError, ValueError) as err:
        msg = f"{dst}: cannot write an H.264 video there ({err}); .mp4, .mkv and .mov can"
        raise VideoError(msg) from None


def _output(tmp: str, dst):
    """A container of ``dst``'s kind (``tmp`` has its suffix), open for writing on ``tmp``."""
    import av

    with _writable(dst):
        return av.open(tmp, "w")


def _h264(out, rate, width: int, height: int, crf: int, lossless: bool):
    """An H.264 stream in the open output ``out``: 4:2:0, or 4:4:4 when lossless or sizes are odd."""
    ovs = out.add_stream("libx264", rate=rate)
    ovs.width, ovs.height = width, height
    even = width % 2 == 0 and height % 2 == 0
    ovs.pix_fmt = "yuv444p" if lossless or not even else "yuv420p"
    ovs.options = {"crf": "0" if lossless else str(crf), "preset": "veryfast"}
    return ovs


@dataclass
class _Reading:
    """How far a film was read: the last frame's time, the error that stopped it early (if any), and
    whether ``Clip.max_frames`` stopped it."""

    seen: float | None = None  # the time of the last frame decoded (kept or not)
    error: Exception | None = None
    stopped: bool = False  # at ``Clip.max_frames``


def _transcode(film: FrameColorizer, inp, vs, tmp, dst, clip: Clip, progress, turns, reading) -> int:
    """Colour the frames ``clip`` keeps into ``tmp``, upright (``turns``), sound copied; how far the
    input was read goes into ``reading``. Returns the number of frames written."""
    import av

    audio = list(inp.streams.audio)
    with _output(tmp, dst) as out:
        width, height = (vs.height, vs.width) if turns % 2 else (vs.width, vs.height)
        with _writable(dst):
            ovs = _h264(out, vs.average_rate or vs.guessed_rate or 25, width, height, clip.crf, clip.lossless)
        ovs.time_base = ovs.codec_context.time_base = vs.time_base  # the input's timestamps, exactly (VFR)
        oas = {a.index: out.add_stream_from_template(a) for a in audio}
        count = 0
        for rgb, (pts, time_base) in film.run(_decoded(inp, vs, audio, out, oas, clip, turns, reading)):
            new = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            new.pts, new.time_base = pts, time_base
            with _written(dst):
                out.mux(ovs.encode(new))
            count += 1
            if progress is not None:
                progress(1)
        with _written(dst):
            out.mux(ovs.encode(None))
    return count


@contextlib.contextmanager
def _written(dst: Path) -> Iterator[None]:
    """A failure to write (a full disk) named as the output's, not blamed on the input."""
    import av

    try:
        yield
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{dst}: could not be written ({err})") from None


def _missing(inp, vs, reading: _Reading) -> str | None:
    """The stretch of a film that could not be read (``"6.0 s to 20.0 s"``): from after the last frame
    decoded to its declared end; None when it was read to there (within a frame, or 5 % of the film
    for files whose frames are sparse). ``--start``/``--end`` play no part: the whole file is read."""
    if vs.duration and vs.time_base:
        declared = float((vs.duration + (vs.start_time or 0)) * vs.time_base)
    elif inp.duration:
        declared = inp.duration / 1e6
    else:
        declared = None
    step = 1 / frame_rate(vs)
    after = (reading.seen or 0.0) + step
    if declared is not None and after + max(2 * step, 0.05 * declared) < declared:
        return f"{after:.1f} s to {declared:.1f} s"
    return f"{after:.1f} s on ({reading.error})" if reading.error is not None else None


def _decoded(
    inp, vs, audio, out, oas, clip: Clip, turns, reading: _Reading
) -> Iterator[tuple[np.ndarray, tuple]]:
    """(upright lightness, (pts, time base)) of the video's frames ``clip`` keeps (frames without
    timestamps are timed by their count), at most ``clip.max_frames``; the audio packets within are
    copied to ``out`` on the way. Data that cannot be decoded after some frames ends the film there
    (``reading.error``: a cut download); before any, it is an error."""
    import av

    rate, index, kept = frame_rate(vs), 0, 0
    try:
        for packet in inp.demux(vs, *audio):
            if packet.stream.type == "audio":
                if packet.dts is not None and _within(packet, clip.start, clip.end):
                    packet.stream = oas[packet.stream.index]
                    with _written(Path(out.name)):
                        out.mux(packet)
                continue
            for frame in packet.decode():
                t = frame.time if frame.time is not None else index / rate
                index += 1
                reading.seen = t
                if not clip.keeps(t):
                    continue
                _check_size(frame, clip)
                if clip.max_frames is not None and kept >= clip.max_frames:
                    reading.stopped = True
                    return
                kept += 1
                yield _light(frame, turns), (frame.pts, frame.time_base)
    except av.FFmpegError as err:
        if reading.seen is None:
            raise
        reading.error = err


def _check_size(frame, clip: Clip) -> None:
    """Every frame's own size against ``clip.max_frame_pixels`` (a stream may declare one size and
    carry another)."""
    if clip.max_frame_pixels is not None and frame.width * frame.height > clip.max_frame_pixels:
        raise _FrameTooLarge(f"a {frame.width}x{frame.height} frame is larger than allowed here "
                         f"({clip.max_frame_pixels / 1e6:.2g} MP)")  # fmt: skip


def _within(packet, start: float, end: float | None) -> bool:
    t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
    return (start <= 0 or t >= start) and (end is None or t < end)  # from 0: priming packets (t < 0) too


# ---------------------------------------------------------------- image sequences in or out
@dataclass(frozen=True)
class Clip:
    """What to colorize and how: ``start``/``end`` in seconds, ``fps`` of image sequences (their
    frame times, and the rate of a video made from one); H.264 ``crf`` or ``lossless``;
    ``keep_partial`` (``colorize_video``); limits for a service (``max_frames``, ``max_frame_pixels``)."""

    start: float = 0.0
    end: float | None = None
    fps: float = 25.0
    crf: int = 18
    lossless: bool = False
    keep_partial: bool = False  # a film cut short: write the frames read (with a warning), not fail
    max_frames: int | None = None  # a service's limits: stop after this many frames ...
    max_frame_pixels: int | None = None  # ... and refuse any frame larger than this

    def keeps(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


def colorize_any(
    colorizer: Colorizer,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    steady: Steady | None = DEFAULT_STEADY,
    clip: Clip = Clip(),
    progress=None,
    references: Sequence = (),
    temporal: bool = True,
) -> int:
    """Colorize a video or an image sequence (``sequence``) into a video or an image sequence;
    returns the number of frames. Video to video keeps the sound (``colorize_video``)."""
    if not sequence.is_sequence(src) and not sequence.is_sequence(dst):
        return colorize_video(colorizer, src, dst, steady, clip, progress, references, temporal)
    source = _sequence_frames(src, clip) if sequence.is_sequence(src) else _video_frames(src, clip)
    film = FrameColorizer(colorizer, steady, references, temporal)
    empty = VideoError(f"{src}: no frames between {clip.start:g} s and {clip.end or 'the end'}")
    frames = ((photo.light, (number, photo)) for number, photo in _nonempty(source, empty))
    coloured = ((number, rgb, photo) for rgb, (number, photo) in film.run(frames, bits8=False))
    write = _write_frames if sequence.is_sequence(dst) else _encode_frames
    return write(coloured, dst, clip, progress)


def _nonempty(items: Iterator, empty: Exception) -> Iterator:
    """``items``, or ``empty`` raised when there are none (before a writer makes any file)."""
    first = next(items, None)
    if first is None:
        raise empty
    yield first
    yield from items


def _sequence_frames(src, clip: Clip) -> Iterator[tuple[int, imagefile.Photo]]:
    """(number, photo) of the sequence's frames within the clip (frame i at i / fps seconds)."""
    try:
        found = sequence.frames(src)
    except sequence.SequenceError as err:
        raise VideoError(str(err)) from None
    kept = [f for i, f in enumerate(found) if clip.keeps(i / clip.fps)]
    try:
        for frame, photo in sequence.read(kept):
            yield frame.number, photo
    except imagefile.ImageError as err:
        raise VideoError(f"{src}: {err}") from None


def _video_frames(src, clip: Clip) -> Iterator[tuple[int, imagefile.Photo]]:
    """(number from 1, photo) of a video's frames within the clip (frames without timestamps are
    timed by their count, as when writing a video), each frame's size checked."""
    import av

    turns = upright_turns(src)
    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise VideoError(f"{src}: has no video stream")
            vs = inp.streams.video[0]
            rate, number = frame_rate(vs), 0
            for index, frame in enumerate(inp.decode(vs)):
                if not clip.keeps(frame.time if frame.time is not None else index / rate):
                    continue
                _check_size(frame, clip)
                if clip.max_frames is not None and number >= clip.max_frames:
                    return
                number += 1
                yield number, imagefile.Photo(_light(frame, turns))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{src}: not a video FFmpeg can read ({err})") from None
    except _FrameTooLarge as err:
        raise VideoError(f"{src}: {err}") from None


def _write_frames(coloured, pattern, clip: Clip, progress) -> int:
    """Each frame to its own file of the output pattern (atomically, like photos)."""
    count = 0
    for number, rgb, photo in coloured:
        imagefile.write_image(sequence.frame_path(pattern, number), rgb, like=photo)
        count += 1
        if progress is not None:
            progress(1)
    return count


def _encode_frames(coloured, dst, clip: Clip, progress) -> int:
    """The frames as an H.264 video at ``clip.fps``, written to a temporary file, renamed when done."""
    import av

    count, size = 0, None
    rate = Fraction(clip.fps).limit_denominator(1001)
    with _temporary(Path(dst)) as tmp, _output(tmp, dst) as out:
        ovs = None
        for _number, rgb, _photo in coloured:
            if ovs is None:
                size = rgb.shape[:2]
                with _writable(dst):
                    ovs = _h264(out, rate, size[1], size[0], clip.crf, clip.lossless)
            if rgb.shape[:2] != size:
                raise VideoError(f"frame {count + 1} is {rgb.shape[1]}x{rgb.shape[0]}, the first was "
                                 f"{size[1]}x{size[0]}: a video needs one size")  # fmt: skip
            frame = av.VideoFrame.from_ndarray(imagefile.quantize(rgb), format="rgb24")
            frame.pts = count
            out.mux(ovs.encode(frame))
            count += 1
            if progress is not None:
                progress(1)
        out.mux(ovs.encode(None))
    return count
