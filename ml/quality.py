"""Face image quality: blur, illumination, completeness, size, pose, and a 0..100 score.

How each is computed (constants measured on the offline photos, see docs/MODELS.md):
- sharpness: variance of the Laplacian of the 112 x 112 aligned grey face crop; blur maps it
  to 0..100 (higher = blurrier): blur = 100 * S0 / (S0 + sharpness). A small face upscaled to
  112 px is blurry by this measure too, as it should be for comparison.
- illumination: mean luma (0..255) of the face box inside the frame.
- completeness: share (0..1) of the face box, grown by 10 % on each side, inside the frame.
- frontal: 1 for a frontal face, falling to 0 as the nose moves half an eye distance
  sideways from the eyes' midpoint (a yaw proxy from the 5 landmarks).
- score: 100 x the product of factors for blur, light, completeness, size and pose.
"""

from dataclasses import asdict, dataclass

import numpy as np

from .detection import Face, aligned_crop

SHARPNESS_S0 = 60.0
GROW = 0.10


@dataclass(frozen=True)
class Quality:
    blur: float
    sharpness: float
    illumination: float
    completeness: float
    inter_ocular_px: float
    frontal: float
    score: float

    def as_dict(self) -> dict:
        return {k: round(v, 3) for k, v in asdict(self).items()}


def _ramp(value: float, low: float, high: float) -> float:
    """0 at or below low, 1 at or above high, linear between."""
    if high == low:
        return 1.0 if value >= high else 0.0
    return float(np.clip((value - low) / (high - low), 0.0, 1.0))


def sharpness_of(crop_rgb: np.ndarray) -> float:
    import cv2

    grey = cv2.cvtColor(crop_rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_64F).var())


def illumination_of(rgb: np.ndarray, face: Face) -> float:
    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = face.box
    x1, y1 = max(0, int(x1)), max(0, int(y1))
    x2, y2 = min(width, int(np.ceil(x2))), min(height, int(np.ceil(y2)))
    if x2 <= x1 or y2 <= y1:
        return 0.0
    region = rgb[y1:y2, x1:x2].astype(np.float32)
    luma = 0.299 * region[..., 0] + 0.587 * region[..., 1] + 0.114 * region[..., 2]
    return float(luma.mean())


def completeness_of(rgb: np.ndarray, face: Face) -> float:
    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = face.box
    grow_x, grow_y = (x2 - x1) * GROW, (y2 - y1) * GROW
    x1, y1, x2, y2 = x1 - grow_x, y1 - grow_y, x2 + grow_x, y2 + grow_y
    total = (x2 - x1) * (y2 - y1)
    inside = max(0.0, min(x2, width) - max(x1, 0)) * max(0.0, min(y2, height) - max(y1, 0))
    return float(inside / total) if total > 0 else 0.0


def frontal_of(face: Face) -> float:
    (lx, _), (rx, _), (nx, _) = face.landmarks[0], face.landmarks[1], face.landmarks[2]
    eye_distance = max(face.inter_ocular, 1e-6)
    return float(np.clip(1.0 - abs(nx - (lx + rx) / 2) / (0.5 * eye_distance), 0.0, 1.0))


def face_quality(rgb: np.ndarray, face: Face) -> Quality:
    crop = aligned_crop(rgb, face, 112)
    sharpness = sharpness_of(crop)
    blur = 100.0 * SHARPNESS_S0 / (SHARPNESS_S0 + sharpness)
    illumination = illumination_of(rgb, face)
    completeness = completeness_of(rgb, face)
    frontal = frontal_of(face)
    factors = (
        _ramp(100.0 - blur, 10.0, 50.0),                       # blur 50+ starts to cost
        _ramp(illumination, 25.0, 70.0) * _ramp(255.0 - illumination, 20.0, 60.0),
        _ramp(completeness, 0.6, 0.95),
        _ramp(face.inter_ocular, 12.0, 40.0),
        _ramp(frontal, 0.0, 0.5),
    )
    score = 100.0 * float(np.prod(factors))
    return Quality(blur=blur, sharpness=sharpness, illumination=illumination,
                   completeness=completeness, inter_ocular_px=face.inter_ocular,
                   frontal=frontal, score=score)
