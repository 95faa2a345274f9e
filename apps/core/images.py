"""Decoding and checking uploaded images as images, shared by every API surface.

Checks the format, the pixel size (before decoding, so a decompression bomb is refused from its
header), that a JPEG's entropy-coded data is well formed, and that the whole file decodes.
Face checks are not done here: they run on workers. Which pictures pass, and what corruption
cannot be seen, is written down in docs/API.md ("Which pictures are accepted").
"""

import hashlib
import io
import re
import warnings
from dataclasses import dataclass
from functools import cached_property
from math import ceil

from PIL import Image, UnidentifiedImageError

# MPO (Multi-Picture Object) is what many phones write: a JPEG with more pictures after its end
# (a depth map, a second lens). Its first picture is an ordinary JPEG, the one Pillow decodes
# by default (ml/image.py load_rgb reads it); the others are neither read nor checked.
ALLOWED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP"})
JPEG_FORMATS = frozenset({"JPEG", "MPO"})


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

    @cached_property
    def sha256(self) -> str:
        """Worked out when asked (the single-image APIs' summaries): a clip's frames are
        checked by the dozen and need none."""
        return hashlib.sha256(self.data).hexdigest()

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
        except UnidentifiedImageError as exc:   # its text names a BytesIO object, not the data
            raise ImageUnsupported("not a JPEG, PNG or BMP picture") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageUnsupported(str(exc)) from exc
        with image:
            if image.format not in ALLOWED_FORMATS:
                raise ImageUnsupported(f"format {image.format} is not accepted")
            width, height = image.size
            if width < 1 or height < 1:
                raise ImageUnsupported("image has no pixels")
            if max(width, height) > max_side:
                raise ImageTooLarge(f"{width}x{height} exceeds {max_side} px a side")
            if image.format in JPEG_FORMATS:
                problem = jpeg_data_problem(data)
                if problem:
                    raise ImageUnsupported(f"corrupt JPEG data: {problem}")
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
    return CheckedImage(data=data, format=image_format, width=width, height=height)


# ------------------------------------------------------------------ JPEG entropy-coded data
#
# Pillow's JPEG decoder drops libjpeg's warnings ("Corrupt JPEG data: ..."): data damaged
# inside a scan decodes to wrong pixels without an error. What the file's syntax lets us check
# without decoding (ITU-T T.81, B.1.1 and B.2) is checked here instead:
# - inside a scan, a 0xFF byte is followed by a stuffed 0x00 or by a restart marker RST0-7 and
#   by nothing else, except the marker that ends the scan (fill bytes 0xFF may precede a
#   marker, not a stuffed 0x00);
# - a scan ends at a marker that may follow one (EOI, another scan, tables, APPn or COM);
# - restart markers come only where a restart interval is defined, in order (RST0, RST1, ...
#   RST7, RST0, ...) and as many as the interval and the picture's size call for.
# Only the first picture is read, up to its EOI: what follows (an MPO's other pictures, the
# trailers some phones write) is not part of it. The segments between scans are only walked
# over: libjpeg and Pillow judge those. Everything is found by regular expressions or
# bytes.find, so the Python work grows with the number of segments and scans, which are capped
# (far above what encoders write: one scan for a phone's JPEG, about ten for a progressive one).

_SOF = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF})
_SOS, _EOI, _DRI, _SOI = 0xDA, 0xD9, 0xDD, 0xD8
_RST = range(0xD0, 0xD8)
# EOI, SOS, DHT, DAC, DQT, DNL, DRI, APP0-15, COM: what may come after a scan's data.
_AFTER_SCAN = frozenset({_EOI, _SOS, 0xC4, 0xCC, 0xDB, 0xDC, _DRI, 0xFE, *range(0xE0, 0xF0)})
_FILL = re.compile(rb"\xff+")
# Where a scan's data stops: a 0xFF before a marker code (neither a stuffed 0x00, a restart
# marker nor another fill byte), or fill bytes before a stuffed 0x00.
_SCAN_BREAK = re.compile(rb"\xff(?=[^\x00\xd0-\xd7\xff])|\xff\xff\x00")
_RESTART = re.compile(rb"\xff([\xd0-\xd7])")
_RESTART_CYCLE = bytes(_RST)
MAX_SEGMENTS = 10_000
MAX_SCANS = 500


@dataclass(frozen=True)
class _Frame:
    width: int
    height: int          # 0 when a DNL marker gives it after the first scan
    sampling: dict[int, tuple[int, int]]   # component id -> (horizontal, vertical) factors


def jpeg_data_problem(data: bytes) -> str | None:
    """What breaks the syntax of a JPEG's first picture, or None when nothing does."""
    if data[:2] != b"\xff\xd8":
        return "it does not start with SOI"
    frame: _Frame | None = None
    interval = scans = 0
    pos = 2
    for _ in range(MAX_SEGMENTS):
        marker_at = data.find(b"\xff", pos)   # bytes before a marker: passed over, as libjpeg does
        if marker_at < 0:
            return "it ends before its EOI marker"
        fill = _FILL.match(data, marker_at)
        assert fill is not None
        pos = fill.end()
        if pos >= len(data):
            return "it ends before its EOI marker"
        marker = data[pos]
        pos += 1
        if marker == _EOI:
            return None
        if marker == 0x00 or marker == _SOI:
            return f"marker 0xFF{marker:02X} between segments"
        if marker in _RST or marker == 0x01:   # parameterless; libjpeg passes over them
            continue
        length = int.from_bytes(data[pos:pos + 2], "big")
        if length < 2 or pos + length > len(data):
            return f"segment 0xFF{marker:02X} runs past the end of the file"
        segment = data[pos + 2:pos + length]
        pos += length
        if marker in _SOF:
            if frame is not None:
                return "a second frame header"
            if len(segment) < 6 or segment[5] < 1 or len(segment) < 6 + 3 * segment[5]:
                return "a short frame header"
            frame = _Frame(width=int.from_bytes(segment[3:5], "big"),
                           height=int.from_bytes(segment[1:3], "big"),
                           sampling={segment[6 + 3 * i]: (segment[7 + 3 * i] >> 4,
                                                          segment[7 + 3 * i] & 0x0F)
                                     for i in range(segment[5])})
        elif marker == _DRI:
            if len(segment) < 2:
                return "a short restart interval"
            interval = int.from_bytes(segment[:2], "big")
        elif marker == _SOS:
            scans += 1
            if frame is None:
                return "a scan before the frame header"
            if scans > MAX_SCANS:
                return f"more than {MAX_SCANS} scans"
            if not segment or segment[0] < 1 or len(segment) < 1 + 2 * segment[0]:
                return "a short scan header"
            components = [segment[1 + 2 * i] for i in range(segment[0])]
            if any(c not in frame.sampling for c in components):
                return "a scan of a component the frame does not have"
            scanned = _scan_data_end(data, pos, interval, _restart_units(frame, components))
            if isinstance(scanned, str):
                return scanned
            pos = scanned
    return f"more than {MAX_SEGMENTS} segments"


def _restart_units(frame: _Frame, components: list[int]) -> int | None:
    """How many MCUs a scan of these components has (T.81 A.2): what restart intervals count."""
    if frame.height == 0 or any(min(f) < 1 for f in frame.sampling.values()):
        return None
    h_max = max(h for h, _ in frame.sampling.values())
    v_max = max(v for _, v in frame.sampling.values())
    if len(components) == 1:   # non-interleaved: one block of the component is one MCU
        h, v = frame.sampling[components[0]]
        return (ceil(ceil(frame.width * h / h_max) / 8)
                * ceil(ceil(frame.height * v / v_max) / 8))
    return ceil(frame.width / (8 * h_max)) * ceil(frame.height / (8 * v_max))


def _scan_data_end(data: bytes, pos: int, interval: int, units: int | None) -> int | str:
    """Reads one scan's entropy-coded data from pos: the position of the marker that ends it,
    or what is wrong with it."""
    found = _SCAN_BREAK.search(data, pos)
    if found is None:
        return "it ends inside the image data"
    if found.group() == b"\xff\xff\x00":
        return "fill bytes before a stuffed 0x00 inside the image data"
    marker = data[found.start() + 1]
    if marker not in _AFTER_SCAN:
        return f"marker 0xFF{marker:02X} inside the image data"
    restarts = b"".join(_RESTART.findall(data, pos, found.start()))
    if restarts and not interval:
        return "a restart marker without a restart interval"
    in_order = (_RESTART_CYCLE * (len(restarts) // 8 + 1))[:len(restarts)]
    if restarts != in_order:
        index = next(i for i, (a, b) in enumerate(zip(restarts, in_order, strict=True)) if a != b)
        return f"restart marker RST{restarts[index] - _RST[0]} where RST{index % 8} belongs"
    if interval and units is not None:
        expected = ceil(units / interval) - 1
        # libjpeg passes over one more after the last interval; fewer means data was lost
        if not expected <= len(restarts) <= expected + 1:
            return f"{len(restarts)} restart markers where {expected} belong"
    return found.start()
