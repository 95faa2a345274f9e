"""Images made by the tests: valid ones of each format, and every kind of bad one."""

import io
import struct
import zlib

from PIL import Image


def image_bytes(fmt: str = "JPEG", size: tuple[int, int] = (320, 240),
                color: tuple[int, int, int] = (180, 140, 120)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def truncated_jpeg() -> bytes:
    data = image_bytes("JPEG", (640, 480))
    return data[: len(data) // 2]


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return (struct.pack(">I", len(payload)) + kind + payload
            + struct.pack(">I", zlib.crc32(kind + payload) & 0xFFFFFFFF))


def png_with_declared_size(width: int, height: int) -> bytes:
    """A valid PNG header declaring width x height over a few bytes of data: a decompression
    bomb is refused from this header alone, before anything is inflated."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header)
            + _png_chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + _png_chunk(b"IEND", b""))


PHOTOS = __import__("pathlib").Path(__file__).resolve().parent.parent / "fixtures" / "photos"


def face_image(name: str = "obama.jpg", fmt: str = "JPEG", width: int = 400) -> bytes:
    """A real face photo (fixtures/photos, fetched by `make setup`), resized and re-encoded."""
    photo = Image.open(PHOTOS / name).convert("RGB")
    photo = photo.resize((width, round(photo.height * width / photo.width)), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    photo.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()
