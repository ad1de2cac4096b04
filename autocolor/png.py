"""A fast PNG writer: the "Up" filter in numpy and zlib's deflate on every core.

Pillow filters each row adaptively and deflates on one core; at 24 MP that takes longer than all of
colorization. Here the rows are split into one band per core, each band is filtered and deflated in
its own thread (numpy and zlib release the GIL), and the bands are joined as one zlib stream
(every band but the last ends with a sync flush, the way pigz joins its blocks). Files come out
within a few per cent of Pillow's size at the same level (2 % smaller on a colorized 24 MP photo,
2 % larger on scikit-image's astronaut). 8- and 16-bit RGB and RGBA.
"""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import BinaryIO

import numpy as np

SIGNATURE = b"\x89PNG\r\n\x1a\n"
BAND_BYTES = 1 << 22  # bands smaller than this are not worth a thread


def chunk(tag: bytes, data: bytes) -> bytes:
    """One PNG chunk: length, tag, data, CRC."""
    return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data))


def _up_filtered(rows: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` as PNG filter type 2 ("Up": each byte minus the one above, mod 256);
    the image's first row has nothing above it and is stored unfiltered (type 0)."""
    out = np.empty((stop - start, rows.shape[1] + 1), np.uint8)
    out[:, 0] = 2
    first = start
    if start == 0:
        out[0, 0], out[0, 1:] = 0, rows[0]
        first = 1
    np.subtract(rows[first:stop], rows[first - 1 : stop - 1], out=out[first - start :, 1:])
    return out


def _deflate(data: np.ndarray, level: int, last: bool) -> bytes:
    """Raw deflate of one band; ends on a byte boundary (sync flush) so the next band can follow."""
    z = zlib.compressobj(level, zlib.DEFLATED, -15)
    return z.compress(data) + z.flush(zlib.Z_FINISH if last else zlib.Z_SYNC_FLUSH)


def _bands(height: int, row_bytes: int, threads: int) -> list[tuple[int, int]]:
    """Row ranges, one per thread, none smaller than ``BAND_BYTES`` (one band for small images)."""
    n = max(1, min(threads, height, height * row_bytes // BAND_BYTES))
    cuts = [height * i // n for i in range(n + 1)]
    return list(zip(cuts[:-1], cuts[1:], strict=True))


def _idat(rows: np.ndarray, level: int, threads: int) -> Iterator[bytes]:
    """The IDAT chunks: one zlib stream (header, the bands' deflate, Adler-32) cut at band ends."""
    bands = _bands(rows.shape[0], rows.shape[1] + 1, threads)
    adler = 1
    with ThreadPoolExecutor(len(bands)) as pool:
        jobs = []
        for i, (start, stop) in enumerate(bands):
            filtered = _up_filtered(rows, start, stop)
            adler = zlib.adler32(filtered, adler)
            jobs.append(pool.submit(_deflate, filtered, level, i == len(bands) - 1))
        for i, job in enumerate(jobs):
            data = job.result()
            head = b"\x78\x01" if i == 0 else b""
            tail = struct.pack(">I", adler) if i == len(jobs) - 1 else b""
            yield chunk(b"IDAT", head + data + tail)


def write_png(
    f: BinaryIO,
    pixels: np.ndarray,
    icc: bytes | None = None,
    exif: bytes | None = None,
    level: int = 1,
    threads: int | None = None,
) -> None:
    """Write (H, W, 3|4) uint8 or uint16 ``pixels`` to the open file ``f`` as an RGB(A) PNG,
    with an ICC profile and EXIF when given."""
    if pixels.ndim != 3 or pixels.shape[2] not in (3, 4) or pixels.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected (H, W, 3|4) uint8 or uint16 pixels, got {pixels.shape} {pixels.dtype}")
    h, w, c = pixels.shape
    bits = 8 * pixels.dtype.itemsize
    rows = np.ascontiguousarray(pixels, ">u2" if bits == 16 else np.uint8).view(np.uint8).reshape(h, -1)
    f.write(SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, bits, 6 if c == 4 else 2, 0, 0, 0)))
    if icc:
        f.write(chunk(b"iCCP", b"ICC Profile\0\0" + zlib.compress(icc)))
    if exif:
        f.write(chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00")))
    for idat in _idat(rows, level, threads or os.cpu_count() or 1):
        f.write(idat)
    f.write(chunk(b"IEND", b""))
