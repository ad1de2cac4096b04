"""The learned restorer: a small convolutional network that finds defects and cleans the lightness.

Lightness (B, 1, H, W) in, two maps out at full resolution: the restored lightness (grain removed,
soft focus sharpened, defects filled from their surroundings) and the logit of a defect mask
(scratches, dust, hairs, creases). The work happens on the quarter-resolution grid (the input's
4x4 pixel blocks folded into channels, so no pixel is lost) and coarser ones, which keeps it to
about 0.15 s a megapixel on two CPU cores; quantiles of the whole photo's lightness enter every
cell, so that tone can be judged beyond the network's window (tiles of a large photo share them).
With ``scene`` channels, a small encoder also reads a thumbnail of the whole photo and every cell is
given its features at the cell's place in the photo: what the scene is (sky, faces, snow) and where
the light falls off, which quantiles alone do not say.
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
    scene: int = 0  # channels of the whole-photo thumbnail's features every cell is given (0: none)

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


THUMB = 128  # side of the whole-photo thumbnail the scene encoder reads


class Scene(nn.Module):
    """Features of a whole-photo thumbnail (B, 1, THUMB, THUMB): a 16 x 16 map, each cell with the
    photo's global summary added."""

    def __init__(self, c: int):
        super().__init__()
        self.encode = nn.Sequential(
            _conv(1, 16, 2), nn.ReLU(True), _conv(16, 32, 2), nn.ReLU(True),
            _conv(32, 64, 2), nn.ReLU(True), _conv(64, 64), nn.ReLU(True),
        )  # fmt: skip
        self.local, self.whole = nn.Conv2d(64, c, 1), nn.Linear(64, c)

    def forward(self, thumb: Tensor) -> Tensor:
        x = self.encode(thumb - 0.5)
        return F.relu(self.local(x) + self.whole(x.mean((2, 3)))[:, :, None, None])


def thumbnail(light: Tensor) -> Tensor:
    """(B, 1, THUMB, THUMB): the whole photo's lightness, area-resized (aspect not kept)."""
    return F.interpolate(light, size=(THUMB, THUMB), mode="area")


class RestoreNet(nn.Module):
    """Quarter-resolution encoder-decoder with a skip; outputs (restored lightness, defect logit)."""

    multiple = 32  # input sides are padded to a multiple of this

    def __init__(self, config: RestorerConfig = RestorerConfig()):
        super().__init__()
        self.config = config
        w = config.width
        inputs = 16 + len(config.stats) + config.scene
        self.stem = nn.Sequential(_conv(inputs, w), nn.ReLU(True), _conv(w, w), nn.ReLU(True))
        self.scene = Scene(config.scene) if config.scene else None
        self.down = nn.Sequential(_conv(w, 2 * w, 2), nn.ReLU(True))
        self.middle = nn.Sequential(*[_Block(2 * w) for _ in range(config.blocks)])
        self.context = nn.Sequential(_conv(2 * w, 2 * w, 2), nn.ReLU(True), _Block(2 * w))
        self.up = nn.Sequential(_conv(2 * w, w), nn.ReLU(True))
        self.tail = nn.Sequential(_conv(2 * w, w), nn.ReLU(True), _conv(w, 2 * 16))

    def forward(self, light: Tensor, stats: Tensor | None = None, thumb: Tensor | None = None,
                box: Tensor | None = None) -> tuple[Tensor, Tensor]:  # fmt: skip
        """``light`` (B, 1, H, W), sides multiples of 32, a crop of a photo whose quantiles
        ``config.stats`` are ``stats`` (B, Q), whose ``thumbnail`` is ``thumb`` and in which the crop
        spans ``box`` (B, 4: top, left, bottom, right as fractions of the photo's sides); by default
        the input is the whole photo. Returns restored lightness and defect logits, each (B, 1, H, W)."""
        if stats is None:
            stats = quantiles(light, self.config.stats)
        x = F.pixel_unshuffle(light - 0.5, 4)
        cells = [x, (stats - 0.5)[:, :, None, None].expand(-1, -1, *x.shape[-2:])]
        if self.scene is not None:
            thumb = thumbnail(light) if thumb is None else thumb
            box = light.new_tensor([[0.0, 0.0, 1.0, 1.0]]).expand(len(light), 4) if box is None else box
            cells.append(_at_cells(self.scene(thumb), box, x.shape[-2:]))
        skip = self.stem(torch.cat(cells, 1))
        mid = self.middle(self.down(skip))
        mid = mid + _resize(self.context(mid), mid)
        up = self.up(_resize(mid, skip))
        out = F.pixel_shuffle(self.tail(torch.cat([skip, up], 1)), 4)
        return light + out[:, :1], out[:, 1:]


def _at_cells(features: Tensor, box: Tensor, size) -> Tensor:
    """``features`` of whole photos sampled at the centres of a (h, w) grid of cells over ``box``."""
    h, w = size
    t = (torch.arange(h, device=box.device, dtype=box.dtype) + 0.5) / h
    u = (torch.arange(w, device=box.device, dtype=box.dtype) + 0.5) / w
    ys = box[:, 0, None] + t * (box[:, 2] - box[:, 0])[:, None]  # (B, h) fractions of the photo
    xs = box[:, 1, None] + u * (box[:, 3] - box[:, 1])[:, None]
    grid = torch.stack(torch.broadcast_tensors(xs[:, None, :], ys[:, :, None]), -1) * 2 - 1
    grid = grid.to(features.dtype)
    return F.grid_sample(features, grid, mode="bilinear", padding_mode="border", align_corners=False)


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
