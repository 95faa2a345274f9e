"""Our own passive member: a MiniFASNet of the Silent-Face format fine-tuned on simulator data.

It lives beside the Silent-Face loader it borrows the network and crop from (ml/silent_face.py),
not in ml/pad.py (the project's first, simulator-only model), so that imports point one way:
this module -> silent_face -> pad_score.
"""

from pathlib import Path

import numpy as np

from .pad_score import PadScore, pad_scores
from .silent_face import CropSpec, authors_patch
from .silent_face import build_network as build_minifas

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
        return np.ascontiguousarray(authors_patch(rgb, box, self.crop_spec)[:, :, ::-1])

    def score_crops(self, crops_bgr: list[np.ndarray]) -> list[PadScore]:
        import torch

        batch = torch.from_numpy(np.stack(crops_bgr).astype(np.float32)).permute(0, 3, 1, 2)
        with torch.inference_mode():
            probabilities = torch.softmax(self.network(batch), dim=1).numpy()
        return pad_scores(self.classes, probabilities)

    def score(self, rgb: np.ndarray, box) -> PadScore:
        return self.score_crops([self.crop(rgb, box)])[0]
