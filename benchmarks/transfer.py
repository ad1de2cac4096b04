"""Does colorization teach a network something useful elsewhere? Semantic segmentation of composites.

    python benchmarks/transfer.py --selfsup runs/selfsup/model.pt        # all four starts, both modes
    python benchmarks/transfer.py --selfsup runs/selfsup --steps 300     # every checkpoint of a run (trend)

The task (built here from ``autocolor data fetch`` photos, nothing committed): the photographic cut-outs
of ``tuxpaint-stamps-default``, their alpha an exact mask and their folder the class (mammal, bird,
other animal, plant, food, vehicle, object), pasted at random scales and places onto crops of the
training photos of scenes (wallpapers, landscapes, streets; background, class 0). Stamps are split
in two by a hash of their name, so test objects were never seen in segmentation training. Every
network sees the gray composite, as the colorizer does.

The same segmentation model and budget on top of four starting points: (a) random weights, (b)
colorization from random weights (no labels anywhere: ``autocolor train --init random``), (c) the
ImageNet classifier, (d) ImageNet then colorization (the bundled model). The model reads the
backbone's hypercolumn on the stride-4 grid (as the colorizer does), normalises each channel (batch
norm) and classifies it with a 1x1 convolution, upsampled to the pixels. *Linear probe*: the backbone
frozen, only that layer learns. *Fine-tuning*: everything learns (the backbone at 0.1 x the rate).
Mean IU over the 8 classes on the test composites.

Caveat: the colorization runs saw these stamps (as colour photos, without classes) among their
training photos; the segmentation test objects are held out from segmentation training only.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from common import table
from PIL import Image
from torch import nn

from autocolor import backbones, data, hypercolumn
from autocolor import model as model_lib
from autocolor.pipeline import bundled_weights

CLASSES = ("background", "mammal", "bird", "other animal", "plant", "food", "vehicle", "object")
FOLDERS = {  # first matching prefix of a stamp's folder -> class; others are left out
    "animals/mammals": 1, "animals/marsupials": 1, "animals/birds": 2, "animals/": 3, "plants": 4,
    "food": 5, "vehicles": 6, "military/vehicles": 6, "household": 7, "hobbies": 7, "sports": 7,
    "medical": 7, "town": 7,
}  # fmt: skip
STAMPS = "tuxpaint-stamps-default"
NOT_BACKGROUND = (
    STAMPS,
    "gcompris-qt-data",
)  # gcompris's photos are of animals and things: unlabelled objects


# ---------------------------------------------------------------- the composites
def stamp_class(relative: str) -> int | None:
    for prefix, k in sorted(FOLDERS.items(), key=lambda kv: -len(kv[0])):
        if relative.startswith(prefix):
            return k
    return None


def is_test_stamp(path: Path) -> bool:
    """One stamp in three, by a hash of its name (stable across machines and runs)."""
    return hashlib.sha256(path.stem.encode()).digest()[0] % 3 == 0


def stamps_and_backgrounds(train: Path) -> tuple[dict[bool, list[tuple[Path, int]]], list[Path]]:
    """Classed stamps split {test?: [(path, class)]}, and the training photos of scenes (wallpapers,
    landscapes, streets) to paste them on."""
    split: dict[bool, list[tuple[Path, int]]] = {False: [], True: []}
    for p in sorted((train / STAMPS).rglob("*.png")):
        k = stamp_class(p.relative_to(train / STAMPS).as_posix())
        if k is not None:
            split[is_test_stamp(p)].append((p, k))
    backgrounds = [p for p in data.list_images([train]) if not set(NOT_BACKGROUND) & set(p.parts)]
    return split, backgrounds


def composite(rng: np.random.Generator, stamps, backgrounds, size: int) -> tuple[np.ndarray, np.ndarray]:
    """A gray composite (size, size) in [0, 1] and its class map: a background crop and 1-3 stamps."""
    with Image.open(backgrounds[rng.integers(len(backgrounds))]) as im:
        im = im.convert("RGB")
        side = int(min(im.size) * rng.uniform(0.4, 1.0))
        x, y = rng.integers(0, im.width - side + 1), rng.integers(0, im.height - side + 1)
        canvas = im.crop((x, y, x + side, y + side)).resize((size, size), Image.BILINEAR).convert("RGBA")
    labels = np.zeros((size, size), np.int64)
    for _ in range(rng.integers(1, 4)):
        path, k = stamps[rng.integers(len(stamps))]
        with Image.open(path) as st:
            st = st.convert("RGBA")
            st = st.crop(st.getbbox() or (0, 0, *st.size))
        scale = rng.uniform(0.3, 0.7) * size / max(st.size)
        st = st.resize((max(1, round(st.width * scale)), max(1, round(st.height * scale))), Image.BILINEAR)
        if rng.random() < 0.5:
            st = st.transpose(Image.FLIP_LEFT_RIGHT)
        x, y = rng.integers(0, size - st.width + 1), rng.integers(0, size - st.height + 1)
        canvas.alpha_composite(st, (int(x), int(y)))
        mask = np.asarray(st.getchannel("A")) > 127
        labels[y : y + st.height, x : x + st.width][mask] = k
    gray = np.asarray(canvas.convert("RGB").convert("L"), np.float32) / 255
    return gray, labels


def dataset(train: Path, n: int, test: bool, size: int, cache: Path) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` composites (gray (n, 1, size, size), labels (n, size, size)), cached in ``cache``."""
    file = cache / f"{'test' if test else 'train'}-{n}-{size}.npz"
    if not file.exists():
        split, backgrounds = stamps_and_backgrounds(train)
        rng = np.random.default_rng(1 if test else 0)
        pairs = [composite(rng, split[test], backgrounds, size) for _ in range(n)]
        cache.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            file, gray=np.stack([g for g, _ in pairs]), labels=np.stack([y for _, y in pairs])
        )
    z = np.load(file)
    return torch.from_numpy(z["gray"])[:, None], torch.from_numpy(z["labels"])


# ---------------------------------------------------------------- the segmentation model
class Segmenter(nn.Module):
    """Backbone -> hypercolumn on the stride-4 grid -> per-channel batch norm -> 1x1 conv -> pixels."""

    def __init__(self, backbone: backbones.Backbone, classes: int = len(CLASSES)):
        super().__init__()
        self.backbone = backbone
        channels = sum(la.channels for la in backbone.layers)
        self.norm = nn.BatchNorm2d(channels)
        self.classify = nn.Conv2d(channels, classes, 1)

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        hw = (gray.shape[-2] // 4, gray.shape[-1] // 4)
        cols = hypercolumn.dense(self.backbone(gray), self.backbone.layers, hw, 4)
        logits = self.classify(self.norm(cols))
        return F.interpolate(logits, size=gray.shape[-2:], mode="bilinear", align_corners=False)


def start(kind: str, selfsup: Path | None, seed: int) -> backbones.Backbone:
    """The backbone of one starting point: random, selfsup, imagenet or bundled."""
    torch.manual_seed(seed)
    if kind == "random":
        return backbones.create("effnet-lite0")
    if kind == "imagenet":
        net = backbones.create("effnet-lite0")
        net.load_imagenet()
        return net
    path = bundled_weights("effnet-lite0") if kind == "bundled" else selfsup
    return model_lib.load(path).backbone


def train_and_test(
    backbone, mode: str, train_set, test_set, steps: int, batch: int, lr: float, seed: int
) -> float:
    """Train a segmenter for ``steps`` and return its test mean IU."""
    torch.manual_seed(seed)
    net = Segmenter(backbone)
    finetune = mode == "finetune"
    for p in net.backbone.parameters():
        p.requires_grad_(finetune)
    groups = [{"params": list(net.norm.parameters()) + list(net.classify.parameters()), "lr": lr}]
    if finetune:
        groups.append({"params": list(net.backbone.parameters()), "lr": 0.1 * lr})
    opt = torch.optim.AdamW(groups, weight_decay=1e-4)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [g["lr"] for g in groups], total_steps=steps)
    gray, labels = train_set
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        net.train()
        if not finetune:
            net.backbone.eval()  # frozen: its batch-norm statistics stay
        idx = torch.randint(len(gray), (batch,), generator=g)
        loss = F.cross_entropy(net(gray[idx]), labels[idx])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return mean_iu(net, *test_set)


@torch.no_grad()
def mean_iu(net: nn.Module, gray: torch.Tensor, labels: torch.Tensor, batch: int = 16) -> float:
    """Mean over classes of intersection / union on the test set (classes absent from both skipped)."""
    net.eval()
    k = len(CLASSES)
    confusion = torch.zeros(k, k, dtype=torch.int64)
    for i in range(0, len(gray), batch):
        pred = net(gray[i : i + batch]).argmax(1)
        confusion += torch.bincount(
            labels[i : i + batch].flatten() * k + pred.flatten(), minlength=k * k
        ).view(k, k)
    inter = confusion.diag().double()
    union = confusion.sum(0) + confusion.sum(1) - confusion.diag()
    return float((inter[union > 0] / union[union > 0]).mean() * 100)


def checkpoints(selfsup: Path | None) -> list[Path]:
    """The self-supervised model, or every step-N checkpoint of a run folder (for a trend)."""
    if selfsup is None:
        return []
    if selfsup.is_dir():
        return sorted(selfsup.glob("model-step-*.pt"), key=lambda p: int(p.stem.split("-")[-1])) or [
            selfsup / "model.pt"
        ]
    return [selfsup]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument(
        "--data", type=Path, default=Path("data/train"), help="the training split (default data/train)"
    )
    p.add_argument("--selfsup", type=Path, help="colorizer trained from random weights (file or run folder)")
    p.add_argument("--starts", nargs="+", default=["random", "selfsup", "imagenet", "bundled"])
    p.add_argument("--modes", nargs="+", default=["probe", "finetune"])
    p.add_argument("--train", type=int, default=400, help="training composites (default 400)")
    p.add_argument("--test", type=int, default=200, help="test composites (default 200)")
    p.add_argument("--size", type=int, default=160, help="composite side in pixels (default 160)")
    p.add_argument("--steps", type=int, default=300, help="optimiser steps per model (default 300)")
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--lr", type=float, default=3e-3, help="head learning rate; backbone 0.1x (default 3e-3)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--cache", type=Path, default=Path("runs/transfer"), help="where composites are cached")
    args = p.parse_args()
    if not (args.data / STAMPS).is_dir():
        p.error(f"--data {args.data}: no {STAMPS} photos there (run from the repository root, or after "
                "`autocolor data fetch data/`)")  # fmt: skip
    t = time.perf_counter()
    train_set = dataset(args.data, args.train, False, args.size, args.cache)
    test_set = dataset(args.data, args.test, True, args.size, args.cache)
    print(
        f"composites: {args.train} train, {args.test} test, {args.size} px ({time.perf_counter() - t:.0f} s)"
    )
    rows = []
    for kind in args.starts:
        sources = checkpoints(args.selfsup) if kind == "selfsup" else [None]
        for source in sources:
            row = [kind if source is None else f"selfsup ({source.name})"]
            for mode in args.modes:
                t = time.perf_counter()
                backbone = start(kind, source, args.seed)
                miu = train_and_test(
                    backbone, mode, train_set, test_set, args.steps, args.batch, args.lr, args.seed
                )
                row += [f"{miu:.1f}", f"{time.perf_counter() - t:.0f}"]
                print(row, flush=True)
            rows.append(row)
    cols = ["start"] + [c for m in args.modes for c in (f"{m} mean IU", f"{m} s")]
    print(table(cols, rows))


if __name__ == "__main__":
    main()
