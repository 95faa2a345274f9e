"""Reading images into RGB arrays (uint8, H x W x 3), honouring EXIF orientation.

An MPO (a phone's JPEG with more pictures after it) is read as its first picture: the frame
Pillow opens it at, and the one apps/core/images.py checks."""

import io
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps


def load_rgb(source: bytes | str | Path) -> np.ndarray:
    stream = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    with stream, Image.open(stream) as opened:
        image = ImageOps.exif_transpose(opened)
        return np.asarray(image.convert("RGB"))


def rotate_ccw(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """Rotates counter-clockwise by a multiple of 90 degrees."""
    return np.ascontiguousarray(np.rot90(rgb, k=(degrees // 90) % 4))
