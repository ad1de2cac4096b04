"""The parallel PNG writer: exact pixels whatever the band split, 16-bit, metadata."""

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from autocolor import png


def chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, i = [], len(png.SIGNATURE)
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        tag, body = data[i + 4 : i + 8], data[i + 8 : i + 8 + n]
        assert struct.unpack(">I", data[i + 8 + n : i + 12 + n])[0] == zlib.crc32(tag + body)
        out.append((tag, body))
        i += 12 + n
    return out


def encoded(pixels: np.ndarray, **kw) -> bytes:
    f = io.BytesIO()
    png.write_png(f, pixels, **kw)
    return f.getvalue()


def photo_like(h: int, w: int, c: int, dtype=np.uint8) -> np.ndarray:
    rng = np.random.default_rng(h * w + c)
    smooth = np.cumsum(rng.integers(-3, 4, (h, w, c)), axis=1) + np.cumsum(rng.integers(-3, 4, (h, 1, c)), 0)
    return (smooth % (np.iinfo(dtype).max + 1)).astype(dtype)


@pytest.mark.parametrize("threads", [1, 2, 3, 7])
@pytest.mark.parametrize("shape", [(1, 1, 3), (2, 5, 4), (7, 3, 3), (301, 211, 3), (64, 64, 4)])
def test_pillow_reads_back_every_pixel_whatever_the_bands(monkeypatch, shape, threads):
    monkeypatch.setattr(png, "BAND_BYTES", 64)  # many bands even for small images
    a = photo_like(*shape)
    data = encoded(a, threads=threads)
    bands = png._bands(shape[0], shape[1] * shape[2] + 1, threads)
    assert len([t for t, _ in chunks(data) if t == b"IDAT"]) == len(bands)
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == ("RGBA" if shape[2] == 4 else "RGB")
        assert np.array_equal(np.asarray(im), a)


def test_sixteen_bits_are_kept(monkeypatch):
    monkeypatch.setattr(png, "BAND_BYTES", 256)
    a = photo_like(40, 30, 3, np.uint16)
    data = encoded(a, threads=3)
    body = dict(chunks(data))
    assert struct.unpack(">IIBB", body[b"IHDR"][:10]) == (30, 40, 16, 2)
    idat = b"".join(b for t, b in chunks(data) if t == b"IDAT")
    rows = np.frombuffer(zlib.decompress(idat), np.uint8).reshape(40, 1 + 30 * 3 * 2)
    assert rows[0, 0] == 0 and (rows[1:, 0] == 2).all()  # first row plain, then "Up"
    raw = np.cumsum(rows[:, 1:], axis=0, dtype=np.uint8)  # undo "Up": running sum mod 256
    assert np.array_equal(raw.view(">u2").reshape(a.shape), a)
    with Image.open(io.BytesIO(data)) as im:  # Pillow reads 16-bit colour at 8 bits
        assert np.array_equal(np.asarray(im), (a >> 8).astype(np.uint8))


def test_icc_profile_and_exif_are_written():
    from PIL import ImageCms

    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = encoded(photo_like(8, 8, 3), icc=icc, exif=exif.tobytes())
    with Image.open(io.BytesIO(data)) as im:
        assert im.info["icc_profile"] == icc
        assert im.getexif()[0x010F] == "Camera maker"


def test_smaller_than_pillow_at_the_same_level():
    import skimage

    a = skimage.data.astronaut()
    ours, theirs = encoded(a), io.BytesIO()
    Image.fromarray(a).save(theirs, "PNG", compress_level=1)
    assert len(ours) < 1.05 * len(theirs.getvalue())


@pytest.mark.parametrize("bad", [np.zeros((4, 4), np.uint8), np.zeros((4, 4, 2), np.uint8),
                                 np.zeros((4, 4, 3), np.float32)])  # fmt: skip
def test_other_arrays_are_refused(bad):
    with pytest.raises(ValueError, match="uint8 or uint16"):
        encoded(bad)
