import importlib.util
import shutil
import subprocess
import sys

import numpy as np
import pytest
from PIL import Image

from autocolor import commands, model
from autocolor.commands import colorize, data, serve, video


def run(*args):
    return commands.main([str(a) for a in args])


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
    monkeypatch.setattr("autocolor.bundled.WEIGHTS_DIR", tmp_path / "none")
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
    res = subprocess.run([sys.executable, "-m", "autocolor", "--version"], capture_output=True, text=True)
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
    assert commands.main(["serve", "-w", "/no/such/model.pt"]) == 2
    assert "no such file" in capsys.readouterr().err
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n == "gradio" else real(n, *a))
    assert commands.main(["serve"]) == 2
    assert "pip install 'autocolor[demo]'" in capsys.readouterr().err


def test_serve_says_at_once_when_its_engine_cannot_run(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "openvino", None)  # as if autocolor[openvino] were not installed
    assert commands.main(["serve", "--engine", "openvino"]) == 2
    err = capsys.readouterr().err
    assert "openvino engine needs OpenVINO: pip install 'autocolor[openvino]'" in err and err.count("\n") == 1


def _malformed_checkpoints(checkpoint, tmp_path):
    """Checkpoints with the right format tag and something wrong inside, and an unsafe pickle."""
    import pickle

    import torch

    good = torch.load(checkpoint, weights_only=True)
    nan = {k: v.clone() for k, v in good["state_dict"].items()}
    key = next(k for k, v in nan.items() if v.is_floating_point())
    nan[key].fill_(float("nan"))
    variants = {
        "no-state": {k: v for k, v in good.items() if k != "state_dict"},
        "list-state": {**good, "state_dict": [1, 2, 3]},
        "non-tensor": {**good, "state_dict": {"a": "b"}},
        "stride-0": {**good, "config": {**good["config"], "grid_stride": 0}},
        "stride-huge": {**good, "config": {**good["config"], "grid_stride": 100000}},
        "nan-weights": {**good, "state_dict": nan},
    }
    paths = {}
    for name, ckpt in variants.items():
        paths[name] = tmp_path / f"{name}.pt"
        torch.save(ckpt, paths[name])

    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    paths["unsafe-pickle"] = tmp_path / "evil.pt"
    paths["unsafe-pickle"].write_bytes(pickle.dumps(Evil()))
    return paths


def test_every_malformed_checkpoint_is_one_line_and_exit_2(checkpoint, astronaut, tmp_path, capsys):
    for name, path in _malformed_checkpoints(checkpoint, tmp_path).items():
        out = tmp_path / f"out-{name}"
        assert run(astronaut, "-w", path, "-o", out) == 2, name
        captured = capsys.readouterr()
        err = captured.err.strip()
        assert len(err.splitlines()) == 1 and path.name in err, (name, err)
        assert "weights_only=False" not in err and "pwned" not in captured.out, name
        assert not out.exists(), name


def test_an_unexpected_error_on_one_file_does_not_stop_the_batch(
    checkpoint, photo_dir, tmp_path, capsys, monkeypatch
):
    from autocolor import pipeline

    real = pipeline.Colorizer.colorize_file

    def flaky(self, src, dst, **kw):
        if "chelsea" in str(src):
            raise RuntimeError("The size of tensor a (390) must match\nthe size of tensor b (391)")
        return real(self, src, dst, **kw)

    monkeypatch.setattr(pipeline.Colorizer, "colorize_file", flaky)
    src = tmp_path / "in"
    src.mkdir()
    for n in ("chelsea.png", "coffee.png"):
        shutil.copy(photo_dir / n, src / n)
    assert run(src, "-o", tmp_path / "out", "-w", checkpoint) == 1
    err = capsys.readouterr().err
    line = next(x for x in err.splitlines() if "chelsea" in x)
    assert "unexpected error (RuntimeError" in line and (tmp_path / "out" / "coffee.png").exists()


def test_non_finite_and_out_of_range_options_are_refused(checkpoint, astronaut, capsys):
    for bad in (["--boost", "inf"], ["--boost", "nan"], ["--boost", "1e39"], ["--temperature", "0"],
                ["--temperature", "1e-45"], ["--seed", "1e23"], ["--seed", "-1"], ["--quality", "1000"],
                ["--quality", "-5"], ["--max-pixels", "0"], ["--fade", "0.5,0.2"], ["--fade", "nan,1"],
                ["--fade", "0.2"]):  # fmt: skip
        with pytest.raises(SystemExit) as e:
            run(astronaut, "-w", checkpoint, *bad)
        assert e.value.code == 2, bad
        assert bad[0] in capsys.readouterr().err


def test_the_released_tools_decoding_is_a_flag_away(checkpoint, astronaut, tmp_path, capsys):
    tool, default = tmp_path / "tool.png", tmp_path / "default.png"
    assert run(astronaut, "-w", checkpoint, "-o", tool, "--fade", "0,0.96", "--boost", "1") == 0
    assert run(astronaut, "-w", checkpoint, "-o", default, "-v") == 0
    assert "fade 0.2,0.96, boost 1.2" in capsys.readouterr().err  # -v says how it decodes
    a, b = (np.asarray(Image.open(f), np.int16) for f in (tool, default))
    assert a.shape == b.shape and np.abs(a - b).max() > 0  # the flags reach the decoding


def test_mirror_and_restore_reach_the_colorizer(checkpoint, astronaut):
    from autocolor.commands.common import colorizer_from

    def built(*flags):
        return colorizer_from(colorize.parser().parse_args([str(astronaut), "-w", str(checkpoint), *flags]))

    assert not built().mirror and built("--mirror").mirror
    restoring = built("--restore", "defects")
    assert restoring.restorer.parts == ("defects",) and restoring.restorer.mirror  # the restorer looks twice


@pytest.mark.parametrize("sig,code", [("SIGTERM", 143), ("SIGINT", 130)])
def test_a_signal_while_writing_leaves_no_temporary_file(tmp_path, sig, code):
    """The command stopped in the middle of a write: one line, its exit status, nothing half-written."""
    import textwrap

    script = tmp_path / "slow_write.py"
    script.write_text(
        textwrap.dedent(f"""
        import os, signal, sys, time
        from autocolor import commands, imagefile
        signal.signal(signal.SIGINT, signal.default_int_handler)  # a background job inherits it ignored
        real = imagefile.png.write_png
        def slow(*a, **k):
            real(*a, **k)
            os.kill(os.getpid(), signal.{sig})  # arrives while the temporary file is open
            time.sleep(5)
        imagefile.png.write_png = slow
        sys.exit(commands.main(sys.argv[1:]))
    """)
    )
    out = tmp_path / "out"
    src = tmp_path / "in.png"
    Image.new("L", (64, 48), 128).save(src)
    res = subprocess.run(
        [sys.executable, script, src, "-o", out], capture_output=True, text=True, timeout=120
    )
    assert res.returncode == code, res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "Traceback" not in res.stderr
    assert not out.exists() or not any(out.iterdir())  # no orphan .in.png.XXXX.tmp


def _parsers():
    from autocolor import evaluate, export, train

    return {"autocolor": colorize.parser(), "train": train.parser(), "evaluate": evaluate.parser(),
            "serve": serve.parser(), "data fetch": data.parser()._subparsers._group_actions[0]
            .choices["fetch"], "export-backbone": export.parser(), "video": video.parser()}  # fmt: skip


@pytest.mark.parametrize(
    "name", ["autocolor", "train", "evaluate", "serve", "data fetch", "export-backbone", "video"]
)
def test_every_option_has_help_with_its_default(name):
    import argparse

    p = _parsers()[name]
    for action in p._actions:
        if isinstance(action, (argparse._HelpAction, argparse._VersionAction)) or not action.option_strings:
            continue
        assert action.help, (name, action.option_strings)
        assert "default" in action.help, (name, action.option_strings, action.help)
    assert "``" not in p.format_help()  # plain text, not reST


def test_help_version_and_usage_errors_need_no_torch():
    code = (
        "import sys, contextlib, io\n"
        "from autocolor import commands\n"
        "for argv in (['--help'], ['-V'], ['video', '--help'], ['x.png', '--boost', 'much']):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try:\n"
        "            commands.main(argv)\n"
        "        except SystemExit:\n"
        "            pass\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def test_version_names_the_package_and_every_bundled_model(capsys):
    from autocolor import __version__, bundled

    with pytest.raises(SystemExit):
        commands.main(["-V"])
    out = " ".join(capsys.readouterr().out.split())  # argparse wraps long lines
    assert __version__ in out
    for name, version in bundled.VERSIONS.items():
        assert f"{name} {version}" in out
        fmt = "autocolor-restorer/1" if name.endswith("restorer") else model.FORMAT
        assert model.load_checkpoint(bundled.weights(name), fmt=fmt)["meta"]["version"] == version


def test_ctrl_c_while_starting_is_one_line(monkeypatch, capsys):
    import types

    from autocolor import __main__ as entry

    class Starting(types.ModuleType):
        def __getattr__(self, name):
            raise KeyboardInterrupt  # as if Ctrl-C came while the command's modules were being imported

    monkeypatch.setitem(sys.modules, "autocolor.commands", Starting("autocolor.commands"))
    monkeypatch.setattr(entry.signal, "signal", lambda *args: None)  # pytest's own handlers stay
    assert entry.run() == 130
    assert capsys.readouterr().err.strip() == "autocolor: interrupted (Ctrl-C) while starting"


def test_python_dash_m_autocolor_runs_the_command():
    out = subprocess.run(
        [sys.executable, "-m", "autocolor", "-V"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("autocolor ")
