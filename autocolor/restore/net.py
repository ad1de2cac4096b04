"""The learned restorer: a small convolutional network that finds defects and cleans the lightness.

Lightness (B, 1, H, W) in, two maps out at full resolution: the restored lightness (grain removed,
soft focus sharpened, defects filled from their surroundings) and the logit of a defect mask
(scratches, dust, hairs, creases). The work happens on the quarter-resolution grid (the input's
4x4 pixel blocks folded into channels, so no pixel is lost) and coarser ones, which keeps it to
about 0.15 s a megapixel on two CPU cores; quantiles of the whole photo's lightness enter every
cell, so that tone can be judged beyond the network's window (tiles of a large photo share them).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn

FORMAT = "autocolor-restorer/1"
QUANTILES = (0.01, 0.1, 0.5, 0.9, 0.99)


@dataclass(frozen=True)
class RestorerConfig:
    width: int = 48  # channels on the quarter-resolution grid (twice as many on the coarser ones)
    blocks: int = 3  # residual blocks on the eighth-resolution grid
    stats: tuple[float, ...] = QUANTILES  # the lightness quantiles every cell is given

    def __post_init__(self):
        object.__setattr__(self, "stats", tuple(float(q) for q in self.stats))  # a list, from a checkpoint


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride, 1)


class _Block(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.a, self.b = _conv(c, c), _conv(c, c)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.b(F.relu(self.a(x)))


class RestoreNet(nn.Module):
    """Quarter-resolution encoder-decoder with a skip; outputs (restored lightness, defect logit)."""

    multiple = 32  # input sides are padded to a multiple of this

    def __init__(self, config: RestorerConfig = RestorerConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.stem = nn.Sequential(_conv(16 + len(config.stats), w), nn.ReLU(True), _conv(w, w), nn.ReLU(True))
        self.down = nn.Sequential(_conv(w, 2 * w, 2), nn.ReLU(True))
        self.middle = nn.Sequential(*[_Block(2 * w) for _ in range(config.blocks)])
        self.context = nn.Sequential(_conv(2 * w, 2 * w, 2), nn.ReLU(True), _Block(2 * w))
        self.up = nn.Sequential(_conv(2 * w, w), nn.ReLU(True))
        self.tail = nn.Sequential(_conv(2 * w, w), nn.ReLU(True), _conv(w, 2 * 16))

    def forward(self, light: Tensor, stats: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``light`` (B, 1, H, W), sides multiples of 32; ``stats`` (B, Q) the photo's quantiles
        ``config.stats`` (default: this input's). Returns restored lightness and defect logits, each
        (B, 1, H, W)."""
        if stats is None:
            stats = quantiles(light, self.config.stats)
        x = F.pixel_unshuffle(light - 0.5, 4)
        s = (stats - 0.5)[:, :, None, None].expand(-1, -1, *x.shape[-2:])
        skip = self.stem(torch.cat([x, s], 1))
        mid = self.middle(self.down(skip))
        mid = mid + _resize(self.context(mid), mid)
        up = self.up(_resize(mid, skip))
        out = F.pixel_shuffle(self.tail(torch.cat([skip, up], 1)), 4)
        return light + out[:, :1], out[:, 1:]


def _resize(x: Tensor, like: Tensor) -> Tensor:
    return F.interpolate(x, size=like.shape[-2:], mode="bilinear", align_corners=False)


def quantiles(light: Tensor, qs=QUANTILES) -> Tensor:
    """(B, len(qs)) quantiles of each photo's lightness (on at most ~64k of its pixels)."""
    flat = light.flatten(1)
    step = max(1, flat.shape[1] // 65536)
    return torch.quantile(flat[:, ::step].float(), torch.tensor(qs, device=light.device), dim=1).T


def save(net: RestoreNet, path, half: bool = False, **meta) -> str:
    """Write the restorer's config and weights, and a ``.sha256`` beside them; returns the hash."""
    from .. import model as model_lib

    return model_lib.write_checkpoint(net, FORMAT, path, half, **meta)


def load(path, require_checksum: bool = False) -> RestoreNet:
    """The restorer a checkpoint file describes, float32, in eval mode (read with ``weights_only``)."""
    from .. import model as model_lib

    ckpt = model_lib.load_checkpoint(path, require_checksum, fmt=FORMAT)
    try:
        net = RestoreNet(RestorerConfig(**ckpt["config"]))
        net.load_state_dict({k: v.float() for k, v in ckpt["state_dict"].items()})
    except (TypeError, ValueError, RuntimeError) as err:
        msg = f"{path}: weights do not fit the restorer they describe ({model_lib.error_line(err)})"
        raise model_lib.CheckpointError(msg) from None
    return net.eval()
