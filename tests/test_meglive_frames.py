"""A sealed package's frames as the web reads them (apps/faceid/meglive.py package_frames_read):
decoded once, checked as pictures, and handed on as the very bytes the SDK sealed."""

import base64

import pytest

from apps.faceid.meglive import PackageError, package_frames_read

from .images import PHOTOS, truncated_jpeg


def payload_of(*texts: str) -> dict:
    return {"frames": [{"t": float(i), "jpeg": text} for i, text in enumerate(texts)]}


def test_the_frames_read_are_the_bytes_sealed():
    pictures = [(PHOTOS / name).read_bytes() for name in ("obama.jpg", "biden.jpg")]
    frames = package_frames_read(payload_of(*(base64.b64encode(p).decode() for p in pictures)),
                                 max_side=4096)
    assert frames == tuple(pictures)


@pytest.mark.parametrize("text", [
    "not base64!",            # outside the alphabet
    "QUJD\n",                 # a line break
    "QU JD",                  # a space
    "Q",                      # a length no base64 has
    "QQ==QQ==",               # data after the padding
    "=QUJD",                  # padding first
    "QUJDé",                  # not ASCII
])
def test_a_frame_that_is_not_strict_base64_is_refused_by_its_index(text):
    good = base64.b64encode((PHOTOS / "obama.jpg").read_bytes()).decode()
    with pytest.raises(PackageError, match="frame 1 is not a readable picture"):
        package_frames_read(payload_of(good, text), max_side=4096)


def test_a_frame_that_is_base64_of_no_readable_picture_is_refused():
    for data in (truncated_jpeg(), b"not a picture", b""):
        with pytest.raises(PackageError, match="frame 0 is not a readable picture"):
            package_frames_read(payload_of(base64.b64encode(data).decode()), max_side=4096)
    too_big = base64.b64encode((PHOTOS / "obama.jpg").read_bytes()).decode()
    with pytest.raises(PackageError, match="frame 0"):
        package_frames_read(payload_of(too_big), max_side=16)
