"""Synthetic variants of real face photos, for attribute rules no offline photo shows."""

import cv2
import numpy as np

from ml.detection import Face


def _eye_geometry(face: Face) -> tuple[list[tuple[int, int]], int]:
    eyes = [(int(x), int(y)) for x, y in face.landmarks[:2]]
    return eyes, max(3, int(face.inter_ocular * 0.32))


def with_sunglasses(rgb: np.ndarray, face: Face) -> np.ndarray:
    out = rgb.copy()
    eyes, radius = _eye_geometry(face)
    for x, y in eyes:
        cv2.ellipse(out, (x, y), (int(radius * 1.3), radius), 0, 0, 360, (18, 18, 22), -1)
    cv2.line(out, eyes[0], eyes[1], (18, 18, 22), max(2, radius // 4))
    return out


def with_glasses(rgb: np.ndarray, face: Face) -> np.ndarray:
    out = rgb.copy()
    eyes, radius = _eye_geometry(face)
    thickness = max(2, int(face.inter_ocular * 0.05))
    for x, y in eyes:
        cv2.ellipse(out, (x, y), (int(radius * 1.3), radius), 0, 0, 360, (25, 20, 20), thickness)
    (lx, ly), (rx, ry) = eyes
    cv2.line(out, (lx + int(radius * 1.3), ly), (rx - int(radius * 1.3), ry), (25, 20, 20),
             thickness)
    return out


def cartoonised(rgb: np.ndarray, colours: int = 6) -> np.ndarray:
    """Flat colour regions with dark outlines, as in drawn cartoons."""
    smooth = rgb
    for _ in range(4):
        smooth = cv2.bilateralFilter(smooth, 9, 75, 75)
    data = smooth.reshape(-1, 3).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 20, 1.0)
    _, labels, centres = cv2.kmeans(data, colours, None, criteria, 2, cv2.KMEANS_PP_CENTERS)
    flat = centres.astype(np.uint8)[labels.flatten()].reshape(rgb.shape)
    edges = cv2.adaptiveThreshold(cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7), 255,
                                  cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 2)
    return cv2.bitwise_and(flat, flat, mask=edges)
