"""Benign capture variation: what real cameras and uploads do to a genuine face picture.

A passive decision that accepts real people must accept them after these, so the calibration
and the evaluation present every bona fide photo under several of them (docs/LIVENESS.md).
None of them makes an attack: no recapture, no second medium, the same live scene.

Kinds (each `vary(kind, rgb, box, rng)` returns a new RGB picture; the face is detected again
by whoever scores it, as in production):
- jpeg: re-encoded at quality 40-95;
- noise: sensor noise, sigma 2-8 grey levels;
- white_balance: per-channel gains 0.85-1.15 (indoor/outdoor light);
- exposure: brightness x0.6-1.35 with gamma 0.8-1.25;
- downscale: the whole picture shrunk so the face is 80-160 px wide (small selfie, far away);
- upscale: the whole picture enlarged to a 1080-1920 px frame (a 1080p capture);
- motion_blur: a 3-9 px linear blur at a random angle;
- sharpen: an unsharp mask (phones sharpen);
- tight_crop: the picture cut to the face box grown 1.0-1.3x (a client that sends only the face);
- phone: a chain of white balance, noise, sharpen and jpeg (a typical phone upload).
"""

import numpy as np

KINDS = ("jpeg", "noise", "white_balance", "exposure", "downscale", "upscale", "motion_blur",
         "sharpen", "tight_crop", "phone")

# The qualities a session's frames (the SDK sends 85) and most API callers' pictures arrive
# at. Every odd render of ml/fit_fusion.py and ml/finetune_pad.py --frame-jpeg reaches the
# members as JPEG at one of them: a member whose margin collapses under JPEG (DTN: about +7
# to about 0 on a live render of biden.jpg at quality 85) must not be trusted on the strength
# of uncompressed renders alone.
SESSION_JPEG_QUALITIES = (75, 85, 95)


def jpeg_roundtrip(rgb: np.ndarray, quality: int) -> np.ndarray:
    import cv2

    ok, data = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    return np.ascontiguousarray(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1])


def _clip(image: np.ndarray) -> np.ndarray:
    return np.clip(image, 0, 255).astype(np.uint8)


def tight_crop(rgb: np.ndarray, box, grow: float) -> np.ndarray:
    """The picture cut to the face box grown `grow` times about its centre (kept inside)."""
    x1, y1, x2, y2 = box
    cx, cy = (x1 + x2) / 2, (y1 + y2) / 2
    half_w, half_h = (x2 - x1) * grow / 2, (y2 - y1) * grow / 2
    height, width = rgb.shape[:2]
    left, top = max(0, int(cx - half_w)), max(0, int(cy - half_h))
    right, bottom = min(width, int(cx + half_w)), min(height, int(cy + half_h))
    return np.ascontiguousarray(rgb[top:bottom, left:right])


def vary(kind: str, rgb: np.ndarray, box, rng: np.random.Generator) -> np.ndarray:
    import cv2

    if kind == "jpeg":
        return jpeg_roundtrip(rgb, rng.integers(40, 96))
    if kind == "noise":
        return _clip(rgb + rng.normal(0, rng.uniform(2, 8), rgb.shape))
    if kind == "white_balance":
        return _clip(rgb * rng.uniform(0.85, 1.15, 3))
    if kind == "exposure":
        scaled = np.clip(rgb / 255.0 * rng.uniform(0.6, 1.35), 0, 1)
        return _clip(255.0 * scaled ** rng.uniform(0.8, 1.25))
    if kind == "downscale":
        factor = min(1.0, rng.uniform(80, 160) / max(box[2] - box[0], 1.0))
        size = (max(1, round(rgb.shape[1] * factor)), max(1, round(rgb.shape[0] * factor)))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    if kind == "upscale":
        factor = max(1.0, rng.uniform(1080, 1920) / max(rgb.shape[:2]))
        size = (round(rgb.shape[1] * factor), round(rgb.shape[0] * factor))
        return cv2.resize(rgb, size, interpolation=cv2.INTER_CUBIC)
    if kind == "motion_blur":
        length = int(rng.integers(3, 10))
        kernel: np.ndarray = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1.0 / length
        rotation = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5),
                                           rng.uniform(0, 180), 1.0)
        kernel = cv2.warpAffine(kernel, rotation, (length, length))
        return cv2.filter2D(rgb, -1, kernel / max(kernel.sum(), 1e-6))
    if kind == "sharpen":
        blurred = cv2.GaussianBlur(rgb, (0, 0), rng.uniform(1.0, 2.0))
        amount = rng.uniform(0.3, 1.0)
        return cv2.addWeighted(rgb, 1 + amount, blurred, -amount, 0)
    if kind == "tight_crop":
        return tight_crop(rgb, box, rng.uniform(1.0, 1.3))
    if kind == "phone":
        image = vary("white_balance", rgb, box, rng)
        image = vary("noise", image, box, rng)
        image = vary("sharpen", image, box, rng)
        return jpeg_roundtrip(image, rng.integers(70, 93))
    raise ValueError(f"unknown capture variation {kind!r}; one of {KINDS}")
