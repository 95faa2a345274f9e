"""Reading pictures out of requests: base64 text, limits of bytes and pixels."""

import base64
import binascii
import re

from apps.core.images import CheckedImage, ImageTooLarge, ImageUnsupported, image_check

from .failures import Failure, Kind

DATA_URI = re.compile(r"^data:image/[A-Za-z0-9.+-]+;base64,")
MiB = 1024 * 1024


def base64_picture(text, *, max_bytes: int) -> bytes:
    """Decodes base64 (standard or URL-safe, padding optional, whitespace and a `data:` prefix
    tolerated) and enforces max_bytes on the decoded size, before decoding when it can."""
    if not isinstance(text, str):
        raise Failure(Kind.BAD_REQUEST, "the picture must be a base64 string")
    text = "".join(DATA_URI.sub("", text.strip(), count=1).split())
    if not text:
        raise Failure(Kind.IMAGE_MISSING, "the picture is empty")
    if (len(text) * 3) // 4 > max_bytes + 2:
        raise Failure(Kind.IMAGE_TOO_LARGE, f"more than {max_bytes} bytes")
    text = text.replace("-", "+").replace("_", "/")
    text += "=" * (-len(text) % 4)
    try:
        data = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise Failure(Kind.IMAGE_FORMAT, "not valid base64") from None
    if len(data) > max_bytes:
        raise Failure(Kind.IMAGE_TOO_LARGE, f"{len(data)} bytes, more than {max_bytes}")
    return data


def picture_check(data: bytes, *, max_side: int, min_side: int = 1) -> CheckedImage:
    try:
        checked = image_check(data, max_side=max_side)
    except ImageTooLarge as exc:
        raise Failure(Kind.IMAGE_TOO_LARGE, str(exc)) from None
    except ImageUnsupported as exc:
        raise Failure(Kind.IMAGE_FORMAT, str(exc)) from None
    if min(checked.width, checked.height) < min_side:
        raise Failure(Kind.IMAGE_TOO_SMALL,
                      f"{checked.width}x{checked.height} is below {min_side} px a side")
    return checked
