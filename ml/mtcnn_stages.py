"""MTCNN's second and third stages (R-Net, O-Net) run by onnxruntime in place of torch.

Both networks are small (24 and 48 px inputs), so torch's per-layer dispatch, not arithmetic,
is most of their time on the CPU: one-threaded, a batch of two measured 1.5 ms (R-Net) and
5.6 ms (O-Net) in torch against 0.4 and 2.2 ms in onnxruntime on the same weights
(docs/BENCHMARKS.md, get_biz_token). They run on every face YuNet proposes
(FaceDetector.confirm) and on every candidate of MTCNN's own search, so each reference photo,
burst frame and clip detection pays them. The first stage (P-Net, swept over the image
pyramid) stays in torch: it is convolution-bound and measured the same in both (28 vs 27 ms).

Each stage is exported from facenet-pytorch's own module once, when the detector loads
(~50 ms, ml/onnx_modules.py); `onnx_stage` gives a torch module (OnnxModule) with the same
inputs and outputs, so facenet-pytorch's `detect_face` and our `confirm` call it unchanged. Its
outputs equal torch's to float rounding (tests/test_ml_perception.py). On a GPU, or where this
torch can no longer export that way, the torch network stays (a warning says why).
"""

import torch

from .onnx_modules import onnx_module


def onnx_stage(network: torch.nn.Module, side: int) -> torch.nn.Module:
    """`network` (R-Net: side 24, O-Net: 48) as an OnnxModule (ml/onnx_modules.py), or the
    network itself when it cannot be exported here."""
    return onnx_module(network, (3, side, side))
