"""autocolor's network against a peer on the same machine: Zhang et al.'s ECCV 2016 colorization net.

    python benchmarks/peer.py --runs 7

The peer is written here from its published layer description (8 conv blocks of VGG-like 3x3
convolutions with batch norm, dilation 2 in blocks 5-6, a stride-2 deconvolution, 313 ab classes,
annealed-mean decoding by a 1x1 convolution, x4 bilinear upsampling), with random weights (speed
does not depend on them) and its own 256 x 256 input. Times are medians after one warm-up run.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from autocolor.model import HypercolumnColorizer, ModelConfig


def _block(cin: int, cout: int, n: int, stride_last: bool = False, dilation: int = 1) -> nn.Sequential:
    layers = []
    for i in range(n):
        stride = 2 if stride_last and i == n - 1 else 1
        layers += [nn.Conv2d(cin if i == 0 else cout, cout, 3, stride, dilation, dilation), nn.ReLU(True)]
    return nn.Sequential(*layers, nn.BatchNorm2d(cout))


class ZhangECCV16(nn.Module):
    """The ECCV 2016 architecture (Zhang, Isola & Efros), about 32 M parameters."""

    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(
            _block(1, 64, 2, True),
            _block(64, 128, 2, True),
            _block(128, 256, 3, True),
            _block(256, 512, 3),
            _block(512, 512, 3, dilation=2),
            _block(512, 512, 3, dilation=2),
            _block(512, 512, 3),
            nn.ConvTranspose2d(512, 256, 4, 2, 1),
            nn.ReLU(True),
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(256, 256, 3, 1, 1),
            nn.ReLU(True),
            nn.Conv2d(256, 313, 1),
        )
        self.decode = nn.Conv2d(313, 2, 1, bias=False)
        self.up = nn.Upsample(scale_factor=4, mode="bilinear")

    def forward(self, gray: torch.Tensor) -> torch.Tensor:
        return self.up(self.decode(torch.softmax(self.body(gray) / 0.38, dim=1)))


def median_time(fn, runs: int) -> float:
    fn()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=7)
    p.add_argument("--backbones", nargs="+", default=["effnet-lite0", "vgg16-gray"])
    args = p.parse_args()
    rows = []
    with torch.inference_mode():
        zhang = ZhangECCV16().eval()
        z = median_time(lambda: zhang(torch.rand(1, 1, 256, 256)), args.runs)
        rows.append(("Zhang et al. ECCV16 (peer)", "256x256", sum(q.numel() for q in zhang.parameters()), z))
        for name in args.backbones:
            net = HypercolumnColorizer(ModelConfig(backbone=name)).eval()
            x = torch.rand(1, 1, 256, 352)  # a 4:3 photo at the default --size 512
            t = median_time(lambda net=net, x=x: net.forward_dense(x), args.runs)
            rows.append((f"autocolor {name}", "256x352", sum(q.numel() for q in net.parameters()), t))
    print("| network | input | parameters (M) | median s | time / peer |")
    print("|---|---|---|---|---|")
    for name, size, params, t in rows:
        print(f"| {name} | {size} | {params / 1e6:.1f} | {t:.3f} | {t / z:.2f} |")


if __name__ == "__main__":
    main()
