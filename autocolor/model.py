"""The colorization network (backbone -> hypercolumn -> per-pixel histograms) and its checkpoints.

The head is the paper's: h_fc1 (hypercolumn -> 1024, ReLU, dropout while training) and one linear
layer per histogram. Sparse mode reads hypercolumns at given points (training); dense mode
predicts on the stride-4 grid (inference). Because h_fc1 is linear and bilinear reads are linear,
dense mode projects each layer at its own resolution and then resamples the 1024-channel result,
which equals the concatenated hypercolumn times h_fc1 without ever materialising it.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from . import backbones, histograms, hypercolumn
from .backbones import Layer

FORMAT = "autocolor-checkpoint/1"
GRID_STRIDES = (1, 2, 4, 8, 16, 32)  # where dense predictions are made, in input pixels


@dataclass(frozen=True)
class ModelConfig:
    """Everything needed to rebuild a model from its checkpoint."""

    backbone: str = "effnet-lite0"
    head: str = "hue-chroma"
    hidden: int = 1024
    grid_stride: int = 4
    dropout: float = 0.5

    def __post_init__(self):
        ints = all(isinstance(v, int) and not isinstance(v, bool) for v in (self.hidden, self.grid_stride))
        if not ints or self.grid_stride not in GRID_STRIDES or not 1 <= self.hidden <= 1 << 16:
            raise ValueError(f"grid_stride must be one of {GRID_STRIDES} and hidden in 1..65536, "
                             f"not {self.grid_stride!r} and {self.hidden!r}")  # fmt: skip
        if not isinstance(self.dropout, (int, float)) or not 0 <= self.dropout < 1:
            raise ValueError(f"dropout must lie in [0, 1), not {self.dropout!r}")


class HypercolumnColorizer(nn.Module):
    """Gray image -> per-pixel colour histograms (logits), sparse or dense."""

    def __init__(self, config: ModelConfig = ModelConfig()):
        super().__init__()
        if config.head not in histograms.HEADS:
            raise ValueError(f"unknown head {config.head!r}; choose from {', '.join(histograms.HEADS)}")
        self.config = config
        self.backbone = backbones.create(config.backbone)
        self.layers = self.backbone.layers
        channels = sum(layer.channels for layer in self.layers)
        # Per-layer multipliers balancing the hypercolumn to unit second moment (see calibrate).
        self.register_buffer("layer_scale", torch.ones(len(self.layers)))
        self.fc1 = nn.Linear(channels, config.hidden)
        nn.init.normal_(self.fc1.weight, std=1e-4)  # the released recipe
        nn.init.zeros_(self.fc1.bias)
        self.drop = nn.Dropout(config.dropout)
        self.outputs = histograms.HEADS[config.head]
        self.out = nn.Linear(config.hidden, sum(k for _, k in self.outputs))

    @property
    def size_multiple(self) -> int:
        return self.backbone.size_multiple

    def _split(self, logits: Tensor, dim: int) -> dict[str, Tensor]:
        parts = logits.split([k for _, k in self.outputs], dim=dim)
        return {name: p for (name, _), p in zip(self.outputs, parts, strict=True)}

    def _channel_scale(self) -> Tensor:
        sizes = torch.tensor([layer.channels for layer in self.layers], device=self.layer_scale.device)
        return self.layer_scale.repeat_interleave(sizes)

    def forward(self, gray: Tensor, points: Tensor | None = None) -> dict[str, Tensor]:
        """Sparse logits at ``points`` if given, else dense logits on the grid."""
        return self.forward_dense(gray) if points is None else self.forward_sparse(gray, points)

    def forward_sparse(self, gray: Tensor, points: Tensor) -> dict[str, Tensor]:
        """Logits (B, P, K) per histogram at ``points`` (B, P, 2), continuous (y, x) coordinates."""
        cols = hypercolumn.sparse(self.backbone(gray), self.layers, points, self.config.grid_stride)
        h = self.drop(F.relu(self.fc1(cols * self._channel_scale())))
        return self._split(self.out(h), dim=-1)

    def forward_dense(self, gray: Tensor) -> dict[str, Tensor]:
        """Logits (B, K, H/g, W/g) per histogram on the grid of stride g = ``grid_stride``."""
        return self.dense_with_features(gray)[0]

    def dense_with_features(self, gray: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        """Dense logits and the hidden layer they are read from, (B, hidden, H/g, W/g): a per-cell
        description of what the network sees there (used to spread colour hints and match references).

        Layers with the same geometry are handled together. Those at grid resolution, and coarser
        ones with few channels, move their channels to the grid and are projected there in one
        product; the others are projected at their own resolution, and the projection is moved.
        """
        g = self.config.grid_stride
        hw = (gray.shape[-2] // g, gray.shape[-1] // g)
        feats, layers = hypercolumn.to_grid(self.backbone(gray), self.layers, g)
        weights = (self.fc1.weight * self._channel_scale()).split([la.channels for la in layers], 1)
        groups: dict[tuple[int, float], list] = {}
        for f, layer, w in zip(feats, layers, weights, strict=True):
            groups.setdefault((layer.stride, layer.offset), []).append((f, w))
        fine_f, fine_w, coarse = [], [], []
        for (stride, offset), members in groups.items():
            f = torch.cat([m[0] for m in members], 1)
            w = torch.cat([m[1] for m in members], 1)
            layer = Layer("group", f.shape[1], stride, offset)
            if stride <= g or _cheaper_on_grid(f.shape[-2:], hw, f.shape[1]):
                fine_f.append(hypercolumn.resample(f, layer, hw, g))
                fine_w.append(w)
            else:
                coarse.append(hypercolumn.resample(_project(f, w), layer, hw, g))
        pre = _project(torch.cat(fine_f, 1), torch.cat(fine_w, 1), self.fc1.bias)
        for c in coarse:
            pre += c
        h = self.drop(F.relu(pre, inplace=True))
        logits = F.conv2d(h, self.out.weight[:, :, None, None], self.out.bias)
        return self._split(logits, dim=1), h

    @torch.no_grad()
    def calibrate(self, gray: Tensor) -> Tensor:
        """Set ``layer_scale`` so every hypercolumn layer has unit second moment on ``gray``."""
        feats = self.backbone(gray)
        rms = torch.stack([f.float().pow(2).mean().sqrt() for f in feats])
        self.layer_scale.copy_(1 / rms.clamp(min=1e-6))
        return self.layer_scale


def _cheaper_on_grid(size: tuple[int, int], grid: tuple[int, int], channels: int) -> bool:
    """Whether a coarse group of ``channels`` costs fewer multiplications moved to the grid and
    projected there than projected at its own ``size`` with the projection's every channel moved
    (columns, then rows): per output channel, C·H·W against C·h·w + h·w·W + H·h·W."""
    (h, w), (gh, gw) = size, grid
    return channels * gh * gw < channels * h * w + h * w * gw + gh * h * gw


def _project(f: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """A 1x1 convolution (B, C, H, W) -> (B, O, H, W) by ``weight`` (O, C), as one matrix product:
    3x faster than ``conv2d`` on the CPU for the few input channels of the fine layers."""
    b, c, h, w = f.shape
    out = torch.matmul(weight, f.reshape(b, c, h * w))
    if bias is not None:
        out += bias[:, None]
    return out.view(b, -1, h, w)


# ---------------------------------------------------------------- checkpoints
class CheckpointError(RuntimeError):
    """A checkpoint that cannot be used (missing, corrupt, wrong checksum, wrong format)."""


def sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def checksum_path(path: str | os.PathLike) -> Path:
    return Path(str(path) + ".sha256")


def output_problem(output: str | os.PathLike, inputs, overwrite: bool) -> str | None:
    """Why a tool must not write ``output``: it is one of its ``inputs`` (never, even with
    ``overwrite``), or it exists and ``overwrite`` is off; None when it may."""
    out = Path(output)
    if any(out.exists() and os.path.samefile(out, p) for p in inputs if Path(p).exists()):
        return f"{out} is an input; write the result elsewhere"
    if out.exists() and not overwrite:
        return f"{out} exists (use --overwrite)"
    return None


def read_state(path: str | os.PathLike, keys: set[str], run: str, saver: str) -> dict:
    """A trainer's state (``atomic_save``), read safely (``weights_only``); a damaged or foreign file is
    a ValueError of one line: ``path: not a readable RUN`` or ``not a state saved by SAVER``."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types for damaged or foreign files
        raise ValueError(f"{path}: not a readable {run} ({type(err).__name__})") from None
    if not isinstance(state, dict) or not keys <= set(state):
        raise ValueError(f"{path}: not a state saved by {saver}")
    return state


def atomic_save(obj, path: str | os.PathLike) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save(model: HypercolumnColorizer, path: str | os.PathLike, half: bool = False, **meta) -> str:
    """Write a self-describing checkpoint (config + weights) and its ``.sha256``; returns the hash."""
    return write_checkpoint(model, FORMAT, path, half, **meta)


def write_checkpoint(net: nn.Module, fmt: str, path: str | os.PathLike, half: bool = False, **meta) -> str:
    """Write ``net``'s config (a dataclass) and weights as a checkpoint of format ``fmt``, and its
    ``.sha256`` beside it; returns the hash."""
    state = {k: (v.half() if half and v.is_floating_point() else v) for k, v in net.state_dict().items()}
    atomic_save({"format": fmt, "config": asdict(net.config), "state_dict": state, "meta": meta}, path)
    digest = sha256(path)
    checksum_path(path).write_text(f"{digest}  {Path(path).name}\n")
    return digest


def verify(path: str | os.PathLike, require: bool = False) -> bool:
    """Check ``path`` against its ``.sha256``; False if there is none (an error if ``require``)."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    side = checksum_path(path)
    if not side.exists():
        if require:
            raise CheckpointError(f"{path}: checksum file {side.name} is missing")
        return False
    expected = (side.read_text().split() or [""])[0].lower()
    actual = sha256(path)
    if actual != expected:
        raise CheckpointError(
            f"{path}: SHA-256 {actual[:12]}... does not match {side.name} ({expected[:12]}...)"
        )
    return True


def load_checkpoint(path: str | os.PathLike, require_checksum: bool = False, fmt: str = FORMAT) -> dict:
    """Verify and read a checkpoint dict of format ``fmt`` safely (``weights_only=True``); its shape
    is checked."""
    verify(path, require=require_checksum)
    try:
        with warnings.catch_warnings():  # torch warns about pickle protocols in several lines
            warnings.simplefilter("ignore")
            ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises many types, with long texts, for corrupt or unsafe files
        raise CheckpointError(f"{path}: not a readable autocolor checkpoint ({type(err).__name__})") from None
    if not isinstance(ckpt, dict) or ckpt.get("format") != fmt:
        raise CheckpointError(f"{path}: not an autocolor checkpoint (format {fmt!r} expected)")
    weights = ckpt.get("state_dict")
    if not isinstance(ckpt.get("config"), dict) or not isinstance(weights, dict):
        raise CheckpointError(f"{path}: an autocolor checkpoint needs a config and a state_dict")
    if not all(isinstance(k, str) and isinstance(v, Tensor) for k, v in weights.items()):
        raise CheckpointError(f"{path}: the state_dict must map names to tensors")
    stored = next((k for k, v in weights.items() if not _held(v)), None)
    if stored is not None:  # e.g. stride 0: a few bytes in the file that expand to gigabytes
        raise CheckpointError(f"{path}: weights {stored} claim more values than the file holds")
    bad = next((k for k, v in weights.items() if v.is_floating_point() and not v.isfinite().all()), None)
    if bad is not None:
        raise CheckpointError(f"{path}: weights {bad} hold NaN or infinite values")
    return ckpt


def _held(t: Tensor) -> bool:
    """Whether a tensor's values are each stored once in its own storage (no stride-0 expansion)."""
    if t.numel() <= 1:
        return True
    return all(st > 0 for st in t.stride()) and t.untyped_storage().nbytes() >= t.numel() * t.element_size()


def error_line(err: Exception) -> str:
    """An exception's text in one line: its first line, and the next one when the first ends in ':'."""
    lines = [ln.strip() for ln in str(err).strip().splitlines() if ln.strip()] or [type(err).__name__]
    return f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0].rstrip(":")


def load(path: str | os.PathLike, require_checksum: bool = False) -> HypercolumnColorizer:
    """Rebuild the model a checkpoint describes, in eval mode, float32, on the CPU."""
    return build(load_checkpoint(path, require_checksum), path)


def build(ckpt: dict, path: str | os.PathLike) -> HypercolumnColorizer:
    """The model of a checkpoint dict ``load_checkpoint`` read from ``path`` (named in errors)."""
    try:
        model = HypercolumnColorizer(ModelConfig(**ckpt["config"]))
        model.load_state_dict(
            {k: v.float() if v.is_floating_point() else v for k, v in ckpt["state_dict"].items()}
        )
    except (TypeError, ValueError, RuntimeError) as err:
        msg = f"{path}: weights do not fit the model they describe ({error_line(err)})"
        raise CheckpointError(msg) from None
    return model.eval()
