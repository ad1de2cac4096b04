"""autocolor's network against a peer on the same machine: Zhang et al.'s ECCV 2016 colorization net.

    python benchmarks/peer.py --runs 15 --threads 2

The peer is written here from its published layer description (8 conv blocks of VGG-like 3x3
convolutions with batch norm, dilation 2 in blocks 5-6, a stride-2 deconvolution, 313 ab classes,
annealed-mean decoding by a 1x1 convolution, x4 bilinear upsampling), with random weights (speed
does not depend on them) and its own 256 x 256 input. The networks run in turns (peer, autocolor, peer,
...) with pinned threads, and each autocolor time is divided by the peer's time of the same round: the
median of those ratios, with its interquartile range, survives a noisy machine.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

from autocolor import engines
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


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleaved(fns: dict, runs: int) -> dict[str, list[float]]:
    """Times of each function, run in turns (A, B, C, A, B, C, ...) after one warm-up each, so that a
    slow spell of a noisy machine falls on all of them alike."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(runs):
        for name, fn in fns.items():
            times[name].append(timed(fn))
    return times


def spread(values: list[float]) -> str:
    """Median and the interquartile range, as text."""
    q = statistics.quantiles(values, n=4) if len(values) > 1 else [values[0]] * 3
    return f"{q[1]:.2f} ({q[0]:.2f}-{q[2]:.2f})"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--runs", type=int, default=15, help="rounds of interleaved runs (default 15)")
    p.add_argument("--threads", type=int, default=2, help="torch threads, pinned (default 2)")
    p.add_argument("--backbones", nargs="+", default=["effnet-lite0", "vgg16-gray"])
    p.add_argument(
        "--engines",
        nargs="+",
        default=["torch"],
        choices=engines.ENGINES,
        help="where autocolor's network runs (onnx: ONNX Runtime, openvino: OpenVINO; both exported "
        "before timing)",
    )
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    zhang = ZhangECCV16().eval()
    z_in, a_in = torch.rand(1, 1, 256, 256), torch.rand(1, 1, 256, 352)  # a 4:3 photo at --size 512
    fns, nets = {"peer": lambda: zhang(z_in)}, {}
    for name in args.backbones:
        net = HypercolumnColorizer(ModelConfig(backbone=name)).eval()
        for engine in args.engines:
            key = name if engine == "torch" else f"{name} ({engine})"
            nets[key], dense = net, engines.dense(net, engine, torch.device("cpu"))
            fns[key] = lambda dense=dense: dense(a_in)
    with torch.inference_mode():
        times = interleaved(fns, args.runs)
    peer = times["peer"]
    print(
        f"{args.threads} threads, {args.runs} interleaved rounds; ratio: time / the peer's in the same round"
    )
    print("| network | input | parameters (M) | median s | time / peer: median (IQR) |")
    print("|---|---|---|---|---|")
    print(f"| Zhang et al. ECCV16 (peer) | 256x256 | {sum(q.numel() for q in zhang.parameters()) / 1e6:.1f} "
          f"| {statistics.median(peer):.3f} | 1.00 |")  # fmt: skip
    for name, net in nets.items():
        ratios = [t / z for t, z in zip(times[name], peer, strict=True)]
        print(f"| autocolor {name} | 256x352 | {sum(q.numel() for q in net.parameters()) / 1e6:.1f} "
              f"| {statistics.median(times[name]):.3f} | {spread(ratios)} |")  # fmt: skip


if __name__ == "__main__":
    main()
