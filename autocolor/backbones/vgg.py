"""VGG-16-Gray, exactly the paper's network: conv1_1 ... conv5_3, fc6 (7x7 conv) and fc7 (1x1 conv).

The hypercolumn reads the input, every conv layer, fc6 and fc7: 1 + 2*64 + 2*128 + 3*256 + 3*512
+ 3*512 + 2*4096 = 12,417 channels. ImageNet weights come from torchvision's ``vgg16`` file, which
users who are online can download; this module never downloads anything itself.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .base import Backbone, Layer

BLOCKS = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
TORCHVISION_FILE = "vgg16-397923af.pth"
TORCHVISION_URL = "https://download.pytorch.org/models/" + TORCHVISION_FILE
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


class VGG16Gray(Backbone):
    """VGG-16 on one gray channel with fully convolutional fc6/fc7 (no dilation)."""

    def __init__(self):
        super().__init__()
        self.convs = nn.ModuleDict()
        layers, cin, stride = [Layer("input", 1, 1)], 1, 1
        for b, (cout, n) in enumerate(BLOCKS, start=1):
            for i in range(1, n + 1):
                name = f"conv{b}_{i}"
                self.convs[name] = nn.Conv2d(cin, cout, 3, padding=1)
                layers.append(Layer(name, cout, stride))
                cin = cout
            stride *= 2
        self.fc6 = nn.Conv2d(512, 4096, 7, padding=3)
        self.fc7 = nn.Conv2d(4096, 4096, 1)
        self.drop = nn.Dropout(0.5)
        layers += [Layer("fc6", 4096, 32), Layer("fc7", 4096, 32)]
        self.layers = tuple(layers)

    def forward(self, gray: Tensor) -> list[Tensor]:
        x, feats = gray, [gray]
        for name, conv in self.convs.items():
            if name.endswith("_1") and name != "conv1_1":
                x = F.max_pool2d(x, 2)
            x = F.relu(conv(x))
            feats.append(x)
        x = self.drop(F.relu(self.fc6(F.max_pool2d(x, 2))))
        feats.append(x)
        feats.append(self.drop(F.relu(self.fc7(x))))
        return feats

    def early(self, n: int) -> list[nn.Module]:
        """The first n convolutions (fc6 and fc7 count as the last two)."""
        return [*self.convs.values(), self.fc6, self.fc7][: max(n, 0)]

    def load_imagenet(self, path: str | None = None) -> None:
        """Load torchvision's VGG-16 state dict: conv1_1 summed over RGB with the ImageNet
        normalisation folded in, fc6/fc7 reshaped into convolutions, fc8 dropped."""
        path = Path(path) if path else default_weights()
        sd = torch.load(path, map_location="cpu", weights_only=True)
        conv_keys = sorted(
            {int(k.split(".")[1]) for k in sd if k.startswith("features.")},
        )
        if len(conv_keys) != len(self.convs):
            raise ValueError(f"{path}: expected {len(self.convs)} conv layers, found {len(conv_keys)}")
        new = {}
        for name, idx in zip(self.convs, conv_keys, strict=True):
            new[f"convs.{name}.weight"] = sd[f"features.{idx}.weight"]
            new[f"convs.{name}.bias"] = sd[f"features.{idx}.bias"]
        w, b = new["convs.conv1_1.weight"], new["convs.conv1_1.bias"]
        mean = torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1)
        std = torch.tensor(IMAGENET_STD).view(1, 3, 1, 1)
        new["convs.conv1_1.weight"] = (w / std).sum(dim=1, keepdim=True)
        new["convs.conv1_1.bias"] = b - (w * mean / std).sum(dim=(1, 2, 3))
        new["fc6.weight"] = sd["classifier.0.weight"].view(4096, 512, 7, 7)
        new["fc6.bias"] = sd["classifier.0.bias"]
        new["fc7.weight"] = sd["classifier.3.weight"].view(4096, 4096, 1, 1)
        new["fc7.bias"] = sd["classifier.3.bias"]
        self.load_state_dict(new)


def default_weights() -> Path:
    """torchvision's cached VGG-16 file (``$TORCH_HOME/hub/checkpoints``), with a clear error if absent."""
    home = Path(os.environ.get("TORCH_HOME", Path.home() / ".cache" / "torch"))
    path = home / "hub" / "checkpoints" / TORCHVISION_FILE
    if not path.exists():
        raise FileNotFoundError(
            f"VGG-16 ImageNet weights not found at {path}; download {TORCHVISION_URL} there or pass its path"
        )
    return path
