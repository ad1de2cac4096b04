"""Image sequences, as restoration workflows keep films: ``frames/%06d.png`` in or out.

An input sequence is a printf-style pattern (``scan/%06d.tif``: the files whose names match, in
the order of their numbers) or a folder (its images in name order, numbered from 1). Frames are read
like photos (any format, 16-bit kept) and written one file per frame, each atomically, with the
input frame's number (from 1 when the input is a video), so that a stopped run leaves only whole
frames and numbers line up with the scan's.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from .. import imagefile

_FIELD = re.compile(r"%(0?)(\d*)d")


class SequenceError(ValueError):
    """A pattern or folder that names no usable frames; the message says which."""


@dataclass(frozen=True, order=True)
class Frame:
    """One frame of a sequence: its number and file."""

    number: int
    path: Path


def is_sequence(path: str | os.PathLike) -> bool:
    """True for a printf pattern (``%06d``) or an existing folder."""
    return _FIELD.search(Path(path).name) is not None or Path(path).is_dir()


def _regex(name: str) -> re.Pattern:
    """A file-name regex for a pattern's name, its one number field captured."""
    fields = list(_FIELD.finditer(name))
    if len(fields) != 1 or name.replace(fields[0].group(0), "").count("%"):
        raise SequenceError(f"{name}: a frame pattern needs exactly one number field such as %06d")
    f = fields[0]
    digits = rf"\d{{{int(f.group(2))}}}" if f.group(1) and f.group(2) else r"\d+"
    return re.compile(re.escape(name[: f.start()]) + f"({digits})" + re.escape(name[f.end() :]) + "$")


def frames(src: str | os.PathLike) -> list[Frame]:
    """The frames of a pattern or folder, in order; an error when there are none."""
    src = Path(src)
    if src.is_dir():
        paths = sorted(
            p for p in src.iterdir() if p.suffix.lower() in imagefile.IMAGE_SUFFIXES and p.is_file()
        )
        found = [Frame(i + 1, p) for i, p in enumerate(paths)]
    else:
        regex, folder = _regex(src.name), src.parent
        if not folder.is_dir():
            raise SequenceError(f"{src}: folder {folder} does not exist")
        matches = ((regex.match(p.name), p) for p in folder.iterdir())
        found = sorted(Frame(int(m.group(1)), p) for m, p in matches if m)
    if not found:
        raise SequenceError(f"{src}: no frames found")
    twins = next(((a, b) for a, b in zip(found, found[1:], strict=False) if a.number == b.number), None)
    if twins is not None:  # 1.png, 01.png: one frame number, and one output file, for two frames
        a, b = twins
        raise SequenceError(f"{src}: {a.path.name} and {b.path.name} are both frame {a.number}; use a "
                            "pattern with a fixed width such as %04d, or keep one")  # fmt: skip
    return found


def frame_path(pattern: str | os.PathLike, number: int) -> Path:
    """Where frame ``number`` of an output pattern goes (its format from the extension)."""
    pattern = Path(pattern)
    _regex(pattern.name)  # exactly one field
    imagefile.output_format(pattern)
    return pattern.with_name(_FIELD.sub(lambda m: m.group(0) % number, pattern.name))


def existing(pattern: str | os.PathLike) -> list[Path]:
    """Files an output pattern would overwrite (any number)."""
    pattern = Path(pattern)
    if not pattern.parent.is_dir():
        return []
    regex = _regex(pattern.name)
    return sorted(p for p in pattern.parent.iterdir() if regex.match(p.name))


def read(
    found: list[Frame], max_pixels: int = imagefile.DEFAULT_MAX_PIXELS
) -> Iterator[tuple[Frame, imagefile.Photo]]:
    """Each frame with its photo; a frame that cannot be read stops the sequence with its error."""
    for frame in found:
        yield frame, imagefile.read_image(frame.path, max_pixels)
