"""The small pictures a verification keeps for a person's review, made on the worker while the
frames are decoded anyway: a strip of the capture's frames and a crop of each reference's face.

They are faces, so whoever stores them keeps them encrypted and shows them only to those
allowed (the web: apps/faceid/review.py). They are small on purpose: enough for a person to
see what the camera saw and whom it was compared with, not a copy of the capture or the photo.
"""

import base64
import io

import numpy as np

STRIP_FRAMES = 8          # frames of a capture in its strip, spread evenly from first to last
STRIP_HEIGHT = 120        # px, each frame's height in the strip
# px, a frame's width in the strip at most: a frame wider than 4:1 (no camera's, but a client
# sends what it likes, each side up to IMAGE_MAX_SIDE) is scaled to fit and padded above and
# below, so the strip stays small and within JPEG's 65,500 px
STRIP_TILE_MAX_WIDTH = 4 * STRIP_HEIGHT
FACE_CROP_SIDE = 240      # px, the longer side of a reference's face crop at most
FACE_CROP_MARGIN = 0.4    # of the face box's size, added on each side (hair, chin, ears)


def jpeg_b64(rgb: np.ndarray, *, quality: int = 90) -> str:
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buffer, "JPEG", quality=quality)
    return base64.b64encode(buffer.getvalue()).decode()


def strip_indices(count: int, *, frames: int = STRIP_FRAMES) -> list[int]:
    """Up to `frames` indices of a capture of `count` frames, the first and the last among
    them, spread evenly; every frame of a shorter capture."""
    if count <= 0:
        return []
    return sorted({int(i) for i in np.linspace(0, count - 1, min(frames, count)).round()})


def frame_strip(images: list[np.ndarray], times_ms: list[float]) -> dict | None:
    """The capture's strip: STRIP_FRAMES frames (strip_indices) scaled to STRIP_HEIGHT px high
    and laid side by side in one JPEG, with each frame's index, time and width in the strip:
    {"jpeg": base64, "frames": [[index, time_ms, width], ...]}. None for no frames."""
    import cv2

    indices = strip_indices(len(images))
    if not indices:
        return None
    tiles = []
    for index in indices:
        height, width = images[index].shape[:2]
        scale = min(STRIP_HEIGHT / max(height, 1), STRIP_TILE_MAX_WIDTH / max(width, 1))
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        tile = cv2.resize(images[index], size, interpolation=cv2.INTER_AREA)
        above = (STRIP_HEIGHT - tile.shape[0]) // 2
        tiles.append(cv2.copyMakeBorder(tile, above, STRIP_HEIGHT - tile.shape[0] - above, 0, 0,
                                        cv2.BORDER_CONSTANT, value=(0, 0, 0)))
    return {"jpeg": jpeg_b64(np.concatenate(tiles, axis=1), quality=80),
            "frames": [[index, float(times_ms[index]), tile.shape[1]]
                       for index, tile in zip(indices, tiles, strict=True)]}


def face_crop(rgb: np.ndarray, box) -> np.ndarray:
    """The face box grown by FACE_CROP_MARGIN on each side, inside the picture, scaled down
    so that its longer side is FACE_CROP_SIDE px at most."""
    import cv2

    height, width = rgb.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    grow_x, grow_y = FACE_CROP_MARGIN * (x2 - x1), FACE_CROP_MARGIN * (y2 - y1)
    left, top = max(0, int(x1 - grow_x)), max(0, int(y1 - grow_y))
    right, bottom = min(width, int(np.ceil(x2 + grow_x))), min(height, int(np.ceil(y2 + grow_y)))
    crop = rgb[top:max(bottom, top + 1), left:max(right, left + 1)]
    scale = FACE_CROP_SIDE / max(crop.shape[:2])
    if scale < 1:
        size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
        crop = cv2.resize(crop, size, interpolation=cv2.INTER_AREA)
    return crop


def face_crop_jpeg(rgb: np.ndarray, box) -> str:
    return jpeg_b64(face_crop(rgb, box), quality=85)
