"""Training the learned restorer on clean photos aged by the old-print model.

``autocolor train-restorer PHOTOS --out runs/restorer``. Each sample is a training photo's
lightness at a random scale, aged as a whole by ``data.aging`` (so scratches cross it and the light
falls off towards its corners) or, for a share ``clean`` of them, left as it is (so that a photo
that needs nothing is left alone), then cropped: the network learns to give back the clean crop (L1,
defect pixels weighing more) and to find the defects (cross-entropy against the old-print model's
masks). Sample n of a run is a pure function of (seed, n), so a run stopped and resumed continues
exactly.
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps
from torch.utils.data import DataLoader, Dataset
from tqdm import tqdm

from .. import model as model_lib
from ..data import aging, crops, thin_objects
from . import net as net_lib

STATE_FILE = "state.pt"
MODEL_FILE = "restorer.pt"
DEFECT = 0.25  # coverage above which a pixel is a defect


@dataclass
class RestorerTrainConfig:
    photos: tuple[str, ...] = ()
    out: str = "runs/restorer"
    steps: int = 4000
    batch: int = 8
    crop: int = 192
    short_side: tuple[int, int] = (320, 900)  # the photo's shorter side before ageing
    lr: float = 1e-3
    defect_weight: float = 4.0  # extra L1 weight of defect pixels
    mask_weight: float = 0.5  # weight of the detector's cross-entropy
    l2_weight: float = 0.0  # weight of a squared-error term beside the L1 (PSNR is a squared error)
    clean: float = 0.2  # share of samples left unaged (the target is the input)
    objects: float = 0.0  # share of photos given thin objects (poles, wires) as part of the scene
    save_every: int = 250
    seed: int = 0
    workers: int = 1
    init: str = ""  # a restorer checkpoint to start from (layers that fit are copied)
    net: net_lib.RestorerConfig = net_lib.RestorerConfig()


def load_lightness(path: Path, max_side: int = 1024) -> np.ndarray | None:
    """A photo's lightness (R+G+B)/3 as uint8, its shorter side at most ``max_side``; None for cut-outs."""
    with Image.open(path) as im:
        im = ImageOps.exif_transpose(im)
        if im.mode in ("RGBA", "LA", "PA") or "transparency" in im.info:
            return None
        s = min(1.0, max_side / min(im.size))
        im.draft("RGB", (math.ceil(im.size[0] * s), math.ceil(im.size[1] * s)))
        im = im.convert("RGB")
        s = min(1.0, max_side / min(im.size))
        if s < 1:
            im = im.resize((round(im.size[0] * s), round(im.size[1] * s)), Image.BILINEAR, reducing_gap=3.0)
        return (np.asarray(im, np.uint16).sum(axis=2) // 3).astype(np.uint8)


class AgedCrops(Dataset):
    """Item n: (aged crop, clean crop, defect mask, the aged photo's quantiles, its thumbnail, the
    crop's box in it)."""

    def __init__(self, photos: list[np.ndarray], cfg: RestorerTrainConfig):
        self.photos = [p for p in photos if min(p.shape) >= cfg.crop]
        if not self.photos:
            raise ValueError(f"no training photo is at least {cfg.crop} pixels on its shorter side")
        self.cfg = cfg

    def __len__(self) -> int:
        return 1 << 62

    def __getitem__(self, n: int):
        cfg = self.cfg
        rng = np.random.default_rng([cfg.seed, n])
        photo = self.photos[int(rng.integers(len(self.photos)))]
        short = rng.uniform(max(cfg.short_side[0], cfg.crop), cfg.short_side[1])
        s = min(1.0, short / min(photo.shape))
        clean = cv2.resize(photo, None, fx=s, fy=s, interpolation=cv2.INTER_AREA) if s < 1 else photo
        clean = clean.astype(np.float32) / 255
        if rng.random() < 0.5:
            clean = clean[:, ::-1].copy()
        if cfg.objects and rng.random() < cfg.objects:
            clean = thin_objects.draw(clean, rng)
        if rng.random() < cfg.clean:
            aged = aging.Aged(aging.to_uint8(clean).astype(np.float32) / 255)
        else:
            aged = aging.age(clean, rng)
        light = aged.light
        h, w = clean.shape
        y, x = int(rng.integers(0, h - cfg.crop + 1)), int(rng.integers(0, w - cfg.crop + 1))
        cut = (slice(y, y + cfg.crop), slice(x, x + cfg.crop))
        whole = torch.from_numpy(light)[None, None]
        stats = net_lib.quantiles(whole, cfg.net.stats)[0]
        box = torch.tensor([y / h, x / w, (y + cfg.crop) / h, (x + cfg.crop) / w])
        pair = (torch.from_numpy(light[cut].copy())[None], torch.from_numpy(clean[cut].copy())[None])
        defects = torch.from_numpy(aged.defects()[cut].copy())[None]
        return (*pair, defects, stats, net_lib.thumbnail(whole)[0], box)


def loss_terms(net, batch, cfg: RestorerTrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    light, clean, cover, stats, thumb, box = batch
    restored, logit = net(light, stats, thumb, box)
    defect = (cover > DEFECT).float()
    err, weight = restored - clean, 1 + cfg.defect_weight * defect
    l1 = (err.abs() * weight).mean()
    l2 = (err.square() * weight).mean()
    bce = F.binary_cross_entropy_with_logits(logit, defect)
    loss = l1 + cfg.l2_weight * l2 + cfg.mask_weight * bce
    return loss, {"l1": l1.item(), "l2": l2.item(), "bce": bce.item()}


def start_from(net: net_lib.RestoreNet, path: str) -> None:
    """Copy a restorer checkpoint's weights into ``net``; the stem's inputs it lacks (the scene's
    features) start at zero weight, so ``net`` starts as the checkpoint's restorer."""
    parent = net_lib.load(path)
    if parent.config.stats != net.config.stats:
        raise ValueError(f"{path}: its restorer reads {len(parent.config.stats)} quantiles, not these")
    old, own = parent.state_dict(), net.state_dict()
    for key, value in old.items():
        if key in own and own[key].shape == value.shape:
            own[key] = value
        elif key in own and _more_inputs(own[key], value):  # the stem's first convolution
            own[key] = torch.zeros_like(own[key])
            own[key][:, : value.shape[1]] = value
        else:
            raise ValueError(f"{path}: its {key} does not fit this restorer")
    net.load_state_dict(own)


def _more_inputs(weight: torch.Tensor, parent: torch.Tensor) -> bool:
    """Whether ``weight`` is a convolution's ``parent`` with more input channels."""
    same_outputs = weight.dim() == parent.dim() > 1 and weight.shape[0] == parent.shape[0]
    return same_outputs and weight.shape[1] > parent.shape[1] and weight.shape[2:] == parent.shape[2:]


def _lr(step: int, cfg: RestorerTrainConfig) -> float:
    warm = min(1.0, (step + 1) / 100)
    return cfg.lr * warm * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * min(step / cfg.steps, 1))))


def _state(out: Path) -> dict:
    """The run's saved state, or a ValueError of one line naming what is wrong with it."""
    path = out / STATE_FILE
    if not path.is_file():
        raise ValueError(f"{path}: no saved run to resume")
    return model_lib.read_state(
        path, {"net", "opt", "step", "config"}, "restorer run", "autocolor train-restorer"
    )


def _saved_config(saved: dict, **changes) -> RestorerTrainConfig:
    """The configuration a run was started with; ``changes`` (steps, workers) may differ."""
    saved = {**saved, "net": net_lib.RestorerConfig(**saved["net"]), "photos": tuple(saved["photos"]),
             "short_side": tuple(saved["short_side"])}  # fmt: skip
    return replace(RestorerTrainConfig(**saved), **changes)


def train(cfg: RestorerTrainConfig, resume: bool = False, progress: bool = True) -> Path:
    """Train (or, with ``resume``, continue) a restorer; returns the path of its last checkpoint."""
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    state = _state(out) if resume else None
    if state is not None:
        cfg = _saved_config(state["config"], steps=cfg.steps, workers=cfg.workers)
    net = net_lib.RestoreNet(cfg.net)
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=1e-4)
    step = 0
    if state is not None:
        net.load_state_dict(state["net"])
        opt.load_state_dict(state["opt"])
        step = int(state["step"])
    elif cfg.init:
        start_from(net, cfg.init)
    paths = tqdm(crops.list_images(cfg.photos), desc="reading photos", disable=not progress)
    photos = [a for a in map(load_lightness, paths) if a is not None]
    data = AgedCrops(photos, cfg)
    loader = DataLoader(data, cfg.batch, sampler=range(step * cfg.batch, cfg.steps * cfg.batch),
                        num_workers=cfg.workers, persistent_workers=cfg.workers > 0)  # fmt: skip
    net.train()
    bar = tqdm(total=cfg.steps, initial=step, unit="step", disable=not progress)
    log = (out / "log.csv").open("a")
    t0 = time.time()
    for batch in loader:
        for group in opt.param_groups:
            group["lr"] = _lr(step, cfg)
        loss, terms = loss_terms(net, batch, cfg)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        step += 1
        bar.update()
        bar.set_postfix(l1=f"{terms['l1']:.4f}", bce=f"{terms['bce']:.3f}")
        log.write(f"{step},{terms['l1']:.5f},{terms['bce']:.5f},{time.time() - t0:.1f}\n")
        if step % cfg.save_every == 0 or step == cfg.steps:
            net_lib.save(net, out / f"restorer-step-{step}.pt", step=step, config=asdict(cfg))
            net_lib.save(net, out / MODEL_FILE, step=step)
            state = {"net": net.state_dict(), "opt": opt.state_dict(), "step": step, "config": asdict(cfg)}
            model_lib.atomic_save(state, out / STATE_FILE)
            log.flush()
    return out / MODEL_FILE


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("photos", nargs="*", help="folders of clean colour or gray photos (any size)")
    p.add_argument("--out", default="runs/restorer", help="run folder (checkpoints, log.csv)")
    p.add_argument("--steps", type=int, default=4000, help="optimisation steps")
    p.add_argument("--batch", type=int, default=8, help="crops per step")
    p.add_argument("--lr", type=float, default=1e-3, help="peak learning rate (AdamW, cosine)")
    p.add_argument("--save-every", type=int, default=250, help="steps between checkpoints")
    p.add_argument("--workers", type=int, default=1, help="data-loading processes")
    p.add_argument("--seed", type=int, default=0, help="the run's seed")
    p.add_argument("--quantiles", type=int, default=0,
                   help="lightness quantiles given to every cell, evenly spaced from 0.5 %% to 99.5 %% "
                   "(default: 1, 10, 50, 90 and 99 %%)")  # fmt: skip
    p.add_argument("--width", type=int, default=0,
                   help="channels on the network's quarter-resolution grid (default 48)")  # fmt: skip
    p.add_argument("--scene", type=int, default=0,
                   help="channels of whole-photo scene features each cell is given (default: 0)")  # fmt: skip
    p.add_argument("--init", default="",
                   help="restorer checkpoint to start from: its weights, and its quantiles and width "
                   "unless --quantiles or --width is given")  # fmt: skip
    p.add_argument("--defect-weight", type=float, default=4.0, help="extra L1 weight of defect pixels")
    p.add_argument("--mask-weight", type=float, default=0.5, help="weight of the detector's cross-entropy")
    p.add_argument("--l2-weight", type=float, default=0.0,
                   help="weight of a squared-error term beside the L1 to the clean lightness "
                   "(default 0)")  # fmt: skip
    p.add_argument("--clean", type=float, default=0.2, help="share of samples left unaged (default 0.2)")
    p.add_argument("--objects", type=float, default=0.0,
                   help="share of photos given thin objects (poles, wires, rods) as part of the scene, "
                   "so that the detector learns they are not scratches (default 0)")  # fmt: skip
    p.add_argument("--resume", action="store_true",
                   help="continue the run in --out with its own settings (--steps, --workers may "
                   "change)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    stats = tuple(np.linspace(0.005, 0.995, args.quantiles).round(4)) if args.quantiles else net_lib.QUANTILES
    try:
        width = args.width or net_lib.RestorerConfig.width
        if args.init and not args.resume:  # the parent's quantiles and width, unless told
            parent = net_lib.load(args.init).config
            stats = stats if args.quantiles else parent.stats
            width = args.width or parent.width
        net = net_lib.RestorerConfig(width=width, stats=stats, scene=args.scene)
        cfg = RestorerTrainConfig(tuple(args.photos), args.out, args.steps, args.batch, lr=args.lr,
                                  defect_weight=args.defect_weight, mask_weight=args.mask_weight,
                                  l2_weight=args.l2_weight,
                                  clean=args.clean, objects=args.objects, save_every=args.save_every,
                                  seed=args.seed, workers=args.workers, init=args.init, net=net)  # fmt: skip
        print(train(cfg, resume=args.resume))
    except (ValueError, model_lib.CheckpointError) as err:
        print(f"autocolor train-restorer: error: {err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="autocolor train-restorer", description=__doc__.splitlines()[0])
    add_arguments(p)
    return run(p.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
