"""Run by torchrun in test_train: a few distributed steps, then each rank saves its weights."""

import os
import sys
from pathlib import Path

import torch

from autocolor import train

crops, out = sys.argv[1], Path(sys.argv[2])
cfg = train.TrainConfig(
    photos=(crops,),
    out=str(out / "run"),
    crop=64,
    scale_min=64,
    scale_max=64,
    points=32,
    margin=8,
    batch=2,
    workers=0,
    warmup=1,
    steps=4,
    init="random",
)
captured = {}
original = train.nn.parallel.DistributedDataParallel


class Spy(original):
    def __init__(self, module, *a, **k):
        super().__init__(module, *a, **k)
        captured["net"] = module


train.nn.parallel.DistributedDataParallel = Spy
train.train(cfg, progress=False)
rank = os.environ["RANK"]
# Parameters; batch-norm statistics are buffers that DDP broadcasts from rank 0 at each forward.
torch.save(dict(captured["net"].named_parameters()), out / f"rank{rank}.pt")
