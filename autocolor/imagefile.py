"""Reading any photo safely and writing results atomically, keeping alpha, depth and metadata.

``read_image`` turns every Pillow mode (1, L, LA, P, PA, RGB, RGBA, CMYK, YCbCr, I;16, I, F) into
the lightness the colorizer needs, applies the EXIF orientation, and keeps alpha, bit depth, EXIF
and an RGB ICC profile for ``write_image``. Every failure becomes one ``ImageError`` naming the file.
16-bit colour input is read at 8 bits (Pillow has no 16-bit RGB mode); 16-bit gray stays 16-bit.
"""

from __future__ import annotations

import contextlib
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from . import png

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".tif", ".tiff", ".bmp", ".gif", ".jfif"}
FORMATS = {
    ".png": "PNG",
    ".jpg": "JPEG",
    ".jpeg": "JPEG",
    ".webp": "WEBP",
    ".tif": "TIFF",
    ".tiff": "TIFF",
    ".bmp": "BMP",
}
DEFAULT_MAX_PIXELS = 120_000_000


class ImageError(RuntimeError):
    """An input that cannot be read or an output that cannot be written; the message names the file."""


@dataclass
class Photo:
    """What the colorizer needs of a photo: its lightness L = (R+G+B)/3, float32 (H, W) in [0, 1],
    plus what the output should keep (alpha, bit depth, EXIF, ICC profile)."""

    light: np.ndarray
    alpha: np.ndarray | None = None  # float32 (H, W) in [0, 1]
    bits: int = 8
    exif: bytes | None = None
    icc: bytes | None = None


def _mean3(a: np.ndarray, scale: float) -> np.ndarray:
    """Channel mean of an (H, W, >=3) integer array as float32, without float copies of all channels."""
    out = a[..., 0].astype(np.float32)
    out += a[..., 1]
    out += a[..., 2]
    out *= scale / 3
    return out


def _integer_top(im: Image.Image) -> float:
    """White of an integer gray image: 65535, or a TIFF's 32-bit range (signed: 2^31 - 1)."""
    tags = getattr(im, "tag_v2", None)
    if im.mode != "I" or tags is None:
        return 65535.0
    bits, fmt = tags.get(258, 16), tags.get(339, 1)
    bits, fmt = (v[0] if isinstance(v, tuple) else v for v in (bits, fmt))
    if bits != 32:
        return 65535.0
    return 2.0**31 - 1 if fmt == 2 else 2.0**32 - 1


def _from_pil(im: Image.Image) -> Photo:
    """A ``Photo`` from an (upright) Pillow image of any mode."""
    if im.size[0] == 0 or im.size[1] == 0:
        raise ValueError(f"empty image ({im.size[0]}x{im.size[1]})")
    if im.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        a = np.asarray(im).astype(np.float64 if im.mode == "I" else np.float32)
        if im.mode == "F":  # floats: NaN is black, as the array API has it; scaled by the maximum
            if not (np.isfinite(a) & (a >= 0)).any():
                raise ValueError("a float image with no finite pixel of 0 or more (NaN, infinite, negative)")
            a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
            top = max(float(a.max()), 1.0)
        else:
            top = im.info.get("integer_top", 65535.0)
            if top == 2.0**32 - 1:
                a %= 2.0**32  # unsigned 32-bit samples, read by Pillow as signed
        return Photo(np.clip(a / top, 0, 1).astype(np.float32), None, 16)
    if im.mode in ("L", "1"):
        gray = np.asarray(im if im.mode == "L" else im.convert("L"))
        return Photo(np.multiply(gray, np.float32(1 / 255), dtype=np.float32))  # one pass, no copies
    alpha = None
    if im.mode in ("RGBA", "LA", "PA", "La", "RGBa") or (im.mode == "P" and "transparency" in im.info):
        im = im.convert("RGBA")
        a = np.asarray(im)
        alpha = a[..., 3].astype(np.float32) / 255
    else:
        a = np.asarray(im if im.mode == "RGB" else im.convert("RGB"))  # P, CMYK, YCbCr, LAB, HSV
    return Photo(_mean3(a, 1 / 255), alpha)


def open_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Image.Image:
    """Open and decode ``path`` upright with Pillow; raise ``ImageError`` on any failure."""
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageError(f"{path}: empty file (0 bytes)")
        with _pixel_limit(), Image.open(path) as im:
            w, h = im.size
            if w * h > max_pixels:
                raise ImageError(
                    f"{path}: {w}x{h} = {_mp(w * h)} exceeds the limit of {_mp(max_pixels)} "
                    "(raise it with --max-pixels)"
                )
            im.load()
            upright = ImageOps.exif_transpose(im)
            if upright is im:
                upright = im.copy()
            icc = im.info.get("icc_profile")
            # Only an RGB profile describes the RGB output (not a gray or CMYK one).
            upright.info["icc_profile"] = icc if icc and icc[16:20] == b"RGB " else None
            upright.info["exif_bytes"] = _exif_without_orientation(im)
            upright.info["integer_top"] = _integer_top(im)
            return upright
    except ImageError:
        raise
    except FileNotFoundError:
        raise ImageError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise ImageError(f"{path}: is a directory") from None
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image Pillow can read") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageError(f"{path}: refused as a possible decompression bomb") from None
    except (OSError, SyntaxError, ValueError, struct.error) as err:
        raise ImageError(f"{path}: corrupt or truncated image ({err})") from None


# Descriptive tags of the first IFD worth keeping; a TIFF's structural tags (layout, strips, its
# ICC profile) describe the input file, not the output, and are never copied.
_EXIF_KEEP = (0x010E, 0x010F, 0x0110, 0x0131, 0x0132, 0x013B, 0x8298)  # description .. copyright
_EXIF_IFDS = (0x8769, 0x8825)  # the Exif and GPS sub-IFDs


def _exif_without_orientation(im: Image.Image) -> bytes | None:
    """The photo's own EXIF metadata (camera, date, author, Exif and GPS IFDs), orientation reset;
    None when there is none, or when it is too damaged to copy (metadata never costs a photo)."""
    try:
        src, out = im.getexif(), Image.Exif()
        for tag in _EXIF_KEEP:
            if tag in src:
                out[tag] = src[tag]
        for ifd in _EXIF_IFDS:
            # nested pointers (the Interoperability IFD) are left out: their offsets would dangle
            sub = {k: v for k, v in src.get_ifd(ifd).items() if k != 0xA005 and not isinstance(v, dict)}
            if sub:
                out.get_ifd(ifd).update(sub)
                out[ifd] = 0  # Pillow writes the sub-IFD and fills in its offset
        return out.tobytes() if len(out) else None
    except Exception:  # Pillow raises many types for malformed EXIF
        return None


_limit_lock = threading.Lock()


@contextlib.contextmanager
def _pixel_limit():
    """Pillow's own bomb check (89.5 MP) off while ``open_image`` applies ``max_pixels`` to the
    same header-only size, so that ``--max-pixels`` is the one limit."""
    with _limit_lock:
        saved = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            yield
        finally:
            Image.MAX_IMAGE_PIXELS = saved


def _mp(pixels: float) -> str:
    return f"{pixels / 1e6:.3g} MP"


def opened_photo(im: Image.Image) -> Photo:
    """The ``Photo`` of an image ``open_image`` returned, its EXIF and ICC profile kept."""
    photo = _from_pil(im)
    photo.exif, photo.icc = im.info.get("exif_bytes"), im.info.get("icc_profile")
    return photo


def read_image(path: str | os.PathLike, max_pixels: int = DEFAULT_MAX_PIXELS) -> Photo:
    """Read ``path`` as a ``Photo`` (lightness, alpha, depth, metadata)."""
    image = open_image(path, max_pixels)
    try:
        return opened_photo(image)
    except ValueError as err:  # pixels that make no picture
        raise ImageError(f"{path}: {err}") from None


def _array_scale(a: np.ndarray) -> tuple[np.ndarray, float, int]:
    """An image array, the factor that brings it to [0, 1] and its bit depth: uint8, uint16, or float
    already in [0, 1] (NaN read as 0); anything else is refused."""
    if a.size == 0:
        raise ValueError(f"empty image (array of shape {a.shape})")
    if a.dtype == np.uint8:
        return a, 1 / 255, 8
    if a.dtype == np.uint16:
        return a, 1 / 65535, 16
    if np.issubdtype(a.dtype, np.floating):
        if np.nanmin(a) < 0 or np.nanmax(a) > 1:
            raise ValueError("float images must lie in [0, 1] (divide uint8 data by 255)")
        return np.nan_to_num(a.astype(np.float32)), 1.0, 8
    raise ValueError(f"unsupported array dtype {a.dtype}; use uint8, uint16 or float in [0, 1]")


def to_photo(image) -> Photo:
    """A ``Photo`` from a PIL image or a numpy array (uint8, uint16, or float in [0, 1]).

    Arrays are (H, W) gray, (H, W, 3) RGB or (H, W, 4) RGBA.
    """
    if isinstance(image, Photo):
        return image
    if isinstance(image, Image.Image):
        photo = _from_pil(ImageOps.exif_transpose(image))
        photo.icc = image.info.get("icc_profile")
        return photo
    a, scale, bits = _array_scale(np.asarray(image))
    if a.ndim == 2:
        return Photo(a.astype(np.float32) * scale, None, bits)
    if a.ndim == 3 and a.shape[2] in (3, 4):
        alpha = a[..., 3].astype(np.float32) * scale if a.shape[2] == 4 else None
        return Photo(_mean3(a, scale), alpha, bits)
    raise ValueError(f"expected an (H, W), (H, W, 3) or (H, W, 4) array, got shape {a.shape}")


def to_rgb(image, max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Float32 RGB (H, W, 3) in [0, 1] of a file path, PIL image (upright) or array (any mode or depth
    ``to_photo`` takes; alpha dropped): the colours of a reference photo."""
    if isinstance(image, (str, os.PathLike)):
        image = open_image(image, max_pixels)
    elif isinstance(image, Image.Image):
        image = ImageOps.exif_transpose(image)
    if isinstance(image, Image.Image):
        if image.mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F", "L", "1"):
            return np.repeat(_from_pil(image).light[..., None], 3, axis=2)
        return np.asarray(image.convert("RGB"), np.float32) / 255
    a = np.asarray(image)
    if a.ndim == 2:
        return np.repeat(to_photo(a).light[..., None], 3, axis=2)
    if a.ndim != 3 or a.shape[2] not in (3, 4):
        raise ValueError(f"expected an (H, W, 3) or (H, W, 4) colour array, got shape {a.shape}")
    a, scale, _ = _array_scale(a)
    return a[..., :3].astype(np.float32) * np.float32(scale)


def quantize(rgb: np.ndarray, bits: int = 8, rows: int = 512) -> np.ndarray:
    """Float [0, 1] to uint8 or uint16 (rounded), a strip of rows at a time to bound memory."""
    top, dtype = (65535, np.uint16) if bits == 16 else (255, np.uint8)
    out = np.empty(rgb.shape, dtype)
    for y in range(0, rgb.shape[0], rows):
        out[y : y + rows] = np.rint(np.clip(np.nan_to_num(rgb[y : y + rows]), 0, 1) * top)
    return out


def output_format(path: str | os.PathLike) -> str:
    """Pillow format name for an output path, from its extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ImageError(
            f"{path}: unsupported output format {suffix or '(none)'}; use " + ", ".join(sorted(FORMATS))
        )
    return FORMATS[suffix]


def output_bits(path: str | os.PathLike, like: Photo) -> int:
    """Bits per channel ``write_image`` writes: 16 for a 16-bit photo saved as PNG, else 8."""
    return 16 if like.bits == 16 and output_format(path) == "PNG" else 8


def write_image(
    path: str | os.PathLike, rgb: np.ndarray, like: Photo | None = None, quality: int = 95
) -> None:
    """Write RGB (H, W, 3), float in [0, 1] or uint8, atomically, keeping ``like``'s alpha, 16 bits
    (PNG) and metadata."""
    path = Path(path)
    fmt = output_format(path)
    like = like or Photo(np.zeros(0, np.float32))
    bits = output_bits(path, like)
    pixels = rgb if rgb.dtype == np.uint8 and bits == 8 else quantize(rgb, bits)
    if like.alpha is not None and fmt in ("PNG", "WEBP", "TIFF"):
        pixels = np.concatenate([pixels, quantize(like.alpha[..., None], bits)], axis=2)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if fmt == "PNG":  # also 16-bit colour, which Pillow cannot write
                png.write_png(f, pixels, like.icc, like.exif)
            else:
                im = Image.fromarray(pixels)
                opts = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
                if fmt != "BMP":
                    opts.update({k: v for k, v in (("icc_profile", like.icc), ("exif", like.exif)) if v})
                im.save(f, format=fmt, **opts)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException as err:
        Path(tmp).unlink(missing_ok=True)
        if isinstance(err, OSError):
            raise ImageError(f"{path}: cannot write ({err})") from None
        raise
