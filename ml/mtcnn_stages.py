"""MTCNN's second and third stages (R-Net, O-Net) run by onnxruntime in place of torch.

Both networks are small (24 and 48 px inputs), so torch's per-layer dispatch, not arithmetic,
is most of their time on the CPU: one-threaded, a batch of two measured 1.5 ms (R-Net) and
5.6 ms (O-Net) in torch against 0.4 and 2.2 ms in onnxruntime on the same weights
(docs/BENCHMARKS.md, get_biz_token). They run on every face YuNet proposes
(FaceDetector.confirm) and on every candidate of MTCNN's own search, so each reference photo,
burst frame and clip detection pays them. The first stage (P-Net, swept over the image
pyramid) stays in torch: it is convolution-bound and measured the same in both (28 vs 27 ms).

Each stage is exported from facenet-pytorch's own module once, when the detector loads
(~50 ms), with torch's TorchScript-based exporter; `onnx_stage` gives a torch module
(OnnxStage) with the same inputs and outputs, so facenet-pytorch's `detect_face` and our
`confirm` call it unchanged. Its
outputs equal torch's to float rounding (tests/test_ml_perception.py). On a GPU, or where this
torch can no longer export that way, the torch network stays (a warning says why).
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

STAGE_INPUT = "faces"


class OnnxStage(torch.nn.Module):
    """A stage's outputs, as torch tensors, from onnxruntime's session on its exported graph."""

    def __init__(self, graph: bytes, widths: list[int], name: str):
        super().__init__()
        self.stage_name = name
        self._session = onnxruntime.InferenceSession(
            graph, onnx_session_options(), providers=["CPUExecutionProvider"])
        self._widths = widths    # each output's columns, for an empty batch

    def forward(self, batch: torch.Tensor) -> tuple[torch.Tensor, ...]:
        if len(batch) == 0:
            return tuple(torch.zeros((0, width)) for width in self._widths)
        found = self._session.run(
            None, {STAGE_INPUT: np.ascontiguousarray(batch.detach().cpu().numpy(),
                                                     dtype=np.float32)})
        return tuple(torch.from_numpy(values) for values in found)


def onnx_stage(network: torch.nn.Module, side: int) -> torch.nn.Module:
    """`network` (R-Net: side 24, O-Net: 48) as an OnnxStage, or the network itself when it
    cannot be exported here."""
    name = type(network).__name__
    example = torch.zeros((2, 3, side, side))
    with torch.inference_mode():
        expected = network(example)
    outputs = [f"out{i}" for i in range(len(expected))]
    try:
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")      # the exporter's deprecation notices
            path = Path(folder) / "stage.onnx"
            torch.onnx.export(network, (example,), path, input_names=[STAGE_INPUT],
                              output_names=outputs,
                              dynamic_axes={value: {0: "n"} for value in [STAGE_INPUT, *outputs]},
                              dynamo=False, opset_version=17)
            graph = path.read_bytes()
    except Exception as error:   # noqa: BLE001 - any exporter failure: keep torch's network
        log.warning("MTCNN %s stays in torch: onnx export failed (%s)", name, error)
        return network
    return OnnxStage(graph, [int(values.shape[1]) for values in expected], name)
