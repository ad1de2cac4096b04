"""``autocolor video``: frames, timing and sound kept; steadier colour than frame by frame; bad input."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from PIL import Image

from autocolor import Colorizer, commands

av = pytest.importorskip("av")
pytest.importorskip("cv2")
from autocolor import video  # noqa: E402

FRAMES, RATE = 16, 8


def _pan(astronaut, n: int = FRAMES) -> list[np.ndarray]:
    """A camera panning across a real photo: n RGB frames of 160 x 224 (width x height... 224 x 160)."""
    rgb = np.asarray(Image.open(astronaut).convert("RGB"))
    return [np.ascontiguousarray(rgb[100:260, 40 + 6 * k : 264 + 6 * k]) for k in range(n)]


@pytest.fixture(scope="module")
def clip(astronaut, tmp_path_factory):
    """A gray H.264 clip with an AAC sound track (a tone), 2 s at 8 frames/s."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=RATE)
        vs.width, vs.height, vs.pix_fmt = 224, 160, "yuv420p"
        aus = out.add_stream("aac", rate=16000)
        for k, rgb in enumerate(_pan(astronaut)):
            gray = np.repeat(rgb.mean(axis=2, keepdims=True).astype(np.uint8), 3, axis=2)
            frame = av.VideoFrame.from_ndarray(gray, format="rgb24")
            frame.pts, frame.time_base = k, Fraction(1, RATE)
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        t = np.arange(16000 * FRAMES // RATE) / 16000
        tone = (0.3 * np.sin(2 * np.pi * 440 * t)).astype(np.float32)[None]
        for i in range(0, tone.shape[1], 1024):
            chunk = av.AudioFrame.from_ndarray(tone[:, i : i + 1024], format="fltp", layout="mono")
            chunk.sample_rate, chunk.pts = 16000, i
            out.mux(aus.encode(chunk))
        out.mux(aus.encode(None))
    return path


def test_video_keeps_frames_timing_and_sound(clip, tmp_path, capsys):
    dst = tmp_path / "out" / "colour.mp4"
    assert commands.main(["video", str(clip), "-o", str(dst), "-s", "256", "-q"]) == 0
    with av.open(str(clip)) as a, av.open(str(dst)) as b:
        assert b.streams.video[0].average_rate == a.streams.video[0].average_rate == RATE
        assert [s.codec_context.name for s in b.streams.audio] == ["aac"]  # copied, not re-encoded
        a_audio = [bytes(p) for p in a.demux(audio=0) if p.size]
        b_audio = [bytes(p) for p in b.demux(audio=0) if p.size]
        assert a_audio == b_audio
    with av.open(str(dst)) as b:
        frames = [f.to_ndarray(format="rgb24") for f in b.decode(video=0)]
    assert len(frames) == FRAMES and frames[0].shape == (160, 224, 3)
    colour = np.mean([np.ptp(f.astype(int), axis=2).mean() for f in frames])
    assert colour > 5  # colorized, not gray
    assert not any(p.name.endswith(".tmp.mp4") for p in dst.parent.iterdir())  # no leftovers
    assert dst.stat().st_mode & 0o777 == 0o644  # readable as photos are


def test_video_restore_cleans_each_frame(clip, restorer_checkpoint, tmp_path):
    dst = tmp_path / "restored.mp4"
    args = ["video", str(clip), "-o", str(dst), "-s", "256", "-q", "--carry", "0"]
    assert commands.main([*args, "--restore", "--restorer", str(restorer_checkpoint)]) == 0
    plain = tmp_path / "plain.mp4"
    assert commands.main(["video", str(clip), "-o", str(plain), "-s", "256", "-q", "--carry", "0"]) == 0
    with av.open(str(dst)) as a, av.open(str(plain)) as b:
        fa, fb = (next(c.decode(video=0)).to_ndarray(format="rgb24").astype(float) for c in (a, b))
    assert np.abs(fa.mean(axis=2) - fb.mean(axis=2)).mean() > 1  # the restored lightness, not the film's


def test_clip_and_bad_inputs(clip, tmp_path, capsys):
    part = tmp_path / "part.mp4"
    assert (
        commands.main(
            ["video", str(clip), "-o", str(part), "-s", "256", "-q", "--start", "0.5", "--end", "1"]
        )
        == 0
    )
    with av.open(str(part)) as c:
        assert len(list(c.decode(video=0))) == RATE // 2
    bad = tmp_path / "film.mp4"
    bad.write_bytes(b"this is not a film")
    silent = tmp_path / "sound.wav"
    with av.open(str(silent), "w") as out:
        s = out.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        out.mux(s.encode(frame))
        out.mux(s.encode(None))
    capsys.readouterr()
    assert (
        commands.main(
            ["video", str(bad), str(silent), str(clip), "-o", str(tmp_path / "o"), "-q", "-s", "256"]
        )
        == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "film.mp4" in err[0] and "no video stream" in err[1]
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["clip.mp4"]  # the batch went on


def test_video_mode_is_steadier_than_frame_by_frame(astronaut):
    colorizer = Colorizer.from_pretrained(size=256)
    frames = _pan(astronaut, 10)
    lights = [f.mean(axis=2).astype(np.float32) / 255 for f in frames]

    def jitter(outs):  # colour change between frames where the scene is the same (a 6-pixel pan)
        pairs = zip(outs, outs[1:], strict=False)
        return np.mean([np.abs(a[:, 6:].astype(int) - b[:, :-6].astype(int)).mean() for a, b in pairs])

    each = list(video.colorize_frames(colorizer, lights, steady=None))
    steady = list(video.colorize_frames(colorizer, lights, video.Steady()))
    assert jitter(steady) < 0.8 * jitter(each)
    for out, light in zip(steady, lights, strict=True):
        assert np.abs(out.mean(axis=2) / 255 - light).max() < 2.5 / 255  # each frame's own lightness


# ---------------------------------------------------------------- image sequences
def test_frame_patterns_and_folders(tmp_path):
    from autocolor.video import sequence

    for n in (100, 9, 10):
        Image.new("L", (8, 8)).save(tmp_path / f"scan{n:03d}.png")
    (tmp_path / "scan10.png").write_bytes(b"")  # wrong width for %03d: not a frame
    (tmp_path / "notes.txt").write_text("x")
    found = sequence.frames(tmp_path / "scan%03d.png")
    assert [f.number for f in found] == [9, 10, 100]
    with pytest.raises(sequence.SequenceError, match="scan010.png and scan10.png are both frame 10"):
        sequence.frames(tmp_path / "scan%d.png")  # their outputs would overwrite each other
    assert [f.path.name for f in sequence.frames(tmp_path)][:2] == ["scan009.png", "scan010.png"]
    assert sequence.frame_path(tmp_path / "out_%05d.tif", 42).name == "out_00042.tif"
    assert sequence.is_sequence("a/%04d.png") and sequence.is_sequence(tmp_path)
    assert not sequence.is_sequence("film.mp4")
    for bad, message in [("a%d_%d.png", "exactly one"), ("gone/%04d.png", "does not exist"),
                         ("none%04d.png", "no frames")]:  # fmt: skip
        with pytest.raises(sequence.SequenceError, match=message):
            sequence.frames(tmp_path / bad)


def test_a_stream_without_timestamps_to_frames_is_timed_by_frame_count(tmp_path):
    """Raw H.264 carries no timestamps: --end 1 must still stop after one second's frames."""
    from fractions import Fraction

    codec = av.CodecContext.create("libx264", "w")
    codec.width, codec.height, codec.pix_fmt, codec.time_base = 64, 48, "yuv420p", Fraction(1, 25)
    data = b""
    for k in range(50):
        frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 4 * k, np.uint8), format="rgb24")
        frame.pts = k
        data += b"".join(bytes(p) for p in codec.encode(frame))
    data += b"".join(bytes(p) for p in codec.encode(None))
    raw = tmp_path / "raw.h264"
    raw.write_bytes(data)
    frames = tmp_path / "frames" / "%04d.png"
    assert commands.main(["video", str(raw), "-o", str(frames), "-s", "128", "-q", "--end", "1"]) == 0
    assert len(list(frames.parent.iterdir())) == 25  # at 25 frames/s, not all 50 at time 0


def test_video_to_frames_and_back(clip, tmp_path, capsys):
    frames = tmp_path / "frames" / "%04d.png"
    assert commands.main(["video", str(clip), "-o", str(frames), "-s", "256", "-q", "--end", "1"]) == 0
    names = sorted(p.name for p in frames.parent.iterdir())
    assert names == [f"{k:04d}.png" for k in range(1, RATE + 1)]  # one second, numbered from 1
    with Image.open(frames.parent / "0001.png") as im:
        assert im.size == (224, 160) and im.mode == "RGB"
    # and again: an existing sequence is not overwritten without --overwrite
    assert commands.main(["video", str(clip), "-o", str(frames), "-q"]) == 1
    assert "exists" in capsys.readouterr().err
    film = tmp_path / "film.mp4"
    assert commands.main(["video", str(frames), "-o", str(film), "--fps", "4", "-s", "256", "-q"]) == 0
    with av.open(str(film)) as f:
        assert f.streams.video[0].average_rate == 4
        assert len(list(f.decode(video=0))) == RATE


def test_sixteen_bit_frames_stay_sixteen_bit(astronaut, tmp_path):
    src = tmp_path / "scan"
    src.mkdir()
    for k, rgb in enumerate(_pan(astronaut, 3)):
        gray16 = (rgb.mean(axis=2) * 257).astype(np.uint16)
        Image.fromarray(gray16).save(src / f"f{k + 7}.png")  # numbered from 7, as a scan may be
    out = tmp_path / "out" / "%06d.png"
    assert commands.main(["video", str(src / "f%d.png"), "-o", str(out), "-s", "256", "-q"]) == 0
    assert sorted(p.name for p in out.parent.iterdir()) == ["000007.png", "000008.png", "000009.png"]
    raw = (out.parent / "000007.png").read_bytes()
    assert raw[24] == 16  # IHDR bit depth


def test_a_video_needs_frames_of_one_size(tmp_path, capsys):
    src = tmp_path / "mixed"
    src.mkdir()
    Image.new("L", (64, 48), 90).save(src / "1.png")
    Image.new("L", (48, 64), 90).save(src / "2.png")
    assert commands.main(["video", str(src), "-o", str(tmp_path / "m.mp4"), "-q"]) == 1
    assert "one size" in capsys.readouterr().err
    assert not (tmp_path / "m.mp4").exists() and not list(tmp_path.glob(".m.mp4*"))


def test_an_output_ffmpeg_cannot_write_is_one_line_and_leaves_nothing(clip, tmp_path, capsys):
    frames = tmp_path / "frames"
    frames.mkdir()
    Image.new("L", (64, 48), 90).save(frames / "1.png")
    for src, dst in ((clip, "c.xyz"), (frames, "f.gif"), (frames, "f.xyz"), (clip, "c.gif")):
        assert commands.main(["video", str(src), "-o", str(tmp_path / dst), "-q", "-s", "256"]) == 1
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and dst in err[0] and ".mp4" in err[0], err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["frames"]


def test_a_reference_photo_colours_every_frame(clip, astronaut, tmp_path, capsys):
    truth = _pan(astronaut)[:RATE]

    def error(folder) -> float:
        frames = [np.asarray(Image.open(p), np.float32) for p in sorted(folder.iterdir())]
        assert len(frames) == RATE
        return float(np.mean([(f - t) ** 2 for f, t in zip(frames, truth, strict=True)]))

    plain, steered = tmp_path / "plain", tmp_path / "steered"
    common = ["-s", "256", "-q", "--end", "1"]
    assert commands.main(["video", str(clip), "-o", str(plain / "%03d.png"), *common]) == 0
    assert commands.main(["video", str(clip), "-o", str(steered / "%03d.png"), "--reference", str(astronaut),
                     *common]) == 0  # fmt: skip
    assert error(steered) < 0.7 * error(plain)
    assert commands.main(["video", str(clip), "-o", str(tmp_path / "x.mp4"), "--reference", str(clip)]) == 2
    assert "--reference" in capsys.readouterr().err


def _write(path, frames, pts, time_base, rotation=0):
    """A small H.264 film of uint8 RGB ``frames`` at the given timestamps (and display rotation)."""
    with av.open(str(path), "w") as out:
        vs = out.add_stream("libx264", rate=30)
        vs.width, vs.height, vs.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        vs.codec_context.time_base = time_base
        if rotation:
            vs.set_display_rotation(rotation)
        for rgb, t in zip(frames, pts, strict=True):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts, frame.time_base = t, time_base
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    return path


def test_variable_frame_rate_keeps_every_timestamp(astronaut, tmp_path):
    rng = np.random.default_rng(0)
    pts = np.round(np.cumsum(1 / 30 + rng.uniform(-0.008, 0.008, 20)) * 90000).astype(int).tolist()
    src = _write(tmp_path / "phone.mp4", _pan(astronaut, 20), pts, Fraction(1, 90000))
    dst = tmp_path / "out.mp4"
    assert commands.main(["video", str(src), "-o", str(dst), "-s", "128", "-q"]) == 0
    with av.open(str(src)) as a, av.open(str(dst)) as b:
        assert [f.pts * f.time_base for f in a.decode(video=0)] == [
            f.pts * f.time_base for f in b.decode(video=0)
        ]


def test_a_portrait_phone_video_comes_out_upright(tmp_path):
    stored = np.zeros((32, 64, 3), np.uint8)
    stored[:, :16] = 255  # the top of the picture, stored on its side
    src = _write(tmp_path / "portrait.mp4", [stored] * 4, list(range(4)), Fraction(1, 30), rotation=-90)
    dst = tmp_path / "out.mp4"
    assert commands.main(["video", str(src), "-o", str(dst), "-s", "128", "-q", "--carry", "0"]) == 0
    with av.open(str(dst)) as c:
        frame = next(c.decode(video=0))
    light = frame.to_ndarray(format="rgb24").mean(axis=2)
    assert light.shape == (64, 32) and frame.rotation == 0
    assert light[:12].mean() > 200 and light[20:].mean() < 50


def test_a_film_cut_short_fails_unless_asked_to_keep_what_was_read(astronaut, tmp_path, capsys):
    full = tmp_path / "full.mp4"
    rng = np.random.default_rng(0)
    frames = [(rng.random((64, 64, 3)) * 255).astype(np.uint8) for _ in range(40)]  # packets of one size
    with av.open(str(full), "w", options={"movflags": "faststart"}) as out:  # the index first: opens when cut
        vs = out.add_stream("libx264", rate=RATE)
        vs.width, vs.height, vs.pix_fmt = 64, 64, "yuv420p"
        for k, rgb in enumerate(frames):
            frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
            frame.pts = k
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])  # a download stopped half-way
    dst = tmp_path / "out.mp4"
    assert commands.main(["video", str(cut), "-o", str(dst), "-s", "128", "-q"]) == 1
    assert "cut short" in capsys.readouterr().err and not dst.exists()
    assert commands.main(["video", str(cut), "-o", str(dst), "-s", "128", "-q", "--keep-partial"]) == 0
    err = capsys.readouterr().err
    assert "warning" in err and "cut short" in err and dst.exists()
    assert commands.main(["video", str(full), "-o", str(tmp_path / "whole.mp4"), "-s", "128", "-q"]) == 0
    assert capsys.readouterr().err == ""


def test_video_takes_the_photos_model_and_decoding_options_and_end_is_no_cut(clip, tmp_path, capsys):
    dst = tmp_path / "lite0.mp4"
    args = ["video", str(clip), "-o", str(dst), "-s", "128", "-q", "--backbone", "effnet-lite0"]
    assert commands.main([*args, "-p", "median:mode", "--boost", "1.5", "--fade", "0,0.9", "--end", "1"]) == 0
    assert capsys.readouterr().err == ""  # stopping at --end is not a film cut short
    with av.open(str(dst)) as c:
        assert sum(1 for _ in c.decode(video=0)) == RATE  # 1 s
    with pytest.raises(SystemExit) as usage:  # bounded as for photos
        commands.main(["video", str(clip), "-o", str(tmp_path / "x.mp4"), "--boost", "99"])
    assert usage.value.code == 2
