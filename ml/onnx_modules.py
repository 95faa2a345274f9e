"""Small torch networks run by onnxruntime in place of torch, behind a torch module.

On the CPU, a small network's time in torch is mostly per-layer dispatch, not arithmetic;
onnxruntime runs the same weights several times faster (MTCNN's R-Net and O-Net,
ml/detection.py; the MiniFASNets of the passive decision, ml/silent_face.py; figures in
docs/MODELS.md and docs/BENCHMARKS.md). `onnx_module` exports a network once, when its model loads (tens of ms,
torch's TorchScript-based exporter, the batch axis left free), and gives an OnnxModule: a torch
module with the network's inputs and outputs, so the code that calls the network is unchanged.
Its outputs equal torch's to float rounding (tests/test_ml_perception.py,
tests/test_ml_silent_face.py). Where this torch can no longer export that way, the torch network
stays and a warning says why.
"""

import logging
import tempfile
import warnings
from pathlib import Path

import numpy as np
import onnxruntime
import torch

from .device import onnx_session_options

log = logging.getLogger(__name__)

INPUT = "batch"


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
    2x faster for one crop, even at five, slower from nine)."""
    name = type(network).__name__
    example = torch.zeros((2, *input_shape))
    with torch.inference_mode():
        expected = network(example)
    single = isinstance(expected, torch.Tensor)
    expected = (expected,) if single else tuple(expected)
    outputs = [f"out{i}" for i in range(len(expected))]
    try:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")      # the exporter's deprecation notices
            path = Path(folder) / "network.onnx"
            torch.onnx.export(network, (example,), path, input_names=[INPUT],
                              output_names=outputs,
                              dynamic_axes={value: {0: "n"} for value in [INPUT, *outputs]},
                              dynamo=False, opset_version=17)
            graph = path.read_bytes()
    except Exception as error:   # noqa: BLE001 - any exporter failure: keep torch's network
        log.warning("%s stays in torch: onnx export failed (%s)", name, error)
        return network
    return OnnxModule(graph, [int(values.shape[1]) for values in expected], name,
                      single=single)
