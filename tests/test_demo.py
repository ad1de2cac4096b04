"""The web demo's logic, without a browser (the page itself: test_demo_browser.py)."""

from __future__ import annotations

import functools
from fractions import Fraction

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import demo
from autocolor.pipeline import Colorizer


@pytest.fixture()
def models(checkpoint) -> demo.Models:
    return demo.Models({"test": functools.partial(Colorizer.load, checkpoint)})


def colourfulness(rgb: np.ndarray) -> float:
    rgb = rgb.astype(np.float32)
    return float(np.mean(rgb.max(axis=2) - rgb.min(axis=2)))


def test_settings_choose_the_decoding():
    assert str(demo.Settings("m").param()) == "median:expectation-cf"
    assert str(demo.Settings("m", fade=False).param()) == "median:expectation"
    assert str(demo.Settings("m", chroma="mode", hue="mode", fade=True).param()) == "mode:mode"
    p = demo.Settings("m", boost=2, temperature=0.5).param()
    assert (p.boost, p.temperature) == (2.0, 0.5)
    with pytest.raises(ValueError):
        demo.Settings("m", hue="expectation-cf-typo").param()


def test_uploads_are_read_once_and_bad_files_named(photo_dir, tmp_path):
    bad = tmp_path / "notes.png"
    bad.write_text("not a picture")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    session = demo.Session()
    paths = [str(photo_dir / "chelsea.png"), str(bad), str(empty)]
    errors = demo.update_entries(session, paths, demo.DEFAULT_MAX_PIXELS)
    assert [e.name for e in session.entries] == ["chelsea.png"]
    # one line each, named by the file's own name, not the server's temporary path
    assert errors == ["notes.png: not an image Pillow can read", "empty.jpg: empty file (0 bytes)"]
    first = session.entries[0]
    demo.update_entries(session, [str(photo_dir / "coffee.png"), str(photo_dir / "chelsea.png")], 10**8)
    assert session.entries[1] is first  # not read again
    assert demo.update_entries(session, [str(photo_dir / "chelsea.png")], 1000) == []  # kept, not re-read
    fresh = demo.Session()
    assert (
        "exceeds the limit of 0.001 MP"
        in demo.update_entries(fresh, [str(photo_dir / "coffee.png")], 1000)[0]
    )


def test_decoding_controls_reuse_the_histograms(models, photo_dir, tmp_path, monkeypatch):
    session = demo.Session()
    demo.update_entries(session, [str(photo_dir / "coffee.png")], demo.DEFAULT_MAX_PIXELS)
    net = models.get("test").net
    calls = []
    real = net.dense_with_features
    monkeypatch.setattr(net, "dense_with_features", lambda x: calls.append(x.shape) or real(x))
    plain = demo.Settings("test", boost=1.0, fade=False)  # the untrained test model's hues: no fading
    demo.run(session, models, plain)
    demo.write_downloads(session, models, plain, tmp_path)
    passes = 1  # the photo (the mirror switch is off)
    assert len(calls) == passes
    entry = session.current()
    before, path = entry.colorized.copy(), entry.download
    with Image.open(path) as im:
        first = np.asarray(im)
    demo.redecode(session, models, demo.Settings("test", boost=3.0, fade=False))
    assert entry.download is None  # stale until written again
    demo.run(session, models, demo.Settings("test", boost=3.0, chroma="q75", fade=False))
    assert len(calls) == passes  # decoding changes: no network
    assert colourfulness(entry.colorized) > colourfulness(before)
    vivid = demo.Settings("test", boost=3.0, chroma="q75", fade=False)
    demo.write_downloads(session, models, vivid, tmp_path)
    assert entry.download == path  # the download is replaced in place
    with Image.open(path) as im:
        assert colourfulness(np.asarray(im)) > colourfulness(first)
    demo.run(session, models, demo.Settings("test", size=256))
    assert len(calls) == 2 * passes and calls[-1][-2:] != calls[0][-2:]  # a new size runs the network
    demo.run(session, models, demo.Settings("test", size=256, mirror=True))
    assert len(calls) == 4 and calls[-1] == calls[-2]  # the photo and its mirror image
    mirrored = models.get("test").with_mirror(True).predict(entry.photo, size=256)
    for name, probs in mirrored.probs.items():
        np.testing.assert_allclose(entry.pred.probs[name], probs, atol=1e-6)


def test_previews_are_small_and_downloads_full_resolution(models, astronaut, tmp_path, monkeypatch):
    monkeypatch.setattr(demo.session, "PREVIEW_SIDE", 200)
    rgba = tmp_path / "astronaut.png"
    with Image.open(astronaut) as im:
        im = im.convert("RGBA")
        im.putalpha(128)
        im.save(rgba)
    session = demo.Session()
    demo.update_entries(session, [str(rgba)], demo.DEFAULT_MAX_PIXELS)
    demo.run(session, models, demo.Settings("test"))
    demo.write_downloads(session, models, demo.Settings("test"), tmp_path)
    entry = session.current()
    assert entry.colorized.shape == entry.original.shape == (200, 200, 3)
    assert entry.download.parent.parent == tmp_path
    with Image.open(entry.download) as out:
        assert out.size == (512, 512) and out.mode == "RGBA"  # alpha kept, as the command does
        a = np.asarray(out).astype(np.float32)
    assert np.all(a[..., 3] == 128)
    lightness = a[..., :3].mean(axis=2) / 255
    assert np.abs(lightness - entry.photo.light).max() < 2.5 / 255  # the photo's own lightness
    folder = session.folder
    session.close()
    assert not folder.exists()


def test_pixel_histograms_and_figure(models, astronaut, tmp_path, monkeypatch):
    monkeypatch.setattr(demo.session, "PREVIEW_SIDE", 128)
    session = demo.Session()
    demo.update_entries(session, [str(astronaut)], demo.DEFAULT_MAX_PIXELS)
    settings = demo.Settings("test")
    demo.run(session, models, settings)
    entry = session.current()
    info = demo.pixel_info(entry, 64, 32, settings)
    assert info.text.startswith("pixel (258, 130) of 512×512")  # preview (64, 32) at full resolution
    assert set(info.hists) == {"hue", "chroma"}
    for p in info.hists.values():
        assert p.shape == (32,) and abs(p.sum() - 1) < 1e-4
    # the histograms at a pixel are those the whole photo was decoded from: preview pixel (64, 32)
    # covers full-resolution (256..259, 128..131), centred at (257.5, 129.5), between grid knots
    full = entry.pred.full_resolution()["hue"][0, :, 129:131, 257:259].mean(dim=(1, 2))
    assert np.allclose(info.hists["hue"], full.numpy(), atol=1e-6)
    assert 0 <= info.hue < 1 and info.chroma >= 0
    fig = demo.histogram_figure(info)
    assert [ax.get_title() for ax in fig.axes] == ["hue histogram", "chroma histogram"]
    fig.savefig(tmp_path / "hist.png")
    assert (tmp_path / "hist.png").stat().st_size > 1000


def test_models_load_once_and_unknown_names_fail(checkpoint):
    loads = []

    def factory():
        loads.append(1)
        return Colorizer.load(checkpoint)

    models = demo.Models({"a": factory})
    assert models.get("a") is models.get("a") and len(loads) == 1
    with pytest.raises(ValueError):
        models.get("b")
    with pytest.raises(FileNotFoundError):
        demo.Models.find(["/no/such/model.pt"])
    assert demo.Models.find().names[:2] == ["effnet-lite2 (bundled)", "effnet-lite0 (bundled)"]
    assert demo.Models.find([str(checkpoint)]).names[-1] == checkpoint.name


def test_served_models_and_restorer_run_on_the_engine_asked_for(checkpoint):
    models = demo.Models.find([str(checkpoint)], "cpu", "openvino")
    assert models.get(checkpoint.name).engine == "openvino"
    assert models.restorer().engine == "openvino"
    assert demo.Models.find([str(checkpoint)], "cpu").get(checkpoint.name).engine == "torch"


def test_page_builds(models, tmp_path):
    gr = pytest.importorskip("gradio")
    page = demo.build(models, tmp_path)
    assert isinstance(page, gr.Blocks)
    ids = {c.get("props", {}).get("elem_id") for c in page.config["components"]}
    assert {"upload", "colorized", "histograms", "downloads"} <= ids
    assert {"clip", "carry", "clip-result"} <= ids  # the video tab (the video extra is in dev)


def _gray_clip(path, astronaut, frames: int, size=(224, 160), rate: int = 8):
    av = pytest.importorskip("av")
    rgb = np.asarray(Image.open(astronaut).convert("L").resize(size))
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=rate)
        vs.width, vs.height, vs.pix_fmt = *size, "yuv420p"
        for k in range(frames):
            frame = av.VideoFrame.from_ndarray(
                np.repeat(np.roll(rgb, 4 * k, 1)[..., None], 3, 2), format="rgb24"
            )
            frame.pts = k
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def test_the_video_tab_colorizes_the_start_of_a_clip(models, astronaut, tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    from autocolor.demo import film

    monkeypatch.setattr(film, "MAX_SECONDS", 1.0)
    src = _gray_clip(tmp_path / "clip.mp4", astronaut, frames=12)
    out, status = film.colorize_clip(models.get("test"), src, tmp_path / "results")
    import av

    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
    assert len(frames) == 8 and frames[0].shape == (160, 224, 3)  # 1 s at 8 frames/s
    assert "**8** frames" in status and "first 1 s of 2 s" in status
    assert out.parent.parent == tmp_path / "results"
    big = _gray_clip(tmp_path / "big.mp4", astronaut, frames=1, size=(1920, 1080))
    with pytest.raises(film.VideoError, match="larger than this demo"):
        film.colorize_clip(models.get("test"), big, tmp_path / "results")
    (tmp_path / "not.mp4").write_bytes(b"no video here")
    with pytest.raises(film.VideoError, match="not a video"):
        film.colorize_clip(models.get("test"), tmp_path / "not.mp4", tmp_path / "results")


def test_colour_spread_is_small_when_sure_and_large_when_hues_compete():
    k = 32
    one = torch.zeros(1, k, 1, 1)
    one[:, 20] = 1
    uniform = torch.full((1, k, 1, 1), 1 / k)
    gray = torch.zeros(1, k, 1, 1)
    gray[:, 0] = 1
    sure = demo.color_spread({"hue": one, "chroma": one})
    sure_gray = demo.color_spread({"hue": uniform, "chroma": gray})
    torn = demo.color_spread({"hue": uniform, "chroma": one})  # chroma 0.64, any hue
    assert float(sure) < 1e-3 and float(sure_gray) < 0.02
    assert abs(float(torn) - 20.5 / 32) < 1e-3
    lab = demo.color_spread({"a": uniform, "b": one})
    assert lab.shape == (1, 1, 1, 1) and float(lab) > 0.2


def test_uncertainty_map_has_the_preview_size(models, photo_dir, tmp_path):
    session = demo.Session()
    demo.update_entries(session, [str(photo_dir / "rocket.jpg")], demo.DEFAULT_MAX_PIXELS)
    demo.run(session, models, demo.Settings("test"))
    entry = session.current()
    assert entry.doubt.shape == entry.colorized.shape and entry.doubt.dtype == np.uint8


def test_odd_uploads_come_out_right(models, astronaut, tmp_path):
    """16-bit gray, CMYK, palette and an EXIF-rotated JPEG: upright previews and faithful downloads."""
    with Image.open(astronaut) as im:
        rgb = im.convert("RGB").resize((96, 64))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to view
    files = {
        "gray16.png": (Image.fromarray(np.asarray(rgb.convert("L"), np.uint16) * 257), {}),
        "cmyk.jpg": (rgb.convert("CMYK"), {}),
        "palette.png": (rgb.convert("P"), {}),
        "rotated.jpg": (rgb, {"exif": exif.tobytes()}),
    }
    paths = []
    for name, (im, kw) in files.items():
        im.save(tmp_path / name, **kw)
        paths.append(str(tmp_path / name))
    session = demo.Session()
    assert demo.update_entries(session, paths, demo.DEFAULT_MAX_PIXELS) == []
    demo.run(session, models, demo.Settings("test"))
    demo.write_downloads(session, models, demo.Settings("test"), tmp_path)
    for entry in session.entries:
        upright = (96, 64) if entry.name == "rotated.jpg" else (64, 96)
        assert entry.original.shape == entry.colorized.shape == (*upright, 3), entry.name
        with Image.open(entry.download) as out:
            assert out.size == upright[::-1]
        bits = 16 if entry.name == "gray16.png" else 8
        assert entry.photo.bits == bits and entry.download.read_bytes()[24] == bits  # PNG IHDR bit depth


def test_hints_and_references_steer_previews_and_downloads_without_the_network(
    models, astronaut, photo_dir, tmp_path, monkeypatch
):
    monkeypatch.setattr(demo.session, "PREVIEW_SIDE", 256)
    session = demo.Session()
    demo.update_entries(session, [str(astronaut)], demo.DEFAULT_MAX_PIXELS)
    settings = demo.Settings("test")
    demo.run(session, models, settings)
    entry = session.current()
    plain = entry.colorized.copy()
    net = models.get("test").net
    monkeypatch.setattr(net, "dense_with_features", lambda x: pytest.fail("the network ran"))
    demo.add_hint(session, 128, 210, "#20c040")  # preview pixel (x, y) of the 256 x 256 preview
    assert entry.hints[0].points == ((256.5, 420.5),)  # full-resolution pixel, as the command takes
    demo.redecode(session, models, settings)
    r, g, b = entry.colorized[210, 128].astype(int)
    assert g - max(r, b) > 20 and not np.array_equal(entry.colorized, plain)
    marked = demo.mark_hints(entry.colorized, entry)
    assert not np.array_equal(marked, entry.colorized) and np.array_equal(marked[0, 0], entry.colorized[0, 0])
    demo.write_downloads(session, models, settings, tmp_path)
    with Image.open(entry.download) as im:
        r, g, b = np.asarray(im.convert("RGB"))[420, 256].astype(int)
    assert g - max(r, b) > 20  # the full-resolution result has the hint too
    demo.remove_hints(session)
    demo.redecode(session, models, settings)
    assert entry.hints == [] and np.array_equal(entry.colorized, plain)
    monkeypatch.undo()

    errors = demo.set_references(session, [str(photo_dir / "coffee.png"), str(tmp_path / "nope.png")],
                                 demo.DEFAULT_MAX_PIXELS)  # fmt: skip
    assert len(errors) == 1 and "nope.png" in errors[0] and len(session.references) == 1
    demo.redecode(session, models, settings)
    assert entry.steered is not None and not np.array_equal(entry.colorized, plain)


def test_restore_switch_swaps_in_the_restored_photo_and_back(
    models, restorer_checkpoint, photo_dir, tmp_path
):
    from autocolor.restore import Restorer

    models._restorer = Restorer.load(restorer_checkpoint, threshold=0.0)  # every pixel a found defect
    session = demo.Session()
    demo.update_entries(session, [str(photo_dir / "coffee.png")], demo.DEFAULT_MAX_PIXELS)
    entry = session.current()
    uploaded = entry.photo.light.copy()
    demo.run(session, models, demo.Settings("test", restore=True))
    restored = models._restorer(uploaded).light
    np.testing.assert_array_equal(entry.photo.light, restored)
    assert (
        entry.defects.shape == (*entry.light.shape, 3) and (entry.defects == (230, 30, 30)).all(axis=2).all()
    )
    demo.write_downloads(session, models, demo.Settings("test", restore=True), tmp_path)
    with Image.open(entry.download) as im:
        mean = np.asarray(im, np.float32).mean(axis=2) / 255
    assert np.abs(mean - restored).max() < 0.01  # the download keeps the restored lightness
    demo.run(session, models, demo.Settings("test"))
    np.testing.assert_array_equal(entry.photo.light, uploaded)
    assert entry.defects is None and entry.pred is not None


def test_the_video_tabs_restore_switch_restores_the_clip(models, restorer_checkpoint, astronaut, tmp_path):
    pytest.importorskip("cv2")
    av = pytest.importorskip("av")
    from autocolor.demo.page import Handlers
    from autocolor.restore import Restorer

    models._restorer = Restorer.load(restorer_checkpoint)
    on = Handlers(models, tmp_path, demo.DEFAULT_MAX_PIXELS)
    src = _gray_clip(tmp_path / "clip.mp4", astronaut, frames=6)
    films = {}
    for restore in (False, True):
        out, status = on.on_clip(str(src), 0.85, restore, "test")
        assert "**6** frames" in status
        with av.open(out) as c:
            films[restore] = [f.to_ndarray(format="rgb24").astype(np.float32) for f in c.decode(video=0)]
    assert np.abs(films[True][3].mean(axis=2) - films[False][3].mean(axis=2)).mean() > 1  # restored lightness
    assert models.get("test").restorer is None  # the shared colorizer is left as it was


def _raw_h264(path, sizes_and_counts):
    """A raw H.264 stream (no container, no timestamps), its frames' size changing along the way."""
    av = pytest.importorskip("av")
    data = b""
    for (w, h), n in sizes_and_counts:
        codec = av.CodecContext.create("libx264", "w")
        codec.width, codec.height, codec.pix_fmt, codec.time_base = w, h, "yuv420p", Fraction(1, 25)
        for k in range(n):
            frame = av.VideoFrame.from_ndarray(np.full((h, w, 3), 8 * k % 256, np.uint8), format="rgb24")
            frame.pts = k
            data += b"".join(bytes(p) for p in codec.encode(frame))
        data += b"".join(bytes(p) for p in codec.encode(None))
    path.write_bytes(data)
    return path


def test_the_video_tab_counts_frames_and_checks_every_frames_size(models, tmp_path, monkeypatch):
    pytest.importorskip("cv2")
    from autocolor.demo import film

    monkeypatch.setattr(film, "MAX_SECONDS", 1.0)
    long = _raw_h264(tmp_path / "long.h264", [((64, 64), 60)])  # 60 frames, no timestamps
    out, status = film.colorize_clip(models.get("test"), long, tmp_path / "results")
    import av

    with av.open(str(out)) as c:
        assert sum(1 for _ in c.decode(video=0)) == 25  # 1 s at the stream's 25 frames/s
    monkeypatch.setattr(film, "MAX_FRAME_PIXELS", 64 * 64)
    sly = _raw_h264(tmp_path / "sly.h264", [((32, 32), 3), ((128, 128), 3)])  # declares 32x32
    with pytest.raises(film.VideoError, match="128x128 frame is larger"):
        film.colorize_clip(models.get("test"), sly, tmp_path / "results")


def test_a_clip_in_progress_stops_when_the_server_shuts_down(models, astronaut, tmp_path):
    pytest.importorskip("cv2")
    import threading

    from autocolor.demo import film

    stop = threading.Event()
    stop.set()
    src = _gray_clip(tmp_path / "clip.mp4", astronaut, frames=6)
    with pytest.raises(film.VideoError, match="shutting down"):
        film.colorize_clip(models.get("test"), src, tmp_path / "results", stop=stop)
    assert not list((tmp_path / "results").rglob("*.mp4"))  # nothing half-written is left


def test_a_session_keeps_a_bounded_number_of_photos_pixels_and_references(photo_dir, tmp_path, monkeypatch):
    from autocolor.demo import session as S

    monkeypatch.setattr(S, "SESSION_PHOTOS", 2)
    session = demo.Session()
    paths = [str(photo_dir / n) for n in ("coffee.png", "chelsea.png", "astronaut.png")]
    errors = demo.update_entries(session, paths, demo.DEFAULT_MAX_PIXELS)
    assert len(session.entries) == 2 and len(errors) == 1 and "astronaut.png: not kept" in errors[0]
    monkeypatch.setattr(S, "SESSION_PHOTOS", 24)
    monkeypatch.setattr(S, "SESSION_PIXELS", 400 * 600 + 1)  # coffee.png (400 x 600) fits, no more
    errors = demo.update_entries(session, paths, demo.DEFAULT_MAX_PIXELS)
    assert [e.name for e in session.entries] == ["coffee.png"] and len(errors) == 2
    monkeypatch.setattr(S, "SESSION_REFERENCES", 1)
    errors = demo.set_references(session, paths[:2], demo.DEFAULT_MAX_PIXELS)
    assert len(session.references) == 1 and "chelsea.png: not kept" in errors[0]


def test_sessions_share_a_memory_budget_and_the_least_recently_used_let_go(models, photo_dir, tmp_path):
    """Many visitors with large photos: past the server's budget, the session used longest ago lets go
    of its photos and is told so; the others, and the one just used, keep theirs."""
    from autocolor.demo.page import Handlers

    controls = ("test", 256, "median", "expectation", True, 1.2, 1.0, False, False)  # ... restore, mirror
    sizes = {}
    probe = Handlers(models, tmp_path, demo.DEFAULT_MAX_PIXELS, budget=demo.Budget(2**40))
    one = demo.Session()
    probe.on_files([str(photo_dir / "astronaut.png")], *controls, one)
    sizes["one"] = probe.budget.total()
    assert sizes["one"] > 512 * 512 * 4  # the photo, its previews and its prediction are counted
    on = Handlers(models, tmp_path, demo.DEFAULT_MAX_PIXELS, budget=demo.Budget(int(2.5 * sizes["one"])))
    a, b, c = demo.Session(), demo.Session(), demo.Session()
    for s in (a, b, c):
        on.on_files([str(photo_dir / "astronaut.png")], *controls, s)
    assert not a.entries and a.released  # the oldest let go when the third came
    assert len(b.entries) == len(c.entries) == 1 and on.budget.total() <= on.budget.limit
    *_, status = on.on_run(*controls, a)
    assert "let go to make room" in status and not a.released  # told once
    *_, status = on.on_files([str(photo_dir / "astronaut.png")], *controls, a)
    assert len(a.entries) == 1 and "let go" not in status and not b.entries  # now b was the oldest
