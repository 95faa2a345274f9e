"""Face-replace detection: is the face the same person throughout a clip?

Every `step`-th frame's tracked face (ml/tracking.py: the clip's face followed by FaceMesh, no
detector run per frame) is embedded with the pipeline's embedder (SFace) and compared with the
first embedded frame's; the clip is consistent when every comparison's confidence reaches the
embedder's 1e-3 threshold (the same scale verify uses). A frame the track lost is skipped.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from .detection import Face
from .similarity import comparison_of, thresholds_for

CONSISTENCY_STEP = 5        # every fifth frame's face is embedded


@dataclass(frozen=True)
class Consistency:
    same_person: bool
    lowest_confidence: float
    first_other_frame: int | None  # index of the first frame judged to be someone else
    threshold: float


def face_consistency(frames: Sequence[np.ndarray], faces: dict[int, Face], *, embedder,
                     step: int = CONSISTENCY_STEP, far: str = "1e-3",
                     embedded: Mapping[int, np.ndarray] | None = None) -> Consistency:
    """`embedded` holds embeddings a caller already made of some of these frames' faces
    (embedder.embed of frames[index] and faces[index]: ml/session.py makes them while the clip
    is tracked); the others are made here."""
    threshold = thresholds_for(embedder.name)[far]
    reference, lowest, first_other = None, 100.0, None
    for index in range(0, len(frames), step):
        face = faces.get(index)
        if face is None:
            continue
        if embedded is not None and index in embedded:
            vector = embedded[index]
        else:
            vector = embedder.embed(frames[index], face)
        if reference is None:
            reference = vector
            continue
        confidence = comparison_of(reference, vector, model=embedder.name).confidence
        lowest = min(lowest, confidence)
        if confidence < threshold and first_other is None:
            first_other = index
    return Consistency(first_other is None, round(lowest, 3), first_other, threshold)
