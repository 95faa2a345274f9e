"""Cosine similarity mapped to the vendor's 0..100 confidence, and the calibrated thresholds.

confidence = 100 * clip(cosine, 0, 1). The thresholds for false-accept rates 1e-3..1e-6 are
confidences too, read from calibration.json (written by `python -m ml.calibrate`); see
docs/MODELS.md for the data and the method.
"""

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

CALIBRATION_FILE = Path(__file__).with_name("calibration.json")


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-12))


def confidence_of(cos: float) -> float:
    return round(100.0 * float(np.clip(cos, 0.0, 1.0)), 3)


@lru_cache(maxsize=4)
def thresholds_for(model: str) -> dict[str, float]:
    calibration = json.loads(CALIBRATION_FILE.read_text())
    return {key: float(value) for key, value in calibration[model]["thresholds"].items()}


@dataclass(frozen=True)
class Comparison:
    cosine: float
    confidence: float
    thresholds: dict[str, float]

    def as_dict(self) -> dict:
        return {"confidence": self.confidence, "thresholds": self.thresholds}


def comparison_of(a: np.ndarray, b: np.ndarray, *, model: str) -> Comparison:
    cos = cosine(a, b)
    return Comparison(cosine=cos, confidence=confidence_of(cos), thresholds=thresholds_for(model))
