"""``autocolor average``: one model whose weights are the mean of several checkpoints' (SWA, "soups").

Checkpoints of one run saved near its best step lie in one basin of the loss; their mean is usually
at least as good as any of them and less sensitive to which step validation happened to pick.
The checkpoints must describe the same network (backbone and head). Batch-norm statistics are
averaged too: exact for ImageNet-initialised runs, whose statistics stay frozen while training;
an approximation for ``--init random`` runs, which learn them.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import torch

from . import model as model_lib


def average(paths: list[str | os.PathLike]) -> model_lib.HypercolumnColorizer:
    """The model whose floating-point weights are the mean of ``paths``' (the first's otherwise)."""
    if not paths:
        raise ValueError("nothing to average")
    ckpts = [model_lib.load_checkpoint(p) for p in paths]
    first = ckpts[0]
    for path, ckpt in zip(paths[1:], ckpts[1:], strict=True):
        if ckpt["config"] != first["config"] or ckpt["state_dict"].keys() != first["state_dict"].keys():
            raise model_lib.CheckpointError(f"{path}: a different network from {paths[0]}; only one "
                                            "network's checkpoints can be averaged")  # fmt: skip
    mean = {}
    for name, value in first["state_dict"].items():
        if value.is_floating_point():
            mean[name] = torch.stack([c["state_dict"][name].float() for c in ckpts]).mean(dim=0)
        else:
            mean[name] = value
    return model_lib.build({**first, "state_dict": mean}, paths[0])


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor average",
        description="Average the weights of several checkpoints of one network (e.g. a run's saves "
        "around its best validation step) into one model.",
    )
    p.add_argument("checkpoints", nargs="+", help="checkpoints from autocolor train (model-step-N.pt, ...)")
    p.add_argument("-o", "--output", required=True, help="the model file to write (+ .sha256)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (default: off)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    problem = model_lib.output_problem(args.output, args.checkpoints, args.overwrite)
    if problem:
        print(f"autocolor average: error: {problem}", file=sys.stderr)
        return 2
    try:
        net = average(args.checkpoints)
        model_lib.save(net, args.output, averaged=[Path(p).name for p in args.checkpoints])
    except (model_lib.CheckpointError, OSError) as err:
        print(f"autocolor average: error: {err}", file=sys.stderr)
        return 2
    print(f"averaged {len(args.checkpoints)} checkpoints: {args.output}")
    return 0
