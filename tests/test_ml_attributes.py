"""Attributes (seed 002) on the offline photos and on synthetic variants of them."""

import pytest

from ml.detection import aligned_crop
from ml.image import load_rgb
from ml.pipeline import perception

from .synthetic import cartoonised, with_glasses, with_sunglasses
from .test_ml_perception import PHOTOS

# The six people of t1.jpg from left to right (by the centre of their face box).
T1_GENDERS_LEFT_TO_RIGHT = ["female", "female", "male", "male", "male", "female"]


@pytest.fixture(scope="module")
def pipeline():
    return perception()


@pytest.fixture(scope="module")
def analysed(pipeline):
    found = {}
    for name in ["obama.jpg", "obama2.jpg", "obama3.jpg", "biden.jpg", "Tom_Hanks_54745.png"]:
        found[name] = pipeline.analyze(load_rgb(PHOTOS / name), attributes=True).largest
    faces = pipeline.analyze(load_rgb(PHOTOS / "t1.jpg"), attributes=True).faces
    for index, face in enumerate(sorted(faces, key=lambda f: f.face.box[0] + f.face.box[2])):
        found[f"t1#{index}"] = face
    return found


def test_gender_is_right_on_at_least_ten_of_the_eleven_faces(analysed):
    expected = {"obama.jpg": "male", "obama2.jpg": "male", "obama3.jpg": "male",
                "biden.jpg": "male", "Tom_Hanks_54745.png": "male"}
    expected.update({f"t1#{i}": g for i, g in enumerate(T1_GENDERS_LEFT_TO_RIGHT)})
    right = [key for key, gender in expected.items()
             if analysed[key].attributes.gender.type == gender]
    assert len(right) >= 10, {k: analysed[k].attributes.gender for k in expected}
    for face in analysed.values():
        assert 0.5 <= face.attributes.gender.probability <= 1.0


def test_age_is_plausible_and_orders_old_above_young(analysed):
    ages = {key: face.attributes.age for key, face in analysed.items()}
    assert all(15 <= age <= 85 for age in ages.values()), ages
    young = max(age for key, age in ages.items() if key.startswith("t1#"))
    assert ages["biden.jpg"] >= young + 15, ages  # a man near 70 against a cast near 30


def test_expression_of_clear_cases(analysed):
    assert analysed["t1#3"].attributes.expression.type == "laugh"   # laughing, mouth open
    assert analysed["obama2.jpg"].attributes.expression.type == "none"  # speaking
    assert analysed["biden.jpg"].attributes.expression.type == "none"
    smiling = [analysed[k].attributes.expression.type for k in ("t1#2", "t1#5")]
    assert all(t in {"smile", "laugh"} for t in smiling), smiling


def test_bare_faces_have_no_glasses_and_are_human(analysed):
    for key, face in analysed.items():
        assert face.attributes.glasses.type == "none", key
        assert face.attributes.face_type.type == "human", key


@pytest.mark.parametrize("name", ["obama.jpg", "biden.jpg", "t1.jpg"])
def test_drawn_glasses_are_seen(pipeline, name):
    from ml.attributes import glasses_of

    rgb = load_rgb(PHOTOS / name)
    for face in pipeline.detector.detect(rgb):
        assert glasses_of(aligned_crop(with_sunglasses(rgb, face), face)).type == "sun"
        assert glasses_of(aligned_crop(with_glasses(rgb, face), face)).type == "common"


@pytest.mark.parametrize("name", ["obama.jpg", "obama3.jpg", "t1.jpg"])
def test_cartoonised_faces_are_cartoons(pipeline, name):
    cartoon = cartoonised(load_rgb(PHOTOS / name))
    faces = pipeline.analyze(cartoon, attributes=True).faces
    assert faces, "the detector should still find the cartoonised faces"
    assert all(f.attributes.face_type.type == "cartoon" for f in faces)


def test_every_face_gets_a_shape(analysed):
    shapes = {key: face.attributes.face_shape for key, face in analysed.items()}
    assert all(s is not None and s.type in {"square", "triangle", "oval", "heart", "round"}
               and 0.5 <= s.probability <= 1.0 for s in shapes.values()), shapes


def _shape(pipeline, rgb):
    return pipeline.analyze(rgb, attributes=True).largest.attributes.face_shape.type


def test_face_shape_follows_the_geometry(pipeline):
    import cv2

    short = load_rgb(PHOTOS / "obama3.jpg")      # a short face: round
    long = load_rgb(PHOTOS / "obama2.jpg")       # a long face: oval
    assert _shape(pipeline, short) in {"round", "square"}
    assert _shape(pipeline, cv2.resize(short, None, fx=1.0, fy=1.3)) == "oval"
    assert _shape(pipeline, long) == "oval"
    assert _shape(pipeline, cv2.resize(long, None, fx=1.3, fy=1.0)) in {"round", "square"}
