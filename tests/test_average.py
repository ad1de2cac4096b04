from __future__ import annotations

import pytest
import torch

from autocolor import commands
from autocolor import model as model_lib
from autocolor.model import HypercolumnColorizer, ModelConfig


def _saved(tmp_path, name: str, seed: int, **config) -> str:
    torch.manual_seed(seed)
    net = HypercolumnColorizer(ModelConfig(hidden=8, **config))
    for p in net.parameters():
        torch.nn.init.normal_(p)
    path = tmp_path / name
    model_lib.save(net, path)
    return str(path)


def test_average_writes_the_mean_of_the_weights(tmp_path, capsys):
    a, b = _saved(tmp_path, "a.pt", 0), _saved(tmp_path, "b.pt", 1)
    assert commands.main(["average", a, b, "-o", str(tmp_path / "ab.pt")]) == 0
    mean = model_lib.load(tmp_path / "ab.pt", require_checksum=True).state_dict()
    wa, wb = (model_lib.load(p).state_dict() for p in (a, b))
    for name, value in mean.items():
        if value.is_floating_point():
            assert torch.allclose(value, (wa[name] + wb[name]) / 2, atol=1e-6), name
    assert "averaged 2" in capsys.readouterr().out


def test_average_refuses_different_networks_in_one_line(tmp_path, capsys):
    a, b = _saved(tmp_path, "a.pt", 0), _saved(tmp_path, "b.pt", 0, head="lab")
    assert commands.main(["average", a, b, "-o", str(tmp_path / "ab.pt")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "different network" in err
    assert not (tmp_path / "ab.pt").exists()


def test_average_and_export_never_replace_their_input_and_ask_before_overwriting(tmp_path, capsys):
    a, b = _saved(tmp_path, "a.pt", 0), _saved(tmp_path, "b.pt", 1)
    before = (tmp_path / "a.pt").read_bytes()
    for argv in (["average", a, b, "-o", a, "--overwrite"], ["export-backbone", a, "-o", a, "--overwrite"]):
        assert commands.main(argv) == 2
        assert "is an input" in capsys.readouterr().err
    assert (tmp_path / "a.pt").read_bytes() == before
    out = tmp_path / "ab.pt"
    out.write_bytes(b"keep me")
    assert commands.main(["average", a, b, "-o", str(out)]) == 2
    assert "exists (use --overwrite)" in capsys.readouterr().err and out.read_bytes() == b"keep me"
    assert commands.main(["average", a, b, "-o", str(out), "--overwrite"]) == 0
    back = tmp_path / "bb.pt"
    back.write_bytes(b"keep me")
    assert commands.main(["export-backbone", b, "-o", str(back)]) == 2 and back.read_bytes() == b"keep me"


def test_a_checkpoint_that_expands_to_gigabytes_or_misses_weights_is_one_line(checkpoint, tmp_path):
    from autocolor import model

    ckpt = torch.load(checkpoint, weights_only=True)
    name = next(iter(ckpt["state_dict"]))
    huge = {**ckpt, "state_dict": {**ckpt["state_dict"], name: torch.zeros(1).expand(100_000, 100_000)}}
    torch.save(huge, tmp_path / "stride0.pt")  # 40 GB of float32 if it were ever materialised
    with pytest.raises(model.CheckpointError, match=f"weights {name} claim more values than the file holds"):
        model.load(tmp_path / "stride0.pt")
    missing = {**ckpt, "state_dict": {k: v for k, v in ckpt["state_dict"].items() if k != name}}
    torch.save(missing, tmp_path / "missing.pt")
    with pytest.raises(model.CheckpointError) as err:
        model.load(tmp_path / "missing.pt")
    assert "Missing key" in str(err.value) and not str(err.value).rstrip(")").endswith(":")
