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
    # cv2's stubs want an array for bestLabels; the binding takes None (no initial labels)
    _, labels, centres = cv2.kmeans(data, colours, None, criteria, 2,  # type: ignore[call-overload]
                                    cv2.KMEANS_PP_CENTERS)
    flat = centres.astype(np.uint8)[labels.flatten()].reshape(rgb.shape)
    edges = cv2.adaptiveThreshold(cv2.medianBlur(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), 7), 255,
                                  cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 2)
    return cv2.bitwise_and(flat, flat, mask=edges)


# A surgical mask's outline in the 112 x 112 template (eyes at y~51, nose tip ~72, mouth ~92):
# across the nose bridge, out to the cheeks, under the chin.
MASK_OUTLINE_112 = np.array([(56, 58), (76, 60), (104, 64), (106, 90), (92, 112), (74, 126),
                             (56, 130), (38, 126), (20, 112), (6, 90), (8, 64), (36, 60)],
                            dtype=np.float32)


def with_mask(rgb: np.ndarray, face: Face, texture: np.ndarray) -> np.ndarray:
    """A surgical-mask texture pasted over the lower face (template outline mapped back)."""
    from ml.detection import alignment_matrix

    inverse = cv2.invertAffineTransform(alignment_matrix(face))
    outline = cv2.transform(MASK_OUTLINE_112[None], inverse)[0].astype(np.int32)
    x, y, w, h = cv2.boundingRect(outline)
    out = rgb.copy()
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, rgb.shape[1]), min(y + h, rgb.shape[0])
    patch = cv2.resize(texture, (w, h))[y0 - y:y1 - y, x0 - x:x1 - x]
    mask = np.zeros(rgb.shape[:2], np.uint8)
    cv2.fillPoly(mask, [outline], (1,))
    region = mask[y0:y1, x0:x1].astype(bool)
    out[y0:y1, x0:x1][region] = patch[region]
    return out
