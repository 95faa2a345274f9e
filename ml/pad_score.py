"""What every passive (PAD) model answers for one face, and the protocol of "scores a face".

A leaf module: the model classes (ml/pad.py, ml/pad_finetuned.py, ml/silent_face.py), the
router (ml/pad_models.py) and the fusion (ml/pad_fusion.py) all import it and it imports none
of them.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np


@dataclass(frozen=True)
class PadScore:
    live: float                       # P(live)
    probabilities: dict[str, float]   # every class of the model, "live" among them


class FaceScorer(Protocol):
    def score(self, rgb: np.ndarray, box) -> PadScore:
        """Scores the face in `box` (x1, y1, x2, y2) of an RGB picture."""
        ...


def score_faces(model, faces: Sequence[tuple[np.ndarray, tuple]]) -> list:
    """Each (picture, box) scored by `model`: in one call where the model batches its network
    (`score_many`: ours, the fused decision), else one face at a time."""
    if hasattr(model, "score_many"):
        return model.score_many(faces)
    return [model.score(rgb, box) for rgb, box in faces]


def pad_scores(classes: Sequence[str], probabilities: np.ndarray) -> list[PadScore]:
    """One PadScore per row of softmax probabilities over `classes` (one of them "live")."""
    live = list(classes).index("live")
    return [PadScore(float(row[live]), {c: float(f"{v:.6g}") for c, v in
                                        zip(classes, row, strict=True)})
            for row in probabilities]
