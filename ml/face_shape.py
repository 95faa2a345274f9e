"""Face shape (seed 002: square, triangle, oval, heart, round) from the jaw contour.

A geometric rule on FaceMesh landmarks, all widths over the cheekbone width W (points 234,
454): length L (10 forehead top to 152 chin), jaw J (172, 397), forehead F (54, 284), chin C
(176, 400). In order:
  triangle  J >= 1.02 F                  (the jaw wider than the forehead)
  heart     F - J >= 0.10 and C <= 0.31  (wide forehead, narrow pointed chin)
  oval      L >= 1.30, or 1.20 <= L < 1.30 with J < 0.83
  square    J >= 0.82 (short face, broad jaw)
  round     otherwise (short face, soft jaw)
The cut-offs sit inside the spread measured on the offline photos (L 1.10-1.33, J 0.76-0.84,
F 0.83-0.90, C 0.30-0.36); no labelled photos exist to measure accuracy (docs/MODELS.md).
The probability grows with the distance from the nearest cut-off.
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ShapeRatios:
    length: float
    jaw: float
    forehead: float
    chin: float


def shape_ratios(points: np.ndarray) -> ShapeRatios:
    def distance(a: int, b: int) -> float:
        return float(np.linalg.norm(points[a, :2] - points[b, :2]))

    width = max(distance(234, 454), 1e-6)
    return ShapeRatios(length=distance(10, 152) / width, jaw=distance(172, 397) / width,
                       forehead=distance(54, 284) / width, chin=distance(176, 400) / width)


def _confidence(margin: float, scale: float) -> float:
    return round(float(min(1.0, 0.5 + abs(margin) / scale)), 3)


def face_shape_of(points: np.ndarray) -> tuple[str, float]:
    r = shape_ratios(points)
    if r.jaw >= 1.02 * r.forehead:
        return "triangle", _confidence(r.jaw - 1.02 * r.forehead, 0.1)
    if r.forehead - r.jaw >= 0.10 and r.chin <= 0.31:
        return "heart", _confidence(min(r.forehead - r.jaw - 0.10, 0.31 - r.chin), 0.05)
    if r.length >= 1.30:
        return "oval", _confidence(r.length - 1.30, 0.2)
    if r.length >= 1.20 and r.jaw < 0.83:
        return "oval", _confidence(min(r.length - 1.20, 0.83 - r.jaw), 0.1)
    if r.jaw >= 0.82:
        return "square", _confidence(min(r.jaw - 0.82, 1.20 - r.length), 0.1)
    return "round", _confidence(min(0.82 - r.jaw, 1.20 - r.length), 0.1)
