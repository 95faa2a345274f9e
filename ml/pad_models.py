"""The model router: which PAD model class reads a file the user points PAD_MODEL_PATH at.

Kept apart from the model classes (as insightface keeps `get_model` apart from its models), so
that a model module never imports another to find out about formats, and callers need only
the `FaceScorer` protocol (ml/pad_score.py) of what they get back.
"""

from pathlib import Path

from .pad import PadModel
from .pad_finetuned import FinetunedPadModel
from .pad_score import FaceScorer
from .silent_face import SilentFaceEnsemble, SilentFaceModel


def pad_model_load(path: str | Path) -> FaceScorer:
    """Any PAD model this project can run: its own checkpoint format, a Silent-Face-Anti-Spoofing
    `.pth` (ml/silent_face.py), or a folder of those (averaged). Each has `score(rgb, box)`."""
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
