"""Where the network's dense pass runs: PyTorch itself, or ONNX Runtime (the optional extra ``[onnx]``).

ONNX Runtime runs the same network about 1.6 times as fast on a CPU (docs/benchmarks.md). The network
is traced for one input size at a time (its grid geometry is fixed per size), so the first photo of a
size pays about 1.6 s to export, and the next photos of that size reuse the session: the engine pays
off on batches whose scans share a size, as an archive's usually do. Outputs agree with PyTorch's to
about 1e-5; PNG bytes are not the same as PyTorch's.
"""

from __future__ import annotations

import io as stdio
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

ENGINES = ("torch", "onnx")
EXTRA = "pip install 'autocolor[onnx]'"
SIZES_KEPT = 8  # input sizes whose sessions are kept (least recently used dropped first)

Dense = Callable[[Tensor], tuple[dict[str, Tensor], Tensor]]  # input -> (logits by name, hidden layer)


class EngineError(ValueError):
    """An engine that cannot run here; the message says why in one line."""


def dense(net: nn.Module, engine: str, device: torch.device) -> Dense:
    """The dense pass of ``net`` (``dense_with_features``) on ``engine``."""
    if engine == "torch":
        return lambda x: net.dense_with_features(x)  # looked up at each call (a patch, a subclass)
    if engine != "onnx":
        raise EngineError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if device.type != "cpu":
        raise EngineError(f"the onnx engine runs on the CPU, not {device.type}")
    try:
        import onnx  # noqa: F401  (the exporter writes with it)
        import onnxruntime  # noqa: F401
    except ImportError:
        raise EngineError(f"the onnx engine needs ONNX Runtime: {EXTRA}") from None
    return OnnxDense(net)


class _Outputs(nn.Module):
    """The network's dense pass as a flat tuple (ONNX graphs return tensors, not dicts)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        logits, hidden = self.net.dense_with_features(x)
        return (*(logits[n] for n in sorted(logits)), hidden)


class OnnxDense:
    """``net``'s dense pass in ONNX Runtime, one session per input size (traced on first use)."""

    def __init__(self, net: nn.Module, threads: int | None = None):
        # the wrapper in eval mode too: the exporter restores the traced module's mode afterwards, and a
        # wrapper left in training mode would put the shared network in training mode with it
        self.module, self.threads = _Outputs(net).eval(), threads
        self.sessions: OrderedDict[tuple[int, ...], object] = OrderedDict()

    def __call__(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        session, names = self._session(x)
        outs = [torch.from_numpy(o) for o in session.run(None, {"x": x.cpu().numpy()})]
        return dict(zip(names, outs[:-1], strict=True)), outs[-1]

    def _session(self, x: Tensor):
        key = tuple(x.shape)
        if key not in self.sessions:
            self.sessions[key] = self._export(x)
            if len(self.sessions) > SIZES_KEPT:
                self.sessions.popitem(last=False)
        self.sessions.move_to_end(key)
        return self.sessions[key]

    def _export(self, x: Tensor):
        import warnings

        import onnxruntime as ort

        with torch.no_grad():
            logits, _ = self.module.net.dense_with_features(x)
        names = sorted(logits)
        buffer = stdio.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches: one size
            torch.onnx.export(self.module, (x,), buffer, input_names=["x"], dynamo=False, opset_version=17)
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no busy-waiting between runs: the rest of the pipeline (torch, numpy) needs the cores then
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(buffer.getvalue(), options, providers=["CPUExecutionProvider"])
        return session, names
