"""Small torch networks run by onnxruntime in place of torch, behind a torch module.

On the CPU, a small network's time in torch is mostly per-layer dispatch, not arithmetic;
onnxruntime runs the same weights several times faster (MTCNN's R-Net and O-Net,
ml/detection.py; the MiniFASNets of the passive decision, ml/silent_face.py; figures in
docs/MODELS.md and docs/BENCHMARKS.md). `onnx_module` exports a network (torch's
TorchScript-based exporter, the batch axis left free) and gives an OnnxModule: a torch module
with the network's inputs and outputs, so the code that calls the network is unchanged. Its
outputs equal torch's to float rounding (tests/test_ml_perception.py,
tests/test_ml_silent_face.py). Where this torch can no longer export that way, the torch network
stays and a warning says why.

The exported graphs are kept in a folder (`graph_folder`: ML_GRAPH_CACHE, else
`$LIVENESS_VAR_DIR/onnx-graphs`, else the checkout's `var/onnx-graphs`), one file per network,
named by a digest of what the graph depends on: the network's class and the source files of
its modules' classes, its weights, its input shape, torch's version and the opset (and then
by its own content's digest, so that a file damaged after it was written is found out). A worker
process whose graphs are there does not run the exporter: ~0.5 s less to start and ~14 MiB less
RSS (docs/MODELS.md). A graph read back is still checked: its outputs on a
seeded random batch must equal the torch network's, else it is exported again. A folder that
cannot be written only costs the export at every start.
"""

import hashlib
import importlib.metadata
import inspect
import logging
import os
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from .device import onnx_session_options

log = logging.getLogger(__name__)

INPUT = "batch"
OPSET = 17
# A read-back graph whose outputs on the probe batch differ from torch's by more than this
# (absolute, and relative to the value) is not this network's: exported graphs measured within
# 1e-5 of torch on 0..255 inputs.
GRAPH_TOLERANCE = 1e-3


class OnnxModule(torch.nn.Module):
    """A network's outputs, as torch tensors (one, or a tuple as the network returned them),
    from onnxruntime's session on its exported graph."""

    def __init__(self, graph: bytes, widths: list[int], name: str, *, single: bool):
        super().__init__()
        self.network_name = name
        self._session = onnxruntime.InferenceSession(
            graph, onnx_session_options(), providers=["CPUExecutionProvider"])
        self._widths = widths    # each output's columns, for an empty batch
        self._single = single    # the network returns one tensor, not a tuple

    def forward(self, batch: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        if len(batch) == 0:
            found = tuple(torch.zeros((0, width)) for width in self._widths)
        else:
            found = tuple(torch.from_numpy(values) for values in self._session.run(
                None, {INPUT: np.ascontiguousarray(batch.detach().cpu().numpy(),
                                                   dtype=np.float32)}))
        return found[0] if self._single else found


def onnx_module(network: torch.nn.Module, input_shape: tuple[int, int, int]) -> torch.nn.Module:
    """`network` (in eval mode, taking a (N, *input_shape) float batch and returning one
    (N, width) tensor or a tuple of them) as an OnnxModule, or the network itself when it
    cannot be exported here. For networks fed a few crops a call: onnxruntime's time grows
    with the batch about linearly, torch's much less (a MiniFASNet, ml/silent_face.py: ORT
    2x faster for one crop, even at five, slower from nine). The graph comes from
    `graph_folder` when it holds this network's, else from the exporter (then kept there)."""
    name = type(network).__name__
    # a batch of two: noise in [-1, 1] (MTCNN's normalised crops) and in [0, 255] (the
    # MiniFASNets' pixels), so the check below sees outputs that are not saturated
    probe = torch.rand((2, *input_shape), generator=torch.Generator().manual_seed(0))
    probe = probe * torch.tensor([2.0, 255.0]).view(2, 1, 1, 1) - torch.tensor(
        [1.0, 0.0]).view(2, 1, 1, 1)
    with torch.inference_mode():
        expected = network(probe)
    single = isinstance(expected, torch.Tensor)
    expected = (expected,) if single else tuple(expected)
    widths = [int(values.shape[1]) for values in expected]
    key = graph_key(network, input_shape)
    kept = _kept(key)
    if kept is not None:
        try:
            module = OnnxModule(kept, widths, name, single=single)
        except Exception as error:   # noqa: BLE001 - onnxruntime's own errors: export again
            log.warning("%s: the kept graph %s does not load (%s); exported again", name, key,
                        error)
        else:
            if _agrees(module, probe, expected):
                return module
            log.warning("%s: the kept graph %s does not give the network's outputs; exported "
                        "again", name, key)
    graph = _exported(network, probe, len(expected))
    if graph is None:
        return network
    _keep(key, graph)
    return OnnxModule(graph, widths, name, single=single)


def derived_graph(path: Path, derive: Callable[[Path], bytes]) -> bytes:
    """`derive(path)`: a graph rewritten from a shipped ONNX file (SFace's, YuNet's: ml/
    sface_graph.py, ml/yunet.py), kept in `graph_folder` under a digest of the file, the source
    of the module that rewrites it and the onnx package's version, and read back from there by
    later processes, which then import neither the onnx package nor parse the file (~0.1 s and
    ~10 MiB of a worker, docs/MODELS.md). The rewrite is a pure function of those inputs."""
    from .weights import file_sha256

    digest = hashlib.sha256(file_sha256(path).encode())
    digest.update(f"{derive.__module__}.{derive.__qualname__} "
                  f"{importlib.metadata.version('onnx')}".encode())
    digest.update(_source(derive.__module__))
    key = digest.hexdigest()[:32]
    kept = _kept(key)
    if kept is not None:
        return kept
    graph = derive(path)
    _keep(key, graph)
    return graph


def graph_folder() -> Path:
    """Where exported graphs are kept (see the module's docstring)."""
    if folder := os.environ.get("ML_GRAPH_CACHE"):
        return Path(folder)
    var = os.environ.get("LIVENESS_VAR_DIR") or Path(__file__).resolve().parent.parent / "var"
    return Path(var) / "onnx-graphs"


def graph_key(network: torch.nn.Module, input_shape: tuple[int, ...]) -> str:
    """A digest of everything the exported graph depends on: the classes of the network's
    modules with the source files that define them (torch's own by its version), its
    parameters and buffers, the input shape, torch's version and the opset."""
    digest = hashlib.sha256()
    digest.update(f"{type(network).__qualname__} {input_shape} {torch.__version__} "
                  f"{OPSET}".encode())
    for kind in sorted({type(module) for module in network.modules()},
                       key=lambda kind: (kind.__module__, kind.__qualname__)):
        digest.update(f"{kind.__module__}.{kind.__qualname__}".encode())
        if not kind.__module__.startswith("torch."):
            digest.update(_source(kind.__module__))
    for entry, values in network.state_dict().items():
        values = values.detach().cpu().contiguous()
        digest.update(f"{entry} {values.dtype} {tuple(values.shape)}".encode())
        digest.update(values.numpy().tobytes() if values.dtype != torch.bfloat16
                      else values.float().numpy().tobytes())
    return digest.hexdigest()[:32]


def _source(module_name: str) -> bytes:
    """The source file of a loaded module, or nothing where it has none (a built-in)."""
    try:
        source = inspect.getsourcefile(sys.modules[module_name])
        return Path(source).read_bytes() if source else b""
    except (KeyError, TypeError, OSError):
        return b""


def _kept(key: str) -> bytes | None:
    """The graph kept under `key`, if one is there whole: its file's name ends with the digest
    of its content, so a file damaged after it was written is found out (and removed)."""
    for path in sorted(graph_folder().glob(f"{key}.*.onnx")):
        try:
            graph = path.read_bytes()
        except OSError:
            continue
        if hashlib.sha256(graph).hexdigest()[:16] == path.suffixes[-2].lstrip("."):
            return graph
        log.warning("kept graph %s does not match its digest: removed", path.name)
        path.unlink(missing_ok=True)
    return None


def _agrees(module: OnnxModule, probe: torch.Tensor, expected: tuple[torch.Tensor, ...]) -> bool:
    found = module(probe)
    found = (found,) if isinstance(found, torch.Tensor) else tuple(found)
    return len(found) == len(expected) and all(
        got.shape == want.shape and bool(torch.allclose(got, want, rtol=GRAPH_TOLERANCE,
                                             atol=GRAPH_TOLERANCE))
        for got, want in zip(found, expected, strict=True))


def _exported(network: torch.nn.Module, probe: torch.Tensor, outputs: int) -> bytes | None:
    """The network's ONNX graph from torch's TorchScript-based exporter; None (and a warning)
    where it fails."""
    names = [f"out{i}" for i in range(outputs)]
    try:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")      # the exporter's deprecation notices
            path = Path(folder) / "network.onnx"
            torch.onnx.export(network, (probe,), path, input_names=[INPUT], output_names=names,
                              dynamic_axes={value: {0: "n"} for value in [INPUT, *names]},
                              dynamo=False, opset_version=OPSET)
            return path.read_bytes()
    except Exception as error:   # noqa: BLE001 - any exporter failure: keep torch's network
        log.warning("%s stays in torch: onnx export failed (%s)", type(network).__name__, error)
        return None


def _keep(key: str, graph: bytes) -> None:
    """Writes the graph where the next process finds it, named by its key and its content's
    digest: a file of its own first, then renamed into place, so a process reading it never
    sees half a graph."""
    folder = graph_folder()
    part = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, suffix=".part", delete=False) as part:
            part.write(graph)
        path = folder / f"{key}.{hashlib.sha256(graph).hexdigest()[:16]}.onnx"
        os.replace(part.name, path)
        for other in folder.glob(f"{key}.*.onnx"):   # one this key's check refused
            if other != path:
                other.unlink(missing_ok=True)
    except OSError as error:
        if part is not None:
            Path(part.name).unlink(missing_ok=True)
        log.warning("graph not kept in %s (%s): made again at the next start", folder, error)
