"""Where the networks run: PyTorch itself, ONNX Runtime (extra ``[onnx]``) or OpenVINO (extra
``[openvino]``), for the colorizer's dense pass (``dense``) and the restorer's (``restorer``).

On a CPU, ONNX Runtime runs the colorizer in about 0.65 of PyTorch's time and OpenVINO in 0.45
(docs/benchmarks.md). Both take a network as an ONNX graph. The colorizer's is traced for one input
size at a time (its grid geometry is fixed per size), so the first photo of a size pays about 1.6 s to
export, and the next photos of that size reuse the compiled graph: these engines pay off on batches
whose scans share a size, as an archive's usually do. The restorer's graph takes any size and is
exported once. Outputs agree with PyTorch's to about 1e-4, except where OpenVINO computes in bfloat16
(its default on processors with bfloat16 units): there a colour moves by under half a level of 255 on
average, a few levels at most (scikit-image's astronaut restored and colorized: 0.35 and 5). PNG bytes
are not the same as PyTorch's.
"""

from __future__ import annotations

import io as stdio
import threading
from collections import OrderedDict
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from .options import ENGINES

EXTRAS = {"onnx": ("ONNX Runtime", "pip install 'autocolor[onnx]'"),
          "openvino": ("OpenVINO", "pip install 'autocolor[openvino]'")}  # fmt: skip
SIZES_KEPT = 8  # input sizes whose compiled graphs are kept (least recently used dropped first)

Dense = Callable[[Tensor], tuple[dict[str, Tensor], Tensor]]  # input -> (logits by name, hidden layer)
Restore = Callable[..., tuple[Tensor, Tensor]]  # (tile, stats, thumb, box) -> (restored, defect logit)


class EngineError(ValueError):
    """An engine that cannot run here; the message says why in one line."""


def dense(net: nn.Module, engine: str, device: torch.device) -> Dense:
    """The colorizer ``net``'s dense pass (``dense_with_features``) on ``engine``."""
    if engine == "torch":
        return lambda x: net.dense_with_features(x)  # looked up at each call (a patch, a subclass)
    return PerSize(net, runtime(engine, device))


def restorer(net: nn.Module, engine: str, device: torch.device) -> Restore:
    """The restorer ``net``'s pass (``RestoreNet.forward``) on ``engine``, one graph for all sizes."""
    if engine == "torch":
        return net
    return AnySize(net, runtime(engine, device))


def runtime(engine: str, device: torch.device):
    """The runtime behind ``engine``; an EngineError says in one line why it cannot run here."""
    if engine not in EXTRAS:
        raise EngineError(f"unknown engine {engine!r} (one of {', '.join(ENGINES)})")
    if device.type != "cpu":
        raise EngineError(f"the {engine} engine runs on the CPU, not {device.type}")
    name, extra = EXTRAS[engine]
    try:
        import onnx  # noqa: F401  (the exporter writes with it)

        if engine == "onnx":
            import onnxruntime  # noqa: F401
        else:
            import openvino  # noqa: F401
    except ImportError:
        raise EngineError(f"the {engine} engine needs {name}: {extra}") from None
    return (OnnxRuntime if engine == "onnx" else OpenVino)(torch.get_num_threads())


def _onnx(module: nn.Module, args: tuple[Tensor, ...], dynamic: dict | None = None) -> bytes:
    """``module`` traced on ``args`` as an ONNX graph (inputs in0, in1, ...)."""
    import warnings

    names = [f"in{i}" for i in range(len(args))]
    buffer = stdio.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the tracer's notes on shape-dependent branches
        torch.onnx.export(module, args, buffer, input_names=names, dynamic_axes=dynamic, dynamo=False,
                          opset_version=17)  # fmt: skip
    return buffer.getvalue()


class OnnxRuntime:
    """ONNX Runtime's CPU provider: compiles a graph into a session and runs it."""

    def __init__(self, threads: int):
        self.threads = threads

    def compile(self, graph: bytes):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        # no busy-waiting between runs: the rest of the pipeline (torch, numpy) needs the cores then
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])

    def run(self, session, inputs: list[np.ndarray]) -> list[np.ndarray]:
        return session.run(None, {f"in{i}": x for i, x in enumerate(inputs)})


class OpenVino:
    """OpenVINO's CPU plugin, tuned for one photo at a time. It computes in bfloat16 on processors
    with bfloat16 units (its default there)."""

    def __init__(self, threads: int):
        self.threads = threads
        self.lock = threading.Lock()  # a compiled graph has one request, which runs one input at a time

    def compile(self, graph: bytes):
        import openvino as ov

        config = {"INFERENCE_NUM_THREADS": self.threads, "PERFORMANCE_HINT": "LATENCY"}
        core = ov.Core()  # read_model, not convert_model: the converter sends usage telemetry by default
        return core.compile_model(core.read_model(graph), "CPU", config).create_infer_request()

    def run(self, request, inputs: list[np.ndarray]) -> list[np.ndarray]:
        with self.lock:  # the outputs read in place and copied once (the request reuses its buffers)
            feeds = dict(enumerate(inputs))
            return [o.copy() for o in request.infer(feeds, share_inputs=True, share_outputs=True).values()]


class _Outputs(nn.Module):
    """The colorizer's dense pass as a flat tuple (ONNX graphs return tensors, not dicts)."""

    def __init__(self, net: nn.Module):
        super().__init__()
        self.net = net

    def forward(self, x: Tensor) -> tuple[Tensor, ...]:
        logits, hidden = self.net.dense_with_features(x)
        return (*(logits[n] for n in sorted(logits)), hidden)


class PerSize:
    """The colorizer's dense pass compiled by ``runtime``, one graph per input size (on first use)."""

    def __init__(self, net: nn.Module, runtime):
        # the wrapper in eval mode too: the exporter restores the traced module's mode afterwards, and a
        # wrapper left in training mode would put the shared network in training mode with it
        self.module, self.runtime = _Outputs(net).eval(), runtime
        self.compiled: OrderedDict[tuple[int, ...], tuple[object, list[str]]] = OrderedDict()

    def __call__(self, x: Tensor) -> tuple[dict[str, Tensor], Tensor]:
        graph, names = self._graph(x)
        outs = [torch.from_numpy(o) for o in self.runtime.run(graph, [x.cpu().numpy()])]
        return dict(zip(names, outs[:-1], strict=True)), outs[-1]

    def _graph(self, x: Tensor) -> tuple[object, list[str]]:
        key = tuple(x.shape)
        if key not in self.compiled:
            with torch.no_grad():
                names = sorted(self.module.net.dense_with_features(x)[0])
            self.compiled[key] = self.runtime.compile(_onnx(self.module, (x,))), names
            if len(self.compiled) > SIZES_KEPT:
                self.compiled.popitem(last=False)
        self.compiled.move_to_end(key)
        return self.compiled[key]


class AnySize:
    """The restorer's pass compiled by ``runtime`` once, for tiles of any height and width; the
    graph takes the scene's inputs only when the network has a scene encoder."""

    def __init__(self, net: nn.Module, runtime):
        self.net, self.runtime, self.graph = net, runtime, None

    def __call__(self, light: Tensor, stats: Tensor, thumb=None, box=None) -> tuple[Tensor, Tensor]:
        inputs = (light, stats) if self.net.scene is None else (light, stats, thumb, box)
        if self.graph is None:
            dynamic = {"in0": {2: "height", 3: "width"}}
            self.graph = self.runtime.compile(_onnx(self.net, tuple(x.cpu() for x in inputs), dynamic))
        clean, logit = self.runtime.run(self.graph, [x.cpu().numpy() for x in inputs])
        return torch.from_numpy(clean), torch.from_numpy(logit)
