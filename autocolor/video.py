"""Video: colorize films steadily, their sound kept (``autocolor video in.mp4 -o out.mp4``).

Colouring frames one by one makes the colour of an uncertain coat or wall jump from frame to frame:
its histograms tip one way or the other. Here each frame's histograms are mixed with the previous
frame's *steadied* histograms carried along the optical flow (OpenCV's DIS flow on the gray frames),
p'_t = (1 - c m) p_t + c m warp(p'_{t-1}), where m is 0 where the flow fails its forward-backward
check (occlusions) or points outside the frame, and the carry c falls to 0 at a scene cut. This is an
exponential average along motion paths, in histogram space, decoded as usual.

Decoding and encoding use PyAV (FFmpeg in a wheel): frame rate and timestamps are kept, the audio
streams are copied without re-encoding, the output is H.264 (``--crf``, or ``--lossless``) written to
a temporary file and renamed when complete.
"""

from __future__ import annotations

import dataclasses
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from . import io, sequence
from .pipeline import Colorizer, Prediction


@dataclass(frozen=True)
class Steady:
    """``carry``: weight of the previous frame's warped histograms; ``occlusion``: forward-backward
    flow error (grid cells) beyond which a cell takes nothing from the past; ``cut``: mean lightness
    change (0-1) after warping beyond which a frame starts a new shot."""

    carry: float = 0.85
    occlusion: float = 0.5
    cut: float = 0.12


class VideoError(RuntimeError):
    """A video that cannot be read or written; the message names the file."""


def _warp(x: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """``x`` (1, C, h, w) sampled at (x + flow): brings the previous frame's maps to the current one."""
    _, _, h, w = x.shape
    ys, xs = torch.meshgrid(
        torch.arange(h, dtype=torch.float32), torch.arange(w, dtype=torch.float32), indexing="ij"
    )
    gx = 2 * (xs + flow[..., 0] + 0.5) / w - 1
    gy = 2 * (ys + flow[..., 1] + 0.5) / h - 1
    grid = torch.stack([gx, gy], dim=-1)[None]
    return F.grid_sample(x, grid, align_corners=False, padding_mode="border")


def _grid_flow(flow: np.ndarray, hw: tuple[int, int]) -> torch.Tensor:
    """A processed-size flow (H, W, 2) averaged onto the prediction grid, in grid cells (h, w, 2)."""
    f = torch.from_numpy(flow).permute(2, 0, 1)[None]
    g = F.adaptive_avg_pool2d(f, hw)[0].permute(1, 2, 0)
    return g * torch.tensor([hw[1] / flow.shape[1], hw[0] / flow.shape[0]])


class Steadier:
    """Carries steadied histograms from frame to frame; ``step`` takes each frame's prediction."""

    def __init__(self, colorizer: Colorizer, steady: Steady = Steady()):
        self.colorizer, self.steady = colorizer, steady
        self.prev: Prediction | None = None
        self.prev_gray: np.ndarray | None = None
        import cv2

        self.dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)  # made once, used twice a frame

    def _flow(self, a: np.ndarray, b: np.ndarray, hw: tuple[int, int]) -> torch.Tensor:
        """Optical flow from gray uint8 frame ``a`` to ``b``, on the prediction grid (``_grid_flow``)."""
        return _grid_flow(self.dis.calc(a, b, None), hw)

    def _gray(self, light: np.ndarray) -> np.ndarray:
        x, _ = self.colorizer._prepare(light)
        return (x[0, 0].numpy() * 255).round().astype(np.uint8)

    def step(self, pred: Prediction, light: np.ndarray) -> Prediction:
        gray = self._gray(light)
        prev, prev_gray = self.prev, self.prev_gray
        self.prev_gray = gray
        hw = tuple(pred.light.shape[-2:])
        if prev is None or tuple(prev.light.shape[-2:]) != hw or self.steady.carry == 0:
            self.prev = pred
            return pred
        back = self._flow(gray, prev_gray, hw)  # current -> previous, in grid cells
        fwd = self._flow(prev_gray, gray, hw)
        round_trip = back + _warp(fwd.permute(2, 0, 1)[None], back)[0].permute(1, 2, 0)
        ok = (round_trip.norm(dim=-1) < self.steady.occlusion).float()
        h, w = hw
        ys, xs = torch.meshgrid(torch.arange(h), torch.arange(w), indexing="ij")
        inside = ((xs + back[..., 0]).clamp(-0.5, w - 0.5) == xs + back[..., 0]) & (
            (ys + back[..., 1]).clamp(-0.5, h - 0.5) == ys + back[..., 1]
        )
        mask = (ok * inside.float())[None, None]
        names = list(pred.probs)
        past = _warp(torch.cat([prev.light[:, None], *(prev.probs[n] for n in names)], 1), back)  # one pass
        past_light, *past_probs = past.split([1, *(pred.probs[n].shape[1] for n in names)], dim=1)
        change = (pred.light[:, None] - past_light).abs().mean()
        carry = 0.0 if float(change) > self.steady.cut else self.steady.carry
        probs = {
            n: (1 - carry * mask) * pred.probs[n] + carry * mask * q
            for n, q in zip(names, past_probs, strict=True)
        }
        self.prev = dataclasses.replace(pred, probs=probs)
        return self.prev


class FrameColorizer:
    """Colours a film frame after frame: the network, the reference photos' evidence (if any), then
    the steadier (unless ``steady`` is None: frame by frame)."""

    def __init__(self, colorizer: Colorizer, steady: Steady | None = Steady(), references: Sequence = ()):
        self.colorizer, self.references = colorizer, list(references)
        self.steadier = Steadier(colorizer, steady) if steady is not None else None

    def predict(self, light: np.ndarray) -> Prediction:
        pred = self.colorizer.predict(light, features=bool(self.references))
        if self.references:
            pred = self.colorizer.steer(pred, references=self.references)
        return self.steadier.step(pred, light) if self.steadier is not None else pred

    def rgb8(self, light: np.ndarray) -> np.ndarray:
        """One frame in 8-bit RGB."""
        return self.colorizer.render(self.predict(light), light, out=np.empty((*light.shape, 3), np.uint8))

    def rgb(self, light: np.ndarray) -> np.ndarray:
        """One frame in float RGB (16-bit frames stay 16-bit when written as images)."""
        return self.colorizer.render(self.predict(light), light)


def colorize_frames(
    colorizer: Colorizer, frames: Iterable[np.ndarray], steady: Steady | None = Steady()
) -> Iterator[np.ndarray]:
    """uint8 RGB frames for lightness frames (H, W) float in [0, 1]; ``steady=None``: frame by frame."""
    film = FrameColorizer(colorizer, steady)
    for light in frames:
        yield film.rgb8(light)


def _light(frame) -> np.ndarray:
    """Lightness (R+G+B)/3 in [0, 1] of a PyAV frame of any pixel format."""
    rgb = frame.to_ndarray(format="rgb24")
    return rgb.mean(axis=2, dtype=np.float32) / 255


def colorize_video(
    colorizer: Colorizer,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    steady: Steady | None = Steady(),
    crf: int = 18,
    lossless: bool = False,
    start: float = 0.0,
    end: float | None = None,
    progress=None,
    references: Sequence = (),
) -> int:
    """Colorize video ``src`` into ``dst`` (H.264, audio copied); returns the number of frames.
    ``progress``: called with 1 after each frame (a tqdm's ``update``); ``references``: prepared
    reference photos (``Colorizer.reference``) for every frame. The output appears only when complete."""
    import av

    src, dst = Path(src), Path(dst)
    try:
        inp = av.open(str(src))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{src}: not a video FFmpeg can read ({err})") from None
    with inp:
        if not inp.streams.video:
            raise VideoError(f"{src}: has no video stream")
        vs = inp.streams.video[0]
        vs.thread_type = "AUTO"
        fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=dst.suffix or ".mp4", dir=dst.parent)
        os.close(fd)
        try:
            film = FrameColorizer(colorizer, steady, references)
            count = _transcode(film, inp, vs, tmp, crf, lossless, start, end, progress)
            if count == 0:
                raise VideoError(
                    f"{src}: no frames between {start:g} s and {end if end is not None else 'the end'}"
                )
            os.replace(tmp, dst)
        except av.FFmpegError as err:
            raise VideoError(f"{src}: corrupt or unreadable video ({err})") from None
        finally:
            Path(tmp).unlink(missing_ok=True)
    return count


def _h264(out, rate, width: int, height: int, crf: int, lossless: bool):
    """An H.264 stream in the open output ``out``: 4:2:0, or 4:4:4 when lossless or sizes are odd."""
    ovs = out.add_stream("libx264", rate=rate)
    ovs.width, ovs.height = width, height
    even = width % 2 == 0 and height % 2 == 0
    ovs.pix_fmt = "yuv444p" if lossless or not even else "yuv420p"
    ovs.options = {"crf": "0" if lossless else str(crf), "preset": "veryfast"}
    return ovs


def _transcode(film: FrameColorizer, inp, vs, tmp, crf, lossless, start, end, progress) -> int:
    import av

    audio = list(inp.streams.audio)
    with av.open(tmp, "w") as out:
        ovs = _h264(out, vs.average_rate or vs.guessed_rate or 25, vs.width, vs.height, crf, lossless)
        ovs.time_base = vs.time_base
        if "rotate" in vs.metadata:
            ovs.metadata["rotate"] = vs.metadata["rotate"]
        oas = {a.index: out.add_stream_from_template(a) for a in audio}
        count = 0
        for packet in inp.demux(vs, *audio):
            if packet.stream.type == "audio":
                if packet.dts is not None and _within(packet, start, end):
                    packet.stream = oas[packet.stream.index]
                    out.mux(packet)
                continue
            for frame in packet.decode():
                if frame.time is not None and (frame.time < start or (end is not None and frame.time >= end)):
                    continue
                new = av.VideoFrame.from_ndarray(film.rgb8(_light(frame)), format="rgb24")
                new.pts, new.time_base = frame.pts, frame.time_base
                out.mux(ovs.encode(new))
                count += 1
                if progress is not None:
                    progress(1)
        out.mux(ovs.encode(None))
    return count


def _within(packet, start: float, end: float | None) -> bool:
    t = float(packet.pts * packet.time_base) if packet.pts is not None else 0.0
    return (start <= 0 or t >= start) and (end is None or t < end)  # from 0: priming packets (t < 0) too


# ---------------------------------------------------------------- image sequences in or out
@dataclass(frozen=True)
class Clip:
    """What to colorize and how: ``start``/``end`` in seconds, ``fps`` of image sequences (their
    frame times, and the rate of a video made from one); H.264 ``crf`` or ``lossless``."""

    start: float = 0.0
    end: float | None = None
    fps: float = 25.0
    crf: int = 18
    lossless: bool = False

    def keeps(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


def colorize_any(
    colorizer: Colorizer,
    src: str | os.PathLike,
    dst: str | os.PathLike,
    steady: Steady | None = Steady(),
    clip: Clip = Clip(),
    progress=None,
    references: Sequence = (),
) -> int:
    """Colorize a video or an image sequence (``sequence``) into a video or an image sequence;
    returns the number of frames. Video to video keeps the sound (``colorize_video``)."""
    if not sequence.is_sequence(src) and not sequence.is_sequence(dst):
        c = clip
        return colorize_video(
            colorizer, src, dst, steady, c.crf, c.lossless, c.start, c.end, progress, references
        )
    source = _sequence_frames(src, clip) if sequence.is_sequence(src) else _video_frames(src, clip)
    film = FrameColorizer(colorizer, steady, references)
    coloured = ((number, film.rgb(photo.light), photo) for number, photo in source)
    write = _write_frames if sequence.is_sequence(dst) else _encode_frames
    count = write(coloured, dst, clip, progress)
    if count == 0:
        raise VideoError(f"{src}: no frames between {clip.start:g} s and {clip.end or 'the end'}")
    return count


def _sequence_frames(src, clip: Clip) -> Iterator[tuple[int, io.Photo]]:
    """(number, photo) of the sequence's frames within the clip (frame i at i / fps seconds)."""
    try:
        found = sequence.frames(src)
    except sequence.SequenceError as err:
        raise VideoError(str(err)) from None
    kept = [f for i, f in enumerate(found) if clip.keeps(i / clip.fps)]
    try:
        for frame, photo in sequence.read(kept):
            yield frame.number, photo
    except io.ImageError as err:
        raise VideoError(f"{src}: {err}") from None


def _video_frames(src, clip: Clip) -> Iterator[tuple[int, io.Photo]]:
    """(number from 1, photo) of a video's frames within the clip."""
    import av

    try:
        with av.open(str(src)) as inp:
            if not inp.streams.video:
                raise VideoError(f"{src}: has no video stream")
            number = 0
            for frame in inp.decode(inp.streams.video[0]):
                if frame.time is None or clip.keeps(frame.time):
                    number += 1
                    yield number, io.Photo(_light(frame))
    except (av.FFmpegError, OSError) as err:
        raise VideoError(f"{src}: not a video FFmpeg can read ({err})") from None


def _write_frames(coloured, pattern, clip: Clip, progress) -> int:
    """Each frame to its own file of the output pattern (atomically, like photos)."""
    count = 0
    for number, rgb, photo in coloured:
        io.write_image(sequence.frame_path(pattern, number), rgb, like=photo)
        count += 1
        if progress is not None:
            progress(1)
    return count


def _encode_frames(coloured, dst, clip: Clip, progress) -> int:
    """The frames as an H.264 video at ``clip.fps``, written to a temporary file, renamed when done."""
    import av

    dst = Path(dst)
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=dst.suffix or ".mp4", dir=dst.parent)
    os.close(fd)
    count, size = 0, None
    try:
        with av.open(tmp, "w") as out:
            ovs = None
            for _number, rgb, _photo in coloured:
                if ovs is None:
                    size = rgb.shape[:2]
                    ovs = _h264(out, Fraction(clip.fps).limit_denominator(1001), size[1], size[0], clip.crf,
                                clip.lossless)  # fmt: skip
                if rgb.shape[:2] != size:
                    raise VideoError(f"frame {count + 1} is {rgb.shape[1]}x{rgb.shape[0]}, the first was "
                                     f"{size[1]}x{size[0]}: a video needs one size")  # fmt: skip
                frame = av.VideoFrame.from_ndarray(io.quantize(rgb), format="rgb24")
                frame.pts = count
                out.mux(ovs.encode(frame))
                count += 1
                if progress is not None:
                    progress(1)
            if ovs is not None:
                out.mux(ovs.encode(None))
        if count:
            os.replace(tmp, dst)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return count
