"""``--ray``: a batch over a local Ray with two workers gives the plain command's files, byte for byte,
survives a corrupt file and a worker that dies, and resumes from its manifest."""

from __future__ import annotations

import argparse
import functools
import os
import shutil
import sys
from pathlib import Path

import pytest
from PIL import Image

from autocolor import cluster, commands
from autocolor.commands import colorize

ray = pytest.importorskip("ray")

PHOTOS = ("astronaut.png", "camera.png", "chelsea.png", "coffee.png", "rocket.jpg", "moon.png")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray for the module, with two CPUs: two workers of one thread each."""
    import logging

    ray.init(num_cpus=2, include_dashboard=False, configure_logging=False, logging_level=logging.ERROR)
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])  # workers cannot import tests/
    yield
    ray.shutdown()


@pytest.fixture()
def scans(photo_dir, tmp_path) -> Path:
    """Gray photos in a folder tree, and one corrupt file among them."""
    src = tmp_path / "scans"
    (src / "box2").mkdir(parents=True)
    for i, name in enumerate(PHOTOS):
        Image.open(photo_dir / name).convert("L").save(
            src / ("box2" if i % 2 else "") / Path(name).with_suffix(".png")
        )
    (src / "box2" / "torn.png").write_bytes(b"\x89PNG\r\n\x1a\n then nothing")
    return src


def _run(*args) -> int:
    return commands.main([str(a) for a in args])


def _files(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*.png"))}


def _rows(folder: Path) -> list[dict]:
    import csv

    with open(folder / cluster.MANIFEST, newline="") as f:
        return list(csv.DictReader(f))


def test_ray_gives_the_plain_bytes_with_hints_restoration_and_a_corrupt_file(local_ray, scans, tmp_path):
    common = ["-r", "-s", "256", "--threads", "1", "-q", "--hint", "60,40,orange", "--restore", "levels"]
    assert _run(scans, "-o", tmp_path / "plain", *common) == 1  # the torn file fails
    assert _run(scans, "-o", tmp_path / "ray", "--ray", "--workers", "2", *common) == 1
    plain, spread = _files(tmp_path / "plain"), _files(tmp_path / "ray")
    assert len(plain) == len(PHOTOS) and "box2/camera.png" in plain  # the tree is mirrored
    assert spread == plain
    rows = {Path(r["input"]).name: r for r in _rows(tmp_path / "ray")}
    assert rows["torn.png"]["status"] == "failed" and "torn.png" in rows["torn.png"]["error"]
    assert all(rows[Path(name).with_suffix(".png").name]["status"] == "done" for name in PHOTOS)
    assert float(rows["astronaut.png"]["megapixels"]) == pytest.approx(512 * 512 / 1e6, abs=1e-3)


def _logged_step(args: argparse.Namespace, log: Path, victim: str):
    """The real one-photo step, logging every call; the worker dies right after writing ``victim``."""
    step = colorize.photo_step(args)

    def run(src: Path, dst: Path) -> str | None:
        with open(log, "a") as f:
            f.write(src.name + "\n")
        error = step(src, dst)
        if src.name == victim and not (log.parent / "died").exists():
            (log.parent / "died").touch()
            os._exit(1)  # the worker process dies, its chunk unfinished
        return error

    return run


def test_a_worker_that_dies_loses_nothing_and_does_nothing_twice(local_ray, scans, tmp_path):
    args = colorize.parser().parse_args([str(scans), "-r", "-s", "256", "--threads", "1"])
    args.hint, args.hints = [], None
    pairs = colorize.plan_outputs(colorize.expand_inputs([str(scans)], True)[0], str(tmp_path / "out"), "png")
    pairs = [(s, d) for s, d in pairs if s.name != "torn.png"]
    tasks = [cluster.Task.plan(s, d, cluster.photo_megapixels(s)) for s, d in pairs]
    assert max(len(c) for c in cluster.chunks(tasks, 2)) >= 1
    log = tmp_path / "calls.txt"
    build = functools.partial(_logged_step, args, log, victim="chelsea.png")
    rows = list(cluster.run(tasks, build, threads=1, workers=2))
    assert (tmp_path / "died").exists()  # the worker did die
    assert sorted(r["input"] for r in rows) == sorted(t.src for t in tasks)
    assert all(r["status"] == "done" for r in rows)
    calls = log.read_text().split()
    assert sorted(calls) == sorted(s.name for s, _ in pairs)  # each photo colorized exactly once
    assert all(d.exists() for _, d in pairs)
    reference = tmp_path / "plain"
    assert _run(scans, "-r", "-s", "256", "--threads", "1", "-q", "-o", reference) == 1
    assert _files(tmp_path / "out") == _files(reference)


def test_a_stopped_run_resumes_with_only_what_is_missing(local_ray, scans, tmp_path, capsys):
    out = tmp_path / "out"
    opts = ["-r", "-s", "256", "--threads", "1", "--ray", "-q"]
    assert _run(scans, "-o", out, *opts) == 1
    # as if the run had been stopped before two photos: their outputs and rows missing, the last row cut off
    rows = _rows(out)
    missing = {"astronaut.png", "box2/camera.png"}
    for name in missing:
        (out / name).unlink()
    kept = [r for r in rows if str(Path(r["output"]).relative_to(out)) not in missing]
    with open(out / cluster.MANIFEST, "w", newline="") as f:
        f.write(",".join(cluster.FIELDS) + "\n")
        f.writelines(",".join(r[k] for k in cluster.FIELDS) + "\n" for r in kept)
        f.write(f"{scans / 'chelsea.png'},{out}/chel")  # a line cut off by the stop
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    capsys.readouterr()
    assert _run(scans, "-o", out, *opts) == 1  # only the torn file fails, no "exists" refusals
    err = capsys.readouterr().err
    assert "exists" not in err and "torn.png" in err
    assert all(p.stat().st_mtime_ns == t for p, t in before.items())  # done photos left alone
    assert all((out / name).exists() for name in missing)


def test_ray_missing_is_one_line_naming_the_extra(monkeypatch, tmp_path, capsys, astronaut):
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray raises ImportError
    assert _run(astronaut, "-o", tmp_path / "o", "--ray") == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "autocolor[cluster]" in err


@pytest.mark.parametrize("text", ["auto", "local", "10.0.0.1:6379", "ray://head:10001"])
def test_ray_addresses(text):
    assert cluster.address(text) == text


def test_an_input_mistaken_for_an_address_is_a_usage_error(capsys, astronaut):
    with pytest.raises(SystemExit) as exit_:
        commands.main(["--ray", str(astronaut)])
    assert exit_.value.code == 2 and "put --ray after the inputs" in capsys.readouterr().err


def test_chunks_hold_about_equal_megapixels():
    tasks = [cluster.Task(f"{i}.png", f"o/{i}.png", mp) for i, mp in enumerate([40, 1, 1, 1, 1, 30, 2, 2])]
    parts = cluster.chunks(tasks, workers=2)
    assert [t for part in parts for t in part] == tasks  # every task once, in order
    loads = [sum(t.megapixels for t in part) for part in parts]
    target = sum(t.megapixels for t in tasks) / 8  # four chunks per worker
    assert len(parts) >= 4
    assert all(load <= target or len(part) == 1 for load, part in zip(loads, parts, strict=True))
    assert len(cluster.chunks(tasks[:1], workers=8)) == 1


def test_manifest_reads_its_last_row_per_file_and_skips_a_cut_line(tmp_path):
    m = cluster.Manifest(tmp_path / cluster.MANIFEST)
    out = tmp_path / "a.png"
    m.write(cluster.Task("in/a.png", str(out)).row("failed", "bad"))
    m.write(cluster.Task("in/a.png", str(out)).row("done"))
    out.write_bytes(b"x")
    with open(m.path, "a") as f:
        f.write("in/b.png,")
    again = cluster.Manifest(m.path)
    assert again.done(Path("in/a.png"), out) and not again.done(Path("in/b.png"), tmp_path / "b.png")
    out.unlink()
    assert not again.done(Path("in/a.png"), out)  # done, but the output has gone since


@pytest.mark.slow
def test_video_ray_gives_each_worker_whole_films(local_ray, tmp_path):
    av = pytest.importorskip("av")
    import numpy as np

    films = tmp_path / "films"
    films.mkdir()
    rng = np.random.default_rng(0)
    for name in ("a", "b"):
        with av.open(str(films / f"{name}.mp4"), "w") as out:
            stream = out.add_stream("libx264", rate=10)
            stream.width, stream.height, stream.pix_fmt = 128, 96, "yuv420p"
            base = rng.integers(0, 255, (96, 128), dtype=np.uint8)
            for i in range(8):
                frame = av.VideoFrame.from_ndarray(np.roll(base, i, axis=1), format="gray")
                out.mux(stream.encode(frame.reformat(format="yuv420p")))
            out.mux(stream.encode())
    common = ["-s", "128", "--threads", "1", "-q"]
    assert _run("video", films / "a.mp4", films / "b.mp4", "-o", tmp_path / "plain", *common) == 0
    assert _run("video", films / "a.mp4", films / "b.mp4", "-o", tmp_path / "ray", "--ray", *common) == 0
    for name in ("a.mp4", "b.mp4"):
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "plain" / name).read_bytes()
    assert sorted(r["status"] for r in _rows(tmp_path / "ray")) == ["done", "done"]
    shutil.rmtree(tmp_path / "plain")
