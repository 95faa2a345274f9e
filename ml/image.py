"""Reading images into RGB arrays (uint8, H x W x 3), honouring EXIF orientation.

An MPO (a phone's JPEG with more pictures after it) is read as its first picture: the frame
Pillow opens it at, and the one apps/core/images.py checks."""

import io
from collections.abc import Sequence
from pathlib import Path
from typing import overload

import numpy as np
from PIL import Image, ImageOps

from .device import beside

EXIF_ORIENTATION = 0x0112


def load_rgb(source: bytes | str | Path) -> np.ndarray:
    """The picture's pixels, upright. A plain JPEG (RGB or grey, upright as stored: no EXIF
    orientation but 1) is decoded by OpenCV, ~30 % faster than Pillow (a capture's 50 frames
    are decoded on every clip verify: docs/BENCHMARKS.md) and the same pixels
    (tests/test_ml_perception.py); every other picture is decoded and turned by Pillow."""
    data = source if isinstance(source, bytes) else Path(source).read_bytes()
    with Image.open(io.BytesIO(data)) as opened:     # reads the header only
        # OpenCV decodes a cut-off JPEG, greying what is missing, where Pillow refuses it: only
        # a JPEG that ends with its end-of-image marker goes to OpenCV
        if data.endswith(b"\xff\xd9") and _upright_plain_jpeg(opened):
            decoded = _jpeg_decoded_by_opencv(data)
            if decoded is not None and decoded.shape[:2] == (opened.height, opened.width):
                return decoded
        image = ImageOps.exif_transpose(opened)
        return np.asarray(image.convert("RGB"))


class DecodedFrames(Sequence[np.ndarray]):
    """A capture's pictures as load_rgb reads them, decoded on the background threads
    (ml/device.py `beside`; in the caller when there is one thread) in order from the first. A
    frame waits only for its own decode, so a verify starts on the first frames while the later
    ones are decoded (one decode uses one core; OpenCV and Pillow let go of the GIL while they
    decode). A picture that cannot be read raises, as load_rgb does, where it is first used
    (the web has decoded every frame once before it queues a verify: apps/faceid)."""

    def __init__(self, sources: Sequence[bytes]):
        self._decoding = [beside(load_rgb, source) for source in sources]

    def __len__(self) -> int:
        return len(self._decoding)

    @overload
    def __getitem__(self, index: int) -> np.ndarray: ...

    @overload
    def __getitem__(self, index: slice) -> list[np.ndarray]: ...

    def __getitem__(self, index: int | slice) -> np.ndarray | list[np.ndarray]:
        if isinstance(index, slice):
            return [decoding.result() for decoding in self._decoding[index]]
        return self._decoding[index].result()


def _upright_plain_jpeg(opened: Image.Image) -> bool:
    """A JPEG (or an MPO's first picture) of YCbCr or grey pixels needing no turn."""
    if opened.format not in ("JPEG", "MPO") or opened.mode not in ("RGB", "L"):
        return False
    return opened.getexif().get(EXIF_ORIENTATION, 1) == 1


def _jpeg_decoded_by_opencv(data: bytes) -> np.ndarray | None:
    import cv2

    # the orientation was checked above; OpenCV must not turn the picture a second time
    decoded = cv2.imdecode(np.frombuffer(data, np.uint8),
                           cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    return None if decoded is None else cv2.cvtColor(decoded, cv2.COLOR_BGR2RGB)


def rotate_ccw(rgb: np.ndarray, degrees: int) -> np.ndarray:
    """Rotates counter-clockwise by a multiple of 90 degrees."""
    return np.ascontiguousarray(np.rot90(rgb, k=(degrees // 90) % 4))
