"""The small pictures kept for the operator's review (ml/review_images.py): a strip of the
capture's frames, and a crop of each reference's face that still holds the face."""

import base64

import numpy as np

from ml.image import load_rgb
from ml.pipeline import perception
from ml.review_images import (
    FACE_CROP_SIDE,
    STRIP_HEIGHT,
    STRIP_TILE_MAX_WIDTH,
    face_crop,
    frame_strip,
    strip_indices,
)

from .images import PHOTOS


def test_strip_indices_spread_over_the_capture_first_and_last_included():
    assert strip_indices(0) == []
    assert strip_indices(5) == [0, 1, 2, 3, 4]
    assert strip_indices(45) == [0, 6, 13, 19, 25, 31, 38, 44]
    assert strip_indices(45, frames=3) == [0, 22, 44]


def test_the_strip_lays_the_frames_side_by_side_at_one_height():
    rng = np.random.default_rng(3)
    frames = [rng.integers(0, 255, (480, 640, 3), dtype=np.uint8) for _ in range(3)]
    frames.append(rng.integers(0, 255, (640, 480, 3), dtype=np.uint8))   # a turned phone
    strip = frame_strip(frames, [0.0, 120.0, 240.0, 360.0])
    assert strip is not None
    assert strip["frames"] == [[0, 0.0, 160], [1, 120.0, 160], [2, 240.0, 160], [3, 360.0, 90]]
    picture = load_rgb(base64.b64decode(strip["jpeg"]))
    assert picture.shape == (STRIP_HEIGHT, 160 * 3 + 90, 3)
    assert frame_strip([], []) is None


def test_frames_no_camera_makes_fit_the_strip_padded_and_small():
    """A client may send frames of any shape within IMAGE_MAX_SIDE: ten of 4096 x 40 made
    tiles 12,288 px wide each (a strip beyond JPEG's 65,500 px: the verify failed), and
    4096 x 1 ones 177 MB tiles. Each now fits STRIP_TILE_MAX_WIDTH x STRIP_HEIGHT, centred."""
    wide = [np.full((40, 4096, 3), 200, np.uint8)] * 10
    line = [np.full((1, 4096, 3), 200, np.uint8)] * 3
    for frames in (wide, line):
        strip = frame_strip(frames, [float(i) for i in range(len(frames))])
        assert strip is not None
        widths = [width for _, _, width in strip["frames"]]
        assert widths == [STRIP_TILE_MAX_WIDTH] * min(len(frames), 8)
        picture = load_rgb(base64.b64decode(strip["jpeg"]))
        assert picture.shape == (STRIP_HEIGHT, sum(widths), 3)
    picture = load_rgb(base64.b64decode(frame_strip(wide[:1], [0.0])["jpeg"]))
    rows = picture.mean(axis=(1, 2))
    band = round(40 * STRIP_TILE_MAX_WIDTH / 4096)          # the frame's height once fitted
    top = (STRIP_HEIGHT - band) // 2
    assert rows[top + 2: top + band - 2].min() > 150         # the frame, in the middle
    assert rows[: top - 2].max() < 40 and rows[top + band + 2:].max() < 40   # black above, below


def test_a_verify_of_frames_no_camera_makes_answers_no_face():
    """The same frames through a still verify answer NO_FACE (before: an exception on the
    worker, so the client got INTERNAL_ERROR on every try)."""
    from liveness_sdk.client import jpeg
    from ml.jobs import LivenessCheck, Reason, VerifyJob
    from ml.session import session_verify

    frames = tuple(jpeg(np.full((40, 4096, 3), 200, np.uint8)) for _ in range(10))
    job = VerifyJob(check=LivenessCheck.STILL, references={"ref": [0.0] * 128},
                    frames=frames, times_ms=tuple(float(i) for i in range(10)))
    result = session_verify(job)
    assert result.reason == Reason.NO_FACE
    assert result.strip is not None


def test_a_reference_face_crop_still_holds_the_face_and_is_small():
    """The crop of the detector's own face, detected again, is one face filling most of it."""
    detector = perception().detector
    for name in ("obama.jpg", "biden.jpg"):
        photo = load_rgb(PHOTOS / name)
        face = detector.detect(photo)[0]
        crop = face_crop(photo, face.box)
        assert max(crop.shape[:2]) <= FACE_CROP_SIDE
        found = detector.detect(crop)
        assert len(found) == 1, name
        x1, _, x2, _ = found[0].box
        assert (x2 - x1) / crop.shape[1] > 0.5, name       # the face, with a margin round it


def test_a_face_at_the_picture_edge_is_cropped_inside_the_picture():
    picture = np.full((300, 400, 3), 128, dtype=np.uint8)
    crop = face_crop(picture, (-20.0, 250.0, 80.0, 330.0))
    assert crop.shape[0] > 0 and crop.shape[1] > 0 and max(crop.shape[:2]) <= FACE_CROP_SIDE
