"""Occlusion per region on the offline photos, with drawn dark lenses and pasted masks."""

import pytest

from ml.image import load_rgb
from ml.occlusion import REGIONS, SUGGESTED_THRESHOLDS, occlusion_of
from ml.pipeline import perception

from .synthetic import with_mask, with_sunglasses
from .test_ml_perception import PHOTOS

LOWER_FACE = {"nose", "mouth", "left_cheek", "right_cheek", "chin_contour"}
# Press photos and the group photo: whole faces in frame (the 112 px Tom_Hanks crop cuts
# the chin off and is tested on its own).
WHOLE_FACE_PHOTOS = ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "t1.jpg"]


def occluded(readings: dict[str, float]) -> set[str]:
    return {region for region, value in readings.items() if value > SUGGESTED_THRESHOLDS[region]}


@pytest.fixture(scope="module")
def faces():
    pipeline = perception()
    found = []
    for name in WHOLE_FACE_PHOTOS:
        rgb = load_rgb(PHOTOS / name)
        found += [(f"{name}#{i}", rgb, face) for i, face in
                  enumerate(pipeline.detector.detect(rgb))]
    return found


def test_readings_cover_every_region_in_range(faces):
    _, rgb, face = faces[0]
    readings = occlusion_of(rgb, face)
    assert set(readings) == set(REGIONS)
    assert all(0.0 <= value <= 1.0 for value in readings.values())


def test_bare_frontal_faces_read_unoccluded(faces):
    flagged = {key: occluded(occlusion_of(rgb, face)) for key, rgb, face in faces}
    # The one face in three-quarter profile shows its far cheek as not visible; nothing else.
    assert {k: v for k, v in flagged.items() if v and v != {"right_cheek"}} == {}
    assert sum(1 for v in flagged.values() if v) <= 1


@pytest.mark.parametrize("texture", ["black", "blue", "green", "white"])
def test_a_mask_covers_the_lower_face_and_not_the_eyes(faces, texture):
    mask = load_rgb(PHOTOS / f"mask_{texture}.jpg")
    for key, rgb, face in faces:
        flagged = occluded(occlusion_of(with_mask(rgb, face, mask), face))
        assert LOWER_FACE <= flagged, (key, flagged)
        assert not flagged & {"left_eye", "right_eye"}, (key, flagged)


def test_dark_lenses_cover_the_eyes(faces):
    both_eyes = 0
    for key, rgb, face in faces:
        flagged = occluded(occlusion_of(with_sunglasses(rgb, face), face))
        assert not flagged & {"nose", "mouth", "chin_contour"}, (key, flagged)
        both_eyes += {"left_eye", "right_eye"} <= flagged
    assert both_eyes >= len(faces) - 1  # measured: every face but the turned one


def test_a_chin_outside_the_image_reads_occluded():
    rgb = load_rgb(PHOTOS / "Tom_Hanks_54745.png")  # a 112 px crop ending at the mouth
    face = perception().detector.detect(rgb)[0]
    assert occluded(occlusion_of(rgb, face)) == {"chin_contour"}


def test_analysis_reports_occlusion_with_attributes():
    analysis = perception().analyze(load_rgb(PHOTOS / "obama.jpg"), attributes=True)
    quality = analysis.as_dict()["faces"][0]["quality"]
    assert set(quality["occlusion"]) == set(REGIONS)
