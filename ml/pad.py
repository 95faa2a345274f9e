"""Passive presentation-attack detection on one still: a small MiniFASNet-class network.

Own code, in the spirit of Silent-Face's MiniFASNet (depthwise-separable convolutions, a
global depthwise convolution instead of pooling, 80 x 80 input, a crop 2.7x the face box so
that paper edges, bezels and backgrounds are in view). Output: one probability per class of
PAD_CLASSES; the liveness score is P(live).

Checkpoints are dicts saved with torch.save: {"format": CHECKPOINT_FORMAT, "classes",
"input_size", "crop_scale", "state_dict", "recipe"}; `PadModel.load` refuses anything else
with a clear error. The baseline the project trains (docs/LIVENESS.md) was trained on
simulator data only.
"""

from pathlib import Path

import numpy as np

from .pad_score import PadScore, pad_scores

PAD_CLASSES = ("live", "print", "replay", "mask", "blend")
INPUT_SIZE = 80
CROP_SCALE = 2.7
CHECKPOINT_FORMAT = "liveness-pad/1"


def pad_crop(rgb: np.ndarray, box, *, size: int = INPUT_SIZE,
             scale: float = CROP_SCALE) -> np.ndarray:
    """A square crop `scale` times the face box's larger side, centred on it, resized."""
    import cv2

    x1, y1, x2, y2 = box
    side = max(x2 - x1, y2 - y1) * scale
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    matrix = np.array([[size / side, 0, size / 2 - cx * size / side],
                       [0, size / side, size / 2 - cy * size / side]], np.float32)
    return cv2.warpAffine(rgb, matrix, (size, size), flags=cv2.INTER_AREA,
                          borderMode=cv2.BORDER_REPLICATE)


def build_network(classes: int = len(PAD_CLASSES)):
    import torch
    from torch import nn

    def conv_bn(cin, cout, kernel, stride, groups=1, act=True):
        layers = [nn.Conv2d(cin, cout, kernel, stride, kernel // 2, groups=groups, bias=False),
                  nn.BatchNorm2d(cout)]
        if act:
            layers.append(nn.PReLU(cout))
        return layers

    def separable(cin, cout, stride):
        return nn.Sequential(*conv_bn(cin, cin, 3, stride, groups=cin),
                             *conv_bn(cin, cout, 1, 1))

    class MiniFASNetLite(nn.Module):
        def __init__(self):
            super().__init__()
            self.features = nn.Sequential(
                *conv_bn(3, 32, 3, 2),          # 40
                separable(32, 64, 1),
                separable(64, 64, 2),           # 20
                separable(64, 128, 1),
                separable(128, 128, 2),         # 10
                separable(128, 128, 1),
                separable(128, 128, 2),         # 5
                # global depthwise: a 5x5 kernel over the 5x5 map, no padding -> 1x1
                nn.Conv2d(128, 128, 5, 1, 0, groups=128, bias=False), nn.BatchNorm2d(128),
            )
            self.head = nn.Sequential(nn.Flatten(), nn.Dropout(0.2), nn.Linear(128, classes))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.head(self.features(x))

    return MiniFASNetLite()


def to_tensor(crops: list[np.ndarray]):
    import torch

    batch = np.stack(crops).astype(np.float32) / 255.0
    return torch.from_numpy((batch - 0.5) / 0.5).permute(0, 3, 1, 2).contiguous()


class PadModel:
    def __init__(self, network, classes: tuple[str, ...], crop_scale: float, input_size: int):
        self.network, self.classes = network.eval(), classes
        self.crop_scale, self.input_size = crop_scale, input_size

    @classmethod
    def load(cls, path: str | Path) -> "PadModel":
        import torch

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"PAD checkpoint not found: {path}")
        try:
            # weights_only: a checkpoint is data; a pickle that would run code is refused
            checkpoint = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint: {exc}") from exc
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(f"{path} is not a {CHECKPOINT_FORMAT} checkpoint")
        network = build_network(len(checkpoint["classes"]))
        network.load_state_dict(checkpoint["state_dict"])
        return cls(network, tuple(checkpoint["classes"]), checkpoint["crop_scale"],
                   checkpoint["input_size"])

    def score_crops(self, crops: list[np.ndarray]) -> list[PadScore]:
        import torch

        with torch.inference_mode():
            probabilities = torch.softmax(self.network(to_tensor(crops)), dim=1).numpy()
        return pad_scores(self.classes, probabilities)

    def score(self, rgb: np.ndarray, box) -> PadScore:
        crop = pad_crop(rgb, box, size=self.input_size, scale=self.crop_scale)
        return self.score_crops([crop])[0]


def checkpoint_save(network, path: str | Path, *, recipe: dict) -> None:
    import torch

    torch.save({"format": CHECKPOINT_FORMAT, "classes": list(PAD_CLASSES),
                "input_size": INPUT_SIZE, "crop_scale": CROP_SCALE,
                "state_dict": network.state_dict(), "recipe": recipe}, path)
