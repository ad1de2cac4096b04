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

Modules: ``steady`` (the flow-carried histograms, one frame after another), ``files`` (videos and
image sequences in and out, in any combination), ``sequence`` (frame patterns and folders).
"""

from .files import Clip, PartialFilm, VideoError, colorize_any, colorize_video
from .steady import FrameColorizer, Steadier, Steady, colorize_frames

__all__ = ["Clip", "FrameColorizer", "PartialFilm", "Steadier", "Steady", "VideoError", "colorize_any",
           "colorize_frames", "colorize_video"]  # fmt: skip
