"""Decoding and checking uploaded images as images, shared by every API surface.

Checks the format, the pixel size (before decoding, so a decompression bomb is refused from its
header) and that the whole file decodes. Face checks are not done here: they run on workers.
"""

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "BMP"})


class ImageRejected(Exception):
    """Base of the reasons an upload is not accepted as an image."""


class ImageUnsupported(ImageRejected):
    """Not an image, a format we do not take, or corrupt / truncated data."""


class ImageTooLarge(ImageRejected):
    """A side longer than the limit (or a header declaring a decompression bomb)."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    format: str
    width: int
    height: int
    sha256: str

    def summary(self) -> dict:
        return {"format": self.format, "width": self.width, "height": self.height,
                "bytes": len(self.data), "sha256": self.sha256}


def image_check(data: bytes, *, max_side: int) -> CheckedImage:
    if not data:
        raise ImageUnsupported("empty file")
    with warnings.catch_warnings():
        # Pillow warns (rather than raises) between 1x and 2x its pixel limit; treat both as
        # too large. Our own side limit is far below either.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooLarge(str(exc)) from exc
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError) as exc:
            raise ImageUnsupported(str(exc)) from exc
        with image:
            if image.format not in ALLOWED_FORMATS:
                raise ImageUnsupported(f"format {image.format} is not accepted")
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageUnsupported("image has no pixels")
            if max(width, height) > max_side:
                raise ImageTooLarge(f"{width}x{height} exceeds {max_side} px a side")
            if image.format == "JPEG":
                # Decoding at 1/8 scale still reads every entropy-coded byte (a truncated or
                # corrupt file still fails) at about half the cost of a full decode.
                image.draft(image.mode, (max(1, width // 8), max(1, height // 8)))
            try:
                image.load()
            except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
                raise ImageTooLarge(str(exc)) from exc
            except (OSError, SyntaxError, ValueError, EOFError) as exc:
                raise ImageUnsupported(f"image data does not decode: {exc}") from exc
            image_format = image.format
    return CheckedImage(data=data, format=image_format, width=width, height=height,
                        sha256=hashlib.sha256(data).hexdigest())
