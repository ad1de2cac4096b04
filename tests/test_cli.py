import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from autocolor import cli, model


def run(*args):
    return cli.main([str(a) for a in args])


def test_one_photo_end_to_end(checkpoint, astronaut, tmp_path, capsys):
    out = tmp_path / "out.jpg"
    assert run(astronaut, "-o", out, "-w", checkpoint, "--quality", "90") == 0
    with Image.open(out) as im, Image.open(astronaut) as src:
        assert im.format == "JPEG" and im.size == src.size
    assert "Colorized:" in capsys.readouterr().out


def test_folder_batch_goes_on_past_bad_files_and_exits_non_zero(checkpoint, photo_dir, tmp_path, capsys):
    src = tmp_path / "in"
    (src / "sub").mkdir(parents=True)
    shutil.copy(photo_dir / "chelsea.png", src / "chelsea.png")
    shutil.copy(photo_dir / "coffee.png", src / "sub" / "coffee.png")
    (src / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (src / "empty.png").write_bytes(b"")
    out = tmp_path / "out"
    code = run(src, "-r", "-o", out, "-w", checkpoint, "-f", "webp")
    err = capsys.readouterr().err
    assert code == 1
    assert (out / "chelsea.webp").exists() and (out / "sub" / "coffee.webp").exists()
    assert "broken.jpg" in err and "empty.png" in err
    assert sorted(p.name for p in out.rglob("*")) == [
        "chelsea.webp",
        "coffee.webp",
        "sub",
    ]  # no partial files


def test_existing_outputs_and_inputs_are_protected(checkpoint, photo_dir, tmp_path, capsys):
    src = tmp_path / "coffee.png"
    shutil.copy(photo_dir / "coffee.png", src)
    before = src.read_bytes()
    assert run(src, "-o", src, "-w", checkpoint) == 1
    assert "is the input" in capsys.readouterr().err
    assert src.read_bytes() == before
    out = tmp_path / "o"
    assert run(src, "-o", out, "-w", checkpoint) == 0
    stamp = (out / "coffee.png").stat().st_mtime_ns
    assert run(src, "-o", out, "-w", checkpoint) == 1  # exists: refused
    assert run(src, "-o", out, "-w", checkpoint, "--skip-existing") == 0
    assert (out / "coffee.png").stat().st_mtime_ns == stamp
    assert run(src, "-o", out, "-w", checkpoint, "--overwrite") == 0


def test_globs_and_file_output_needs_one_input(checkpoint, photo_dir, tmp_path, capsys):
    pattern = str(photo_dir / "c*.png")  # chelsea, coffee (quoted: the program expands it)
    assert run(pattern, "-o", tmp_path / "one.png", "-w", checkpoint) == 2
    assert "names a file" in capsys.readouterr().err
    assert run(pattern, "-o", tmp_path / "d", "-w", checkpoint, "-q") == 0
    assert {p.name for p in (tmp_path / "d").iterdir()} >= {"chelsea.png", "coffee.png"}


def test_validated_flags(checkpoint, astronaut, tmp_path, capsys):
    for bad in (["-s", "500"], ["-p", "mean:expectation"], ["-d", "tpu"]):
        with pytest.raises(SystemExit) as e:
            run(astronaut, "-w", checkpoint, *bad)
        assert e.value.code == 2
    capsys.readouterr()
    assert run(astronaut, "-w", checkpoint, "-o", tmp_path / "x.gif") == 2
    assert "unsupported output format" in capsys.readouterr().err


def test_missing_bundled_model_says_so_and_writes_nothing(monkeypatch, astronaut, tmp_path, capsys):
    monkeypatch.setattr("autocolor.pipeline.WEIGHTS_DIR", tmp_path / "none")
    assert run(astronaut, "-o", tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert "no bundled" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_bad_checkpoints_are_named(checkpoint, astronaut, tmp_path, capsys):
    broken = tmp_path / "broken.pt"
    broken.write_bytes(b"not a checkpoint")
    assert run(astronaut, "-w", broken, "-o", tmp_path / "o") == 2
    assert "broken.pt" in capsys.readouterr().err
    tampered = tmp_path / "t.pt"
    shutil.copy(checkpoint, tampered)
    shutil.copy(model.checksum_path(checkpoint), model.checksum_path(tampered))
    with open(tampered, "ab") as f:
        f.write(b"x")
    assert run(astronaut, "-w", tampered, "-o", tmp_path / "o") == 2
    assert "SHA-256" in capsys.readouterr().err


def test_console_script_version():
    res = subprocess.run([sys.executable, "-m", "autocolor.cli", "--version"], capture_output=True, text=True)
    assert res.returncode == 0 and res.stdout.startswith("autocolor ")


def test_bundled_model_colorizes_offline(astronaut, tmp_path):
    """The README's promise: set-up plus one command colorizes a photo with the bundled model."""
    out = tmp_path / "out.png"
    assert run(astronaut, "-o", out) == 0
    with Image.open(out) as im:
        a = np.asarray(im.convert("RGB"), np.float32)
    assert a.shape == (512, 512, 3)
    assert np.abs(a - a.mean(axis=2, keepdims=True)).mean() > 2  # not a gray picture


def test_serve_explains_what_is_missing(monkeypatch, capsys):
    assert cli.main(["serve", "-w", "/no/such/model.pt"]) == 2
    assert "no such file" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gradio" else real(n, *a))
    assert cli.main(["serve"]) == 2
    assert "pip install 'autocolor[demo]'" in capsys.readouterr().err
