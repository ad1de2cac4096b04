"""Photos stored inside other files: Qt resource archives (``.rcc``) and Edje themes (``.edj``).

Both yield ``(member, name, blob)``: the member's path inside the container (for licences), a short
output name, and the file's bytes, unchanged (nothing is re-encoded).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Iterator
from pathlib import Path

from PIL import Image

Member = tuple[str, str, bytes]


def rcc_members(path: Path) -> Iterator[Member]:
    """Files of a Qt binary resource archive (the ``qres`` format of Qt's rcc, versions 1-3).

    The output name is ``<archive stem>/<path after "resource/">``, e.g. ``erase/gorilla.webp``.
    """
    buf = Path(path).read_bytes()
    if buf[:4] != b"qres":
        raise ValueError(f"{path}: not a Qt resource archive")
    version, tree, data, names = struct.unpack(">IIII", buf[4:20])
    node_size = 22 if version >= 2 else 14

    def name_at(offset: int) -> str:
        (length,) = struct.unpack_from(">H", buf, names + offset)
        start = names + offset + 6  # length, hash, then UTF-16 characters
        return buf[start : start + 2 * length].decode("utf-16-be")

    def walk(index: int, prefix: str) -> Iterator[tuple[str, bytes]]:
        at = tree + index * node_size
        name_offset, flags = struct.unpack_from(">IH", buf, at)
        name = name_at(name_offset) if index else ""
        if flags & 2:  # a directory: child count, first child
            count, first = struct.unpack_from(">II", buf, at + 6)
            for child in range(first, first + count):
                yield from walk(child, f"{prefix}{name}/" if index else "")
            return
        (offset,) = struct.unpack_from(">I", buf, at + 10)
        (size,) = struct.unpack_from(">I", buf, data + offset)
        blob = buf[data + offset + 4 : data + offset + 4 + size]
        if flags & 1:  # zlib, after the uncompressed size
            blob = zlib.decompress(blob[4:])
        elif flags & 4:  # zstd: not used by the archives read here
            return
        yield prefix + name, blob

    stem = Path(path).stem
    for member, blob in walk(0, ""):
        tail = member.split("/resource/", 1)[1] if "/resource/" in member else member.rsplit("/", 1)[-1]
        yield member, f"{stem}/{tail}", blob


def edj_members(path: Path) -> Iterator[Member]:
    """The largest JPEG stream inside an Edje theme (wallpapers keep each size as a plain JPEG)."""
    buf = Path(path).read_bytes()
    starts = []
    at = buf.find(b"\xff\xd8\xff")
    while at != -1:
        starts.append(at)
        at = buf.find(b"\xff\xd8\xff", at + 3)
    best: tuple[int, bytes] | None = None
    for start, stop in zip(starts, starts[1:] + [len(buf)], strict=True):
        try:
            with Image.open(io.BytesIO(buf[start:stop])) as im:
                pixels = im.size[0] * im.size[1]
        except Exception:  # an embedded thumbnail's header or a false marker
            continue
        if best is None or pixels > best[0]:
            best = (pixels, buf[start : buf.rfind(b"\xff\xd9", start, stop) + 2])
    if best is not None:
        yield "largest.jpg", f"{Path(path).stem}.jpg", best[1]


READERS = {".rcc": rcc_members, ".edj": edj_members}


def members(path: Path) -> Iterator[Member]:
    """The files inside a container, by its suffix."""
    return READERS[Path(path).suffix](path)
