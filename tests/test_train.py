import csv
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from autocolor import model, train
from autocolor.train import TrainConfig


@pytest.fixture(scope="module")
def crops(tmp_path_factory, photo_dir):
    """Four 64 x 64 real-photo crops, so every training item is one of them (up to a mirror)."""
    out = tmp_path_factory.mktemp("crops")
    for i, (name, box) in enumerate(
        [
            ("chelsea.png", (100, 50)),
            ("coffee.png", (200, 150)),
            ("astronaut.png", (150, 300)),
            ("rocket.jpg", (200, 200)),
        ]
    ):
        with Image.open(photo_dir / name) as im:
            im.convert("RGB").crop((*box, box[0] + 64, box[1] + 64)).save(out / f"{i}.png")
    return out


def small(out, crops, **kw):
    base = dict(
        photos=(str(crops),),
        out=str(out),
        crop=64,
        scale_min=64,
        scale_max=64,
        points=64,
        margin=8,
        batch=4,
        workers=0,
        warmup=1,
        save_every=1000,
        log_every=1,
    )
    return TrainConfig(**{**base, **kw})


def losses(run: Path) -> list[float]:
    with open(run / "log.csv") as f:
        return [float(r["loss"]) for r in csv.DictReader(f)]


def test_overfits_four_crops(tmp_path, crops):
    cfg = small(tmp_path, crops, steps=40, lr=1e-3, backbone_lr=1.0, init="random", window=1)
    train.train(cfg, progress=False)
    loss = losses(tmp_path)
    assert np.mean(loss[-5:]) < 0.5 * np.mean(loss[:3])


def test_resume_continues_exactly(tmp_path, crops):
    straight = small(tmp_path / "a", crops, steps=6, init="random")
    train.train(straight, progress=False)
    split = small(tmp_path / "b", crops, steps=6, init="random")
    train.train(split, progress=False, stop_after=3)
    assert torch.load(tmp_path / "b" / train.STATE_FILE, weights_only=True)["step"] == 3
    train.train(split, resume=True, progress=False)
    a = torch.load(tmp_path / "a" / train.STATE_FILE, weights_only=True)
    b = torch.load(tmp_path / "b" / train.STATE_FILE, weights_only=True)
    assert a["step"] == b["step"] == 6
    for k, v in a["state_dict"].items():
        assert torch.equal(v, b["state_dict"][k]), k
    assert losses(tmp_path / "a") == losses(tmp_path / "b")


def test_weight_average_is_saved_resumed_and_validated(tmp_path, crops):
    straight = small(tmp_path / "a", crops, steps=6, init="random", ema=0.9)
    train.train(straight, progress=False)
    split = small(tmp_path / "b", crops, steps=6, init="random", ema=0.9)
    train.train(split, progress=False, stop_after=3)
    train.train(split, resume=True, progress=False)
    a = torch.load(tmp_path / "a" / train.STATE_FILE, weights_only=True)
    b = torch.load(tmp_path / "b" / train.STATE_FILE, weights_only=True)
    for k, v in a["ema"].items():
        assert torch.equal(v, b["ema"][k]), k
    saved = torch.load(tmp_path / "a" / train.MODEL_FILE, weights_only=True)["state_dict"]
    assert not list((tmp_path / "a").glob("model-step-*.pt"))  # only with --keep
    raw, avg = a["state_dict"], {k.removeprefix("module."): v for k, v in a["ema"].items()}
    moved = [k for k, v in raw.items() if v.is_floating_point() and not torch.equal(v, avg[k])]
    assert moved, "the average should lag the raw weights"
    assert all(torch.equal(saved[k], avg[k]) for k in saved)


def test_checkpoint_is_usable_and_verified(tmp_path, crops):
    cfg = small(
        tmp_path, crops, steps=4, init="random", save_every=2, val=(str(crops),), val_limit=2, keep=True
    )
    path = train.train(cfg, progress=False)
    kept = sorted(p.name for p in tmp_path.glob("model-step-*.pt"))
    assert kept == ["model-step-2.pt", "model-step-4.pt"]
    assert model.verify(tmp_path / "model-step-2.pt", require=True)
    with open(tmp_path / "val.csv") as f:
        rows = list(csv.DictReader(f))  # validated at the step-2 and step-4 saves
    assert [int(r["step"]) for r in rows] == [2, 4] and all(float(r["psnr"]) > 0 for r in rows)
    assert (tmp_path / "val" / "step-2" / "contact_sheet.jpg").exists()
    best = max(rows, key=lambda r: float(r["psnr"]))
    assert model.load(tmp_path / train.BEST_FILE)  # early stopping keeps the best on validation
    assert train._best_validation(tmp_path / "val.csv")["step"] == int(best["step"])
    assert model.verify(path)
    net = model.load(path)
    assert net.config.backbone == "effnet-lite0" and not net.training


def test_continue_from_a_checkpoint(tmp_path, crops):
    first = train.train(small(tmp_path / "a", crops, steps=2, init="random"), progress=False)
    second = train.train(small(tmp_path / "b", crops, steps=1, init=str(first), lr=0.0, warmup=10**6),
                         progress=False)  # fmt: skip
    a, b = model.load(first).state_dict(), model.load(second).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a if "running" not in k and "num_batches" not in k)
    with pytest.raises(ValueError, match="checkpoint file"):
        train.train(small(tmp_path / "c", crops, init="nowhere.pt"), progress=False)


def test_grayscale_photos_are_skipped(tmp_path, crops):
    folder = tmp_path / "mixed"
    folder.mkdir()
    for p in Path(crops).iterdir():
        Image.open(p).convert("L").convert("RGB").save(folder / f"gray-{p.name}")
    with pytest.raises(ValueError, match=r"no colour photos to train on .* \(4 images found"):
        train.train(small(tmp_path / "run", crops, photos=(str(folder),), steps=1), progress=False)


def test_bad_folders_and_damaged_runs_are_one_line_and_a_truncated_photo_is_skipped(tmp_path, crops, capsys):
    (tmp_path / "empty").mkdir()
    assert train.main([str(tmp_path / "empty"), "--out", str(tmp_path / "a"), "--steps", "1"]) == 2
    assert "no colour photos" in capsys.readouterr().err
    run = tmp_path / "damaged"
    run.mkdir()
    for content in (b"garbage", None, {"a": 1}, {"train_config": {"nonsense": 1}}, [1, 2]):
        if isinstance(content, bytes):
            (run / "state.pt").write_bytes(content)
        else:
            torch.save(content, run / "state.pt")
        assert train.main(["--out", str(run), "--resume", "--steps", "1"]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "state.pt" in err and "Traceback" not in err
    mixed = tmp_path / "mixed"
    mixed.mkdir()
    for p in Path(crops).iterdir():
        (mixed / p.name).write_bytes(p.read_bytes())
    (mixed / "cut.png").write_bytes((Path(crops) / "0.png").read_bytes()[:300])
    photos, _, _ = train._photo_sets(small(tmp_path / "b", crops, photos=(str(mixed),)))
    assert len(photos) == 4 and "cut.png: unreadable" in capsys.readouterr().err


@pytest.mark.slow
def test_two_processes_hold_identical_weights(tmp_path, crops):
    script = Path(__file__).parent / "ddp_worker.py"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node=2",
        "--master_port=29517",
        str(script),
        str(crops),
        str(tmp_path),
    ]
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=600)
    assert res.returncode == 0, res.stderr[-2000:]
    w0 = torch.load(tmp_path / "rank0.pt", weights_only=True)
    w1 = torch.load(tmp_path / "rank1.pt", weights_only=True)
    for k in w0:
        assert torch.equal(w0[k], w1[k]), k
    assert (tmp_path / "run" / train.MODEL_FILE).exists()
    assert not (tmp_path / "run" / "rank1").exists()


@pytest.mark.parametrize("head, soften", [("lab", 1.0), ("lab-joint", 0.0), ("lab-l2", 0.0)])
def test_lab_heads_train_and_colorize(tmp_path, crops, head, soften):
    from autocolor import Colorizer

    cfg = small(tmp_path, crops, steps=2, init="random", head=head, points=16, soften=soften)
    path = train.train(cfg, progress=False)
    out = Colorizer.load(path).colorize(np.random.default_rng(0).random((40, 50)).astype(np.float32))
    assert out.shape == (40, 50, 3)


def test_resume_after_a_kill_does_not_repeat_log_rows(tmp_path, crops):
    cfg = small(tmp_path, crops, steps=6, init="random")
    train.train(cfg, progress=False, stop_after=3)  # saved at step 3
    with open(tmp_path / "log.csv", "a", newline="") as f:  # rows a killed run logged after its save
        csv.writer(f).writerows([[4, "9.0", "0.1", "1.0", "1.0"], [5, "9.0", "0.1", "1.0", "1.0"]])
    train.train(cfg, resume=True, progress=False)
    with open(tmp_path / "log.csv") as f:
        steps = [int(r["step"]) for r in csv.DictReader(f)]
    assert steps == [1, 2, 3, 4, 5, 6]


def test_a_signal_stops_training_with_a_non_zero_status(tmp_path, crops):
    import signal
    import time

    args = [sys.executable, "-m", "autocolor.train", crops, "--out", tmp_path, "--steps", "100000",
            "--crop", "64", "--scale-min", "64", "--scale-max", "64", "--batch", "2", "--workers", "0",
            "--init", "random", "--no-progress", "--log-every", "1"]  # fmt: skip
    proc = subprocess.Popen([str(a) for a in args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 120
    while time.time() < deadline and not (
        (tmp_path / "log.csv").exists() and len((tmp_path / "log.csv").read_text().splitlines()) > 2
    ):
        time.sleep(0.2)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err
    assert "stopped by SIGTERM" in err and "--resume" in err and "model:" not in out
    assert (tmp_path / train.STATE_FILE).exists()


def test_resume_uses_the_saved_configuration(tmp_path, crops):
    """`autocolor train PHOTOS --out RUN --resume` without the first call's flags continues that run:
    same crops, same validation photos."""
    cfg = small(tmp_path, crops, steps=4, init="random", save_every=2, val=(str(crops),), val_limit=1)
    train.train(cfg, progress=False, stop_after=2)
    bare = TrainConfig(photos=(str(crops),), out=str(tmp_path), steps=4, workers=0)  # defaults otherwise
    train.train(bare, resume=True, progress=False)
    with open(tmp_path / "val.csv") as f:
        assert [int(r["step"]) for r in csv.DictReader(f)] == [2, 4]
    state = torch.load(tmp_path / train.STATE_FILE, weights_only=True)
    assert state["step"] == 4 and state["train_config"]["crop"] == 64


def test_the_command_resumes_a_run_from_its_folder_alone(tmp_path, crops):
    """`autocolor train --out RUN --resume` needs neither the photos nor --steps again: the run's own
    schedule is kept unless --steps is typed."""
    cfg = small(tmp_path, crops, steps=4, init="random", save_every=2)
    train.train(cfg, progress=False, stop_after=2)
    args = train.parser().parse_args(["--out", str(tmp_path), "--resume", "--workers", "0"])
    resumed = train._cli_config(args)
    assert resumed.steps == 4 and resumed.photos == cfg.photos and resumed.workers == 0
    again = ["--out", str(tmp_path), "--resume", "--steps", "9"]
    longer = train._cli_config(train.parser().parse_args(again))
    assert longer.steps == 9 and longer.crop == cfg.crop
    with pytest.raises(SystemExit, match="no photos"):
        train._cli_config(train.parser().parse_args(["--out", str(tmp_path / "new")]))
    assert train._cli_config(train.parser().parse_args([str(crops)])).steps == TrainConfig().steps


def test_rebalanced_training_on_degraded_input_learns(tmp_path, crops):
    cfg = small(tmp_path, crops, steps=3, init="random", rebalance=0.5, degrade=0.5, log_every=1)
    train.train(cfg, progress=False)
    with open(tmp_path / "log.csv") as f:
        losses = [float(r["loss"]) for r in csv.DictReader(f)]
    assert len(losses) == 3 and all(math.isfinite(v) and v > 0 for v in losses)


def test_frozen_early_stages_keep_their_weights_and_the_rest_learns(tmp_path, crops):
    cfg = small(tmp_path, crops, steps=2, init="random", freeze_stages=2, backbone_lr=1.0)
    start = train.build_model(cfg, None).backbone  # the same seed gives the run's initial weights
    frozen = {n for n, _ in start.named_parameters()} - {
        n for n, _ in start.named_parameters() if not any(n.startswith(m) for m in _names(start, 2))
    }
    assert frozen and len(frozen) < len(list(start.parameters()))
    end = dict(model.load(train.train(cfg, progress=False)).backbone.named_parameters())
    changed = {n for n, p in start.named_parameters() if not torch.equal(p, end[n])}
    assert not changed & frozen and changed  # the early stages stayed, later ones learned


def _names(backbone, n: int) -> list[str]:
    """The parameter-name prefixes of the modules ``early(n)`` returns."""
    modules = {id(m) for m in backbone.early(n)}
    return [name + "." for name, m in backbone.named_modules() if id(m) in modules]
