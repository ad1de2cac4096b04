"""The ONNX Runtime and OpenVINO engines: the same histograms as PyTorch's, one export per input size."""

from __future__ import annotations

import sys

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import Colorizer, commands, engines

pytest.importorskip("onnx")
RUNTIMES = {"onnx": "onnxruntime", "openvino": "openvino"}
# (probabilities, features, picture levels) apart at most: OpenVINO computes in bfloat16 on processors
# with bfloat16 units (its default there), which moves a probability by up to 0.02 and a pixel by 2 levels
TOLERANCE = {"onnx": (1e-4, 1e-3, 1), "openvino": (0.05, 0.5, 3)}


@pytest.fixture(scope="module", params=sorted(RUNTIMES))
def pair(request):
    pytest.importorskip(RUNTIMES[request.param])
    return Colorizer.from_pretrained(size=256), Colorizer.from_pretrained(size=256, engine=request.param)


def test_an_engine_predicts_what_torch_predicts(pair, astronaut):
    plain, fast = pair
    probs, feats, levels = TOLERANCE[fast.engine]
    gray = Image.open(astronaut).convert("L")
    a, b = plain.predict(gray, features=True), fast.predict(gray, features=True)
    for name in a.probs:
        torch.testing.assert_close(b.probs[name], a.probs[name], atol=probs, rtol=0)
    torch.testing.assert_close(b.features, a.features, atol=feats, rtol=1e-3)
    assert not fast.net.training  # exporting leaves the shared network in eval mode
    out, ref = (np.asarray(c.colorize(gray), np.int16) for c in (fast, plain))
    assert np.abs(out - ref).max() <= levels  # the same picture, a level or two apart here and there
    assert np.abs(out - ref).mean() < 0.5


def test_one_export_per_input_size(pair, photo_dir, monkeypatch):
    _, fast = pair
    calls = []
    real = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: calls.append(a[1][0].shape) or real(*a, **k))
    fast._dense.compiled.clear()
    for name in ("chelsea.png", "coffee.png", "astronaut.png", "chelsea.png"):
        fast.predict(Image.open(photo_dir / name).convert("L"))
    assert len(calls) == 2  # chelsea and coffee share a processing size (3:2); astronaut is square


@pytest.mark.parametrize("engine", sorted(RUNTIMES))
def test_the_engine_flag_and_its_one_line_errors(engine, tmp_path, astronaut, capsys, monkeypatch):
    pytest.importorskip(RUNTIMES[engine])
    out = tmp_path / "o.png"
    assert commands.main([str(astronaut), "-o", str(out), "-s", "256", "--engine", engine, "-q"]) == 0
    assert out.exists()
    monkeypatch.setitem(sys.modules, RUNTIMES[engine], None)
    assert commands.main([str(astronaut), "-o", str(tmp_path / "p.png"), "--engine", engine]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and f"autocolor[{engine}]" in err
    with pytest.raises(engines.EngineError, match="CPU"):
        engines.dense(torch.nn.Identity(), engine, torch.device("cuda"))


@pytest.mark.parametrize("engine", sorted(RUNTIMES))
def test_the_restorer_runs_on_an_engine_at_any_size_from_one_export(engine, astronaut, monkeypatch):
    pytest.importorskip(RUNTIMES[engine])
    from autocolor.restore import Restorer

    calls = []
    real = torch.onnx.export
    monkeypatch.setattr(torch.onnx, "export", lambda *a, **k: calls.append(1) or real(*a, **k))
    plain, fast = Restorer.from_pretrained(), Restorer.from_pretrained(engine=engine)
    light = np.asarray(Image.open(astronaut).convert("L"), np.float32) / 255
    for crop in (light, light[:300, :417]):  # two sizes, neither a multiple of the network's
        ref, out = plain(crop), fast(crop)
        assert out.light.shape == crop.shape
        assert np.abs(out.light - ref.light).max() < TOLERANCE[engine][2] / 255 + 1e-4
        assert np.abs(out.light - ref.light).mean() < 0.5 / 255
    assert len(calls) == 1


def test_a_colorizer_runs_its_view_and_restorer_on_its_engine():
    pytest.importorskip("onnxruntime")
    viewing = Colorizer.from_pretrained(size=256, engine="onnx")
    assert viewing.view.restorer.engine == "onnx"
    assert viewing.with_restorer("all").restorer.engine == "onnx"
