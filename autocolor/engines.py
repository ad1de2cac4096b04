"""Where the network's dense pass runs: PyTorch itself, ONNX Runtime (extra ``[onnx]``) or OpenVINO
(extra ``[openvino]``).

On a CPU, ONNX Runtime runs the same network in about 0.65 of PyTorch's time and OpenVINO in 0.45
(docs/benchmarks.md). Both take the network as an ONNX graph traced for one input size at a time (its
grid geometry is fixed per size), so the first photo of a size pays about 1.6 s to export, and the next
photos of that size reuse the compiled graph: these engines pay off on batches whose scans share a
size, as an archive's usually do. Outputs agree with PyTorch's to about 1e-4; PNG bytes are not the same
as PyTorch's.
"""

from __future__ import annotations

import io as stdio
import threading
from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

from .options import ENGINES

EXTRAS = {"onnx": ("ONNX Runtime", "pip install 'autocolor[onnx]'"),
          "openvino": ("OpenVINO", "pip install 'autocolor[openvino]'")}  # fmt: skip
SIZES_KEPT = 8  # input sizes whose compiled graphs are kept (least recently used dropped first)

Dense = Callable[[Tensor], tuple[dict[str, Tensor], Tensor]]  # input -> (logits by name, hidden layer)


class EngineError(ValueError):
    """An engine that cannot run here; the message says why in one line."""


def dense(net: nn.Module, engine: str, device: torch.device) -> Dense:
    """The dense pass of ``net`` (``dense_with_features``) on ``engine``."""
    if engine == "torch":
        return lambda x: net.dense_with_features(x)  # looked up at each call (a patch, a subclass)
    if engine not in EXTRAS:
        raise EngineError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if device.type != "cpu":
        raise EngineError(f"the {engine} engine runs on the CPU, not {device.type}")
    runtime, extra = EXTRAS[engine]
    try:
        import onnx  # noqa: F401  (the exporter writes with it)

        if engine == "onnx":
            import onnxruntime  # noqa: F401
        else:
            import openvino  # noqa: F401
    except ImportError:
        raise EngineError(f"the {engine} engine needs {runtime}: {extra}") from None
    return (OnnxDense if engine == "onnx" else OpenVinoDense)(net)


class _Outputs(nn.Module):
    """The network's dense pass as a flat tuple (ONNX graphs return tensors, not dicts)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        logits, hidden = self.net.dense_with_features(x)
        return (*(logits[n] for n in sorted(logits)), hidden)


class _PerSize:
    """``net``'s dense pass as an ONNX graph compiled by a runtime, one per input size (on first use).
    Subclasses say how a runtime compiles the graph (``_compile``) and runs it (``_run``)."""

    def __init__(self, net: nn.Module, threads: int | None = None):
        # the wrapper in eval mode too: the exporter restores the traced module's mode afterwards, and a
        # wrapper left in training mode would put the shared network in training mode with it
        self.module, self.threads = _Outputs(net).eval(), threads
        self.compiled: OrderedDict[tuple[int, ...], tuple[object, list[str]]] = OrderedDict()

    def __call__(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        graph, names = self._graph(x)
        outs = [torch.from_numpy(o) for o in self._run(graph, x.cpu().numpy())]
        return dict(zip(names, outs[:-1], strict=True)), outs[-1]

    def _graph(self, x: Tensor) -> tuple[object, list[str]]:
        key = tuple(x.shape)
        if key not in self.compiled:
            self.compiled[key] = self._export(x)
            if len(self.compiled) > SIZES_KEPT:
                self.compiled.popitem(last=False)
        self.compiled.move_to_end(key)
        return self.compiled[key]

    def _export(self, x: Tensor) -> tuple[object, list[str]]:
        import warnings

        with torch.no_grad():
            logits, _ = self.module.net.dense_with_features(x)
        buffer = stdio.BytesIO()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches: one size
            torch.onnx.export(self.module, (x,), buffer, input_names=["x"], dynamo=False, opset_version=17)
        return self._compile(buffer.getvalue()), sorted(logits)

    def _compile(self, graph: bytes) -> object:  # pragma: no cover - interface
        raise NotImplementedError

    def _run(self, compiled, x):  # pragma: no cover - interface
        raise NotImplementedError


class OnnxDense(_PerSize):
    """``net``'s dense pass in ONNX Runtime."""

    def _compile(self, graph: bytes):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads or torch.get_num_threads()
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no busy-waiting between runs: the rest of the pipeline (torch, numpy) needs the cores then
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def _run(self, session, x):
        return session.run(None, {"x": x})


class OpenVinoDense(_PerSize):
    """``net``'s dense pass in OpenVINO's CPU plugin, tuned for one photo at a time. OpenVINO computes
    in bfloat16 on processors with bfloat16 units (its default there): a pixel moves by a level or two."""

    def __init__(self, net: nn.Module, threads: int | None = None):
        super().__init__(net, threads)
        self.lock = threading.Lock()  # one request per size, and a request runs one photo at a time

    def _compile(self, graph: bytes):
        import openvino as ov

        threads = self.threads or torch.get_num_threads()
        config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY"}
        model = ov.convert_model(stdio.BytesIO(graph))
        return ov.Core().compile_model(model, "CPU", config).create_infer_request()

    def _run(self, request, x):
        with self.lock:  # the outputs read in place and copied once (the request reuses its buffers)
            return [o.copy() for o in request.infer({0: x}, share_inputs=True, share_outputs=True).values()]
