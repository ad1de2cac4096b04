"""The ONNX Runtime engine: the same histograms as PyTorch's, one export per input size."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import Colorizer, commands, engines

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")


@pytest.fixture(scope="module")
def pair():
    return Colorizer.from_pretrained(size=256), Colorizer.from_pretrained(size=256, engine="onnx")


def test_onnx_predicts_what_torch_predicts(pair, astronaut):
    plain, fast = pair
    gray = Image.open(astronaut).convert("L")
    a, b = plain.predict(gray, features=True), fast.predict(gray, features=True)
    for name in a.probs:
        torch.testing.assert_close(b.probs[name], a.probs[name], atol=1e-4, rtol=0)
    torch.testing.assert_close(b.features, a.features, atol=1e-3, rtol=1e-3)
    assert not fast.net.training  # exporting leaves the shared network in eval mode
    out, ref = (np.asarray(c.colorize(gray), np.int16) for c in (fast, plain))
    assert np.abs(out - ref).max() <= 1  # the same picture, a level apart at most here and there


def test_one_export_per_input_size(pair, photo_dir, monkeypatch):
    _, fast = pair
    calls = []
    real = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: calls.append(a[1][0].shape) or real(*a, **k))
    fast._dense.sessions.clear()
    for name in ("chelsea.png", "coffee.png", "astronaut.png", "chelsea.png"):
        fast.predict(Image.open(photo_dir / name).convert("L"))
    assert len(calls) == 2  # chelsea and coffee share a processing size (3:2); astronaut is square


def test_the_engine_flag_and_its_one_line_errors(tmp_path, astronaut, capsys, monkeypatch):
    out = tmp_path / "o.png"
    assert commands.main([str(astronaut), "-o", str(out), "-s", "256", "--engine", "onnx", "-q"]) == 0
    assert out.exists()
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    assert commands.main([str(astronaut), "-o", str(tmp_path / "p.png"), "--engine", "onnx"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "autocolor[onnx]" in err
    with pytest.raises(engines.EngineError, match="CPU"):
        engines.dense(torch.nn.Identity(), "onnx", torch.device("cuda"))
