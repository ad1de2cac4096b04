import io as pyio
import struct

import numpy as np
import pytest
from PIL import Image, ImageCms

from autocolor import imagefile


def save(tmp_path, name, im, **kw):
    path = tmp_path / name
    im.save(path, **kw)
    return path


@pytest.fixture
def rgb_image():
    a = np.zeros((20, 30, 3), np.uint8)
    a[..., 0] = np.arange(30) * 8
    a[..., 1] = 90
    a[..., 2] = np.arange(20)[:, None] * 12
    return Image.fromarray(a)


def test_lightness_of_rgb_is_channel_mean(tmp_path, rgb_image):
    photo = imagefile.read_image(save(tmp_path, "x.png", rgb_image))
    a = np.asarray(rgb_image, dtype=np.float32) / 255
    assert np.allclose(photo.light, a.mean(axis=2), atol=1e-6)
    assert photo.alpha is None and photo.bits == 8


@pytest.mark.parametrize(
    "mode,name",
    [
        ("L", "png"),
        ("1", "png"),
        ("P", "png"),
        ("CMYK", "tif"),
        ("CMYK", "jpg"),
        ("YCbCr", "jpg"),
        ("LA", "png"),
        ("RGBA", "png"),
        ("RGB", "webp"),
        ("RGB", "bmp"),
    ],
)
def test_odd_modes_read(tmp_path, rgb_image, mode, name):
    photo = imagefile.read_image(save(tmp_path, "x." + name, rgb_image.convert(mode)))
    assert photo.light.shape == (20, 30)
    assert photo.light.min() >= 0 and photo.light.max() <= 1
    assert (photo.alpha is not None) == (mode in ("LA", "RGBA"))
    if name not in ("jpg", "webp"):  # lossless: the exact channel mean
        ref = np.asarray(rgb_image.convert(mode).convert("RGB"), np.float32).mean(axis=2) / 255
        assert np.allclose(photo.light, ref, atol=1e-5)


def test_palette_with_transparency_keeps_alpha(tmp_path, rgb_image):
    im = rgb_image.convert("P")
    im.info["transparency"] = 0
    photo = imagefile.read_image(save(tmp_path, "x.png", im, transparency=0))
    assert photo.alpha is not None


def test_sixteen_bit_gray_stays_sixteen_bit(tmp_path):
    a = (np.linspace(0, 65535, 40 * 50).reshape(40, 50)).astype(np.uint16)
    path = save(tmp_path, "x.png", Image.fromarray(a))
    photo = imagefile.read_image(path)
    assert photo.bits == 16
    assert np.allclose(photo.light, a / 65535, atol=1e-6)
    out = tmp_path / "out.png"
    imagefile.write_image(out, np.repeat(photo.light[..., None], 3, axis=2), like=photo)
    with Image.open(out) as back:
        assert back.mode in ("RGB", "I;16", "I") or back.info  # Pillow reads 16-bit RGB as RGB
    raw = out.read_bytes()
    assert struct.unpack(">B", raw[24:25])[0] == 16  # IHDR bit depth


def test_exif_rotation_is_applied(tmp_path, rgb_image):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise to view
    exif[0x010F] = "Camera maker"
    path = save(tmp_path, "x.jpg", rgb_image, exif=exif.tobytes())
    photo = imagefile.read_image(path)
    assert photo.light.shape == (30, 20)  # upright
    kept = Image.Exif()
    kept.load(photo.exif)
    assert kept[0x010F] == "Camera maker" and 0x0112 not in kept  # metadata kept, orientation done


def test_icc_profile_is_kept(tmp_path, rgb_image):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = imagefile.read_image(save(tmp_path, "x.png", rgb_image, icc_profile=icc))
    assert photo.icc == icc
    out = tmp_path / "y.jpg"
    imagefile.write_image(out, np.zeros((20, 30, 3), np.float32), like=photo)
    with Image.open(out) as im:
        assert im.info.get("icc_profile") == icc


def bad_files(tmp_path, rgb_image):
    jpg = pyio.BytesIO()
    rgb_image.resize((300, 200)).save(jpg, "JPEG")
    png = pyio.BytesIO()
    rgb_image.save(png, "PNG")
    files = {
        "empty.png": b"",
        "truncated.jpg": jpg.getvalue()[: len(jpg.getvalue()) // 3],
        "truncated.png": png.getvalue()[:60],
        "random.png": np.random.default_rng(0).bytes(5000),
        "text.jpg": b"this is not an image\n" * 20,
    }
    out = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = tmp_path / name
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20000, 20000)).save(bomb)  # 400 MP in a few kB
    out["bomb.png"] = bomb
    out["folder"] = tmp_path
    out["missing.png"] = tmp_path / "missing.png"
    return out


def test_bad_inputs_give_one_line_errors_naming_the_file(tmp_path, rgb_image):
    for name, path in bad_files(tmp_path, rgb_image).items():
        with pytest.raises(imagefile.ImageError) as err:
            imagefile.read_image(path)
        msg = str(err.value)
        assert str(path) in msg and "\n" not in msg, name


def test_max_pixels_limit(tmp_path, rgb_image):
    path = save(tmp_path, "x.png", rgb_image)
    with pytest.raises(imagefile.ImageError, match="exceeds the limit"):
        imagefile.read_image(path, max_pixels=100)


def test_to_photo_accepts_documented_arrays():
    a8 = np.full((4, 5, 3), 255, np.uint8)
    assert np.allclose(imagefile.to_photo(a8).light, 1)
    a16 = np.full((4, 5), 65535, np.uint16)
    assert imagefile.to_photo(a16).bits == 16 and np.allclose(imagefile.to_photo(a16).light, 1)
    f = np.full((4, 5, 4), 0.5, np.float32)
    p = imagefile.to_photo(f)
    assert np.allclose(p.light, 0.5) and p.alpha is not None
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        imagefile.to_photo(np.full((4, 5), 255.0))
    with pytest.raises(ValueError, match="shape"):
        imagefile.to_photo(np.zeros((4, 5, 2), np.uint8))


def test_write_is_atomic_and_leaves_no_temporary(tmp_path):
    out = tmp_path / "out.png"
    out.write_bytes(b"old")
    with pytest.raises(imagefile.ImageError, match="unsupported output format"):
        imagefile.write_image(tmp_path / "out.xyz", np.zeros((4, 4, 3), np.float32))
    bad = np.full((4, 4, 3), np.nan, np.float32)
    imagefile.write_image(out, bad)  # NaN is written as 0, not a crash
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_alpha_is_written_back(tmp_path):
    photo = imagefile.Photo(
        np.full((4, 4), 0.5, np.float32), alpha=np.linspace(0, 1, 16, dtype=np.float32).reshape(4, 4)
    )
    out = tmp_path / "a.png"
    imagefile.write_image(out, np.full((4, 4, 3), 0.5, np.float32), like=photo)
    with Image.open(out) as im:
        assert im.mode == "RGBA"
        assert np.asarray(im)[..., 3][3, 3] == 255


def _inputs(tmp_path, rgb_image):
    """One photo in every input format the issue names, with EXIF (camera make) where it can hold it."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"  # Make
    exif.get_ifd(0x8769)[0x9003] = "2020:01:02 03:04:05"  # DateTimeOriginal
    exif[0x8769] = 0
    gray16 = Image.fromarray(np.arange(600, dtype=np.uint16).reshape(20, 30) * 100).convert("I;16")
    rgba = rgb_image.convert("RGBA")
    rgba.putalpha(128)
    return {
        "jpeg": save(tmp_path, "in.jpg", rgb_image, exif=exif),
        "png8": save(tmp_path, "in8.png", rgb_image.convert("L"), exif=exif),
        "png16": save(tmp_path, "in16.png", gray16),
        "tiff8-gray": save(tmp_path, "g8.tif", rgb_image.convert("L"), exif=exif),
        "tiff8-rgb": save(tmp_path, "rgb8.tif", rgb_image, exif=exif),
        "tiff16-gray": save(tmp_path, "g16.tif", gray16),
        "webp": save(tmp_path, "in.webp", rgb_image, exif=exif),
        "alpha": save(tmp_path, "alpha.png", rgba),
    }


@pytest.mark.parametrize("out_ext", [".png", ".jpg", ".webp", ".tif", ".bmp"])
def test_every_input_format_to_every_output_format(tmp_path, rgb_image, out_ext):
    for name, src in _inputs(tmp_path, rgb_image).items():
        photo = imagefile.read_image(src)
        dst = tmp_path / f"out-{name}{out_ext}"
        imagefile.write_image(dst, np.repeat(photo.light[..., None], 3, axis=2), like=photo)
        with Image.open(dst) as im:
            im.load()  # the file opens and decodes
            assert im.size == (30, 20), name
            alpha = name == "alpha" and out_ext in (".png", ".webp", ".tif")
            assert im.mode == ("RGBA" if alpha else "RGB") or (name == "png16" and out_ext == ".png"), name
            exif = im.getexif()
            if out_ext != ".tif":  # a TIFF's own layout tags describe itself; elsewhere they must not be
                assert not {262, 273, 279, 34675} & set(exif), (name, sorted(exif))
            if out_ext in (".jpg", ".png", ".webp", ".tif") and name in ("jpeg", "tiff8-rgb", "webp"):
                assert exif.get(0x010F) == "TestCam", (name, out_ext)  # the photo's own metadata kept


def test_exif_of_a_tiff_is_only_its_metadata(tmp_path, rgb_image):
    photo = imagefile.read_image(_inputs(tmp_path, rgb_image)["tiff8-gray"])
    exif = Image.Exif()
    exif.load(photo.exif)
    assert exif.get(0x010F) == "TestCam" and not {256, 257, 262, 273, 279} & set(exif)


def test_nan_pixels_in_a_float_tiff_are_black_not_the_whole_image(tmp_path):
    a = np.linspace(0, 1, 600, dtype=np.float32).reshape(20, 30)
    a[3, 4] = np.nan
    path = save(tmp_path, "f.tif", Image.fromarray(a, mode="F"))
    light = imagefile.read_image(path).light
    assert light[3, 4] == 0 and np.isfinite(light).all() and light.max() > 0.99


@pytest.mark.parametrize("fill", [np.nan, -1.0, np.inf])
def test_a_float_tiff_with_no_usable_pixel_is_refused_not_made_black(tmp_path, fill):
    path = save(tmp_path, "f.tif", Image.fromarray(np.full((20, 30), fill, np.float32), mode="F"))
    with pytest.raises(imagefile.ImageError, match="no finite pixel"):
        imagefile.read_image(path)
    black = save(tmp_path, "black.tif", Image.fromarray(np.zeros((20, 30), np.float32), mode="F"))
    assert imagefile.read_image(black).light.max() == 0  # a black image is an image


def test_32_bit_integer_tiff_uses_its_whole_range(tmp_path):
    a = (np.linspace(0, 1, 600).reshape(20, 30) * (2**31 - 1)).astype(np.int32)
    path = save(tmp_path, "i32.tif", Image.fromarray(a, mode="I"))
    light = imagefile.read_image(path).light
    assert 0.49 < light.mean() < 0.51  # not clipped as if it were 16-bit


def test_empty_images_are_value_errors():
    with pytest.raises(ValueError, match="empty"):
        imagefile.to_photo(np.zeros((0, 5), np.uint8))
    with pytest.raises(ValueError, match="empty"):
        imagefile.to_photo(np.zeros((0, 0, 3), np.float32))


def test_max_pixels_is_the_one_limit(tmp_path, monkeypatch):
    """Pillow's own bomb limit (89.5 MP by default) must not refuse what --max-pixels allows."""
    path = save(tmp_path, "big.png", Image.new("L", (300, 200)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)  # stands in for Pillow's 89.5 MP
    assert imagefile.read_image(path, max_pixels=10**6).light.shape == (200, 300)
    assert Image.MAX_IMAGE_PIXELS == 1000  # restored
    with pytest.raises(imagefile.ImageError, match=r"0\.06 MP exceeds the limit of 0\.001 MP"):
        imagefile.read_image(path, max_pixels=1000)


def test_exif_that_cannot_be_copied_never_costs_the_photo(tmp_path, rgb_image, monkeypatch):
    """Pillow failed to re-write an Exif IFD holding an Interoperability pointer (a camera JPEG in the
    evaluation set); whatever the EXIF does, the photo is read and written, without its EXIF."""
    exif = Image.Exif()
    exif[0x010F] = "TestCam"
    path = save(tmp_path, "cam.jpg", rgb_image, exif=exif.tobytes())

    def broken(self, *args, **kwargs):
        raise AttributeError("'Exif' object has no attribute 'fp'")

    monkeypatch.setattr(Image.Exif, "tobytes", broken)
    photo = imagefile.read_image(path)
    assert photo.exif is None and photo.light.shape == (20, 30)


def test_the_old_module_name_still_works_with_a_warning():
    import autocolor
    from autocolor import imagefile

    with pytest.warns(DeprecationWarning, match="autocolor.imagefile"):
        assert autocolor.io is imagefile
    assert autocolor.read_image is imagefile.read_image
