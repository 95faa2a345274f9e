"""Images made by the tests: valid ones of each format, and every kind of bad one."""

import io
import struct
import zlib

import numpy as np
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
    photo = _face_photo(name, width)
    buffer = io.BytesIO()
    photo.save(buffer, format=fmt, **({"quality": 92} if fmt == "JPEG" else {}))
    return buffer.getvalue()


def _face_photo(name: str, width: int) -> Image.Image:
    photo = Image.open(PHOTOS / name).convert("RGB")
    return photo.resize((width, round(photo.height * width / photo.width)),
                        Image.Resampling.LANCZOS)


def face_jpeg_and_mpo(name: str = "obama.jpg", width: int = 400,
                      sideways: bool = False) -> tuple[bytes, bytes]:
    """The same face photo as a JPEG and as an MPO (what many phones write: a JPEG with more
    pictures after it; here a plain grey second picture with no face). The MPO's first picture
    is encoded exactly as the JPEG, so both decode to the same pixels. sideways: stored a
    quarter turn round with EXIF orientation 6 to put it upright, as a phone held upright
    stores it."""
    photo = _face_photo(name, width)
    options: dict = {"quality": 92}
    if sideways:
        photo = photo.transpose(Image.Transpose.ROTATE_90)
        exif = Image.Exif()
        exif[0x0112] = 6
        options["exif"] = exif   # never an empty Exif: Pillow 13 then writes a broken MPO index
    jpeg, mpo = io.BytesIO(), io.BytesIO()
    photo.save(jpeg, format="JPEG", **options)
    photo.save(mpo, format="MPO", save_all=True, **options,
               append_images=[Image.new("RGB", (width // 2, width // 2), (128, 128, 128))])
    assert Image.open(io.BytesIO(mpo.getvalue())).format == "MPO"
    return jpeg.getvalue(), mpo.getvalue()


def scan_overwritten_jpeg(fill: str) -> bytes:
    """A face photo as JPEG with 2 KB in the middle of its scan (the entropy-coded picture data)
    overwritten, the two ways Pillow's decoder alone let through (it drops libjpeg's "Corrupt
    JPEG data" warnings):
    - "random": seeded random bytes over a JPEG without restart markers (seed 1: bytes that
      hold markers libjpeg passes over, where most random bytes break the decode outright);
    - "zeros": zero bytes over a JPEG with a restart marker every 4 MCUs, as many cameras
      write them (the originals under fixtures/photos have them)."""
    photo = _face_photo("obama.jpg", 640)
    buffer = io.BytesIO()
    if fill == "random":
        photo.save(buffer, format="JPEG", quality=92)
        patch = np.random.default_rng(1).bytes(2048)
    elif fill == "zeros":
        photo.save(buffer, format="JPEG", quality=92, restart_marker_blocks=4)
        patch = bytes(2048)
    else:
        raise ValueError(fill)
    data = bytearray(buffer.getvalue())
    sos = data.find(b"\xff\xda")
    scan_start = sos + 2 + int.from_bytes(data[sos + 2:sos + 4], "big")
    middle = (scan_start + len(data)) // 2
    data[middle:middle + len(patch)] = patch
    return bytes(data)
