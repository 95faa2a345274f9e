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

from dataclasses import dataclass
from pathlib import Path

import numpy as np

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
    matrix = np.float32([[size / side, 0, size / 2 - cx * size / side],
                         [0, size / side, size / 2 - cy * size / side]])
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


@dataclass(frozen=True)
class PadScore:
    live: float
    probabilities: dict[str, float]


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
        live = self.classes.index("live")
        return [PadScore(float(p[live]), {c: float(f"{v:.6g}") for c, v in
                                          zip(self.classes, p, strict=True)})
                for p in probabilities]

    def score(self, rgb: np.ndarray, box) -> PadScore:
        crop = pad_crop(rgb, box, size=self.input_size, scale=self.crop_scale)
        return self.score_crops([crop])[0]


def checkpoint_save(network, path: str | Path, *, recipe: dict) -> None:
    import torch

    torch.save({"format": CHECKPOINT_FORMAT, "classes": list(PAD_CLASSES),
                "input_size": INPUT_SIZE, "crop_scale": CROP_SCALE,
                "state_dict": network.state_dict(), "recipe": recipe}, path)


def pad_model_load(path: str | Path):
    """Any PAD model this project can run: its own checkpoint format, a Silent-Face-Anti-Spoofing
    `.pth` (ml/silent_face.py), or a folder of those (averaged). Each has `score(rgb, box)`."""
    from .silent_face import SilentFaceEnsemble, SilentFaceModel

    path = Path(path)
    if path.is_dir():
        return SilentFaceEnsemble.load(path)
    if path.suffix == ".pth":
        return SilentFaceModel.load(path)
    try:
        return PadModel.load(path)
    except ValueError as own_format:
        try:
            return FinetunedPadModel.load(path)
        except ValueError:
            raise own_format from None


FINETUNED_FORMAT = "liveness-pad-minifas/1"


class FinetunedPadModel:
    """Our own member since issue 20: a MiniFASNet of the Silent-Face format, fine-tuned from the
    authors' real-trained weights on simulator data (ml/finetune_pad.py), with our classes. It
    sees what the authors' network sees: their crop rule on our box, BGR 0..255.

    Checkpoint: {"format": FINETUNED_FORMAT, "variant", "classes", "crop": {"scale", "height",
    "width"}, "state_dict", "recipe"}, read with weights_only."""

    def __init__(self, network, variant: str, classes: tuple[str, ...], crop):
        self.network, self.variant, self.classes, self.crop_spec = (network.eval(), variant,
                                                                    classes, crop)

    @classmethod
    def load(cls, path: str | Path) -> "FinetunedPadModel":
        import torch

        from .silent_face import CropSpec
        from .silent_face import build_network as build_minifas

        try:
            checkpoint = torch.load(Path(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            raise ValueError(f"{path} is not a {FINETUNED_FORMAT} checkpoint: {exc}") from exc
        if not isinstance(checkpoint, dict) or checkpoint.get("format") != FINETUNED_FORMAT:
            raise ValueError(f"{path} is not a {FINETUNED_FORMAT} checkpoint")
        crop = CropSpec(checkpoint["crop"]["height"], checkpoint["crop"]["width"],
                        checkpoint["crop"]["scale"])
        network = build_minifas(checkpoint["variant"], input_size=(crop.height, crop.width),
                                classes=len(checkpoint["classes"]))
        network.load_state_dict(checkpoint["state_dict"])
        return cls(network, checkpoint["variant"], tuple(checkpoint["classes"]), crop)

    def crop(self, rgb: np.ndarray, box) -> np.ndarray:
        """The authors' crop of the face, as BGR uint8 (what the network is fed)."""
        from .silent_face import authors_patch

        return np.ascontiguousarray(authors_patch(rgb, box, self.crop_spec)[:, :, ::-1])

    def score_crops(self, crops_bgr: list[np.ndarray]) -> list[PadScore]:
        import torch

        batch = torch.from_numpy(np.stack(crops_bgr).astype(np.float32)).permute(0, 3, 1, 2)
        with torch.inference_mode():
            probabilities = torch.softmax(self.network(batch), dim=1).numpy()
        live = self.classes.index("live")
        return [PadScore(float(p[live]), {c: float(f"{v:.6g}") for c, v in
                                          zip(self.classes, p, strict=True)})
                for p in probabilities]

    def score(self, rgb: np.ndarray, box) -> PadScore:
        return self.score_crops([self.crop(rgb, box)])[0]
