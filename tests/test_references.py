"""get_biz_token's reference checks, run on a real Celery worker: faces found (or not), several
faces, quality, rotation, return_faces, and the embeddings kept with the session."""

import io

from PIL import Image

from apps.faceid.sessions import session_meta

from .conftest import still_form
from .images import face_image, image_bytes


def upload(name: str, data: bytes) -> tuple:
    return (name, data, "image/jpeg")


def transformed(name: str, change) -> bytes:
    photo = Image.open(io.BytesIO(face_image(name)))
    buffer = io.BytesIO()
    change(photo).save(buffer, "JPEG", quality=92)
    return buffer.getvalue()


def test_each_image_without_a_face_is_named(acme, post_form):
    plain = upload("plain.jpg", image_bytes("JPEG"))
    assert post_form(still_form(acme, image_ref1=plain)).json()["error"] == \
        "NO_FACE_FOUND: image_ref1"
    assert post_form(still_form(acme, image_ref2=plain)).json()["error"] == \
        "NO_FACE_FOUND: image_ref2"
    raw = post_form(still_form(acme, liveness_type="raw_image", image=plain))
    assert raw.status_code == 400 and raw.json()["error"] == "NO_FACE_FOUND: image"


def test_the_session_keeps_one_embedding_per_image(acme, post_form):
    response = post_form(still_form(acme, image_ref2=upload("b.jpg", face_image("biden.jpg"))))
    assert response.status_code == 200, response.content
    meta = session_meta(biz_token=response.json()["biz_token"])
    assert set(meta["embeddings"]) == {"image_ref1", "image_ref2"}
    assert all(len(v) == 128 for v in meta["embeddings"].values())   # SFace


def test_raw_image_with_several_faces(acme, post_form):
    group = upload("group.jpg", face_image("t1.jpg", width=1024))
    refused = post_form(still_form(acme, liveness_type="raw_image", image=group))
    assert refused.status_code == 400 and refused.json()["error"] == "MULTIPLE_FACES"
    allowed = post_form(still_form(acme, liveness_type="raw_image", image=group,
                                   fail_when_multiple_faces="0"))
    assert allowed.status_code == 200
    # several faces in a reference are not an error: the largest is used
    assert post_form(still_form(acme, image_ref1=group)).status_code == 200


def test_low_quality_and_return_faces(acme, post_form):
    dark = upload("dark.jpg", transformed("obama.jpg", lambda p: p.point(lambda v: v * 0.12)))
    refused = post_form(still_form(acme, liveness_type="raw_image", image=dark,
                                   return_faces="1"))
    body = refused.json()
    assert refused.status_code == 400 and body["error"] == "LOW_QUALITY"
    assert [f["image"] for f in body["faces"]] == ["image_ref1", "image"]
    assert body["faces"][1]["quality"] < 30 <= body["faces"][0]["quality"]
    lenient = post_form(still_form(acme, liveness_type="raw_image", image=dark,
                                   face_quality_threshold="0"))
    assert lenient.status_code == 200 and "faces" not in lenient.json()
    shown = post_form(still_form(acme, return_faces="1")).json()
    assert set(shown["faces"][0]["face_rectangle"]) == {"left", "top", "width", "height"}


def test_a_sideways_reference_is_found_only_when_rotation_is_allowed(acme, post_form):
    sideways = upload("side.jpg", transformed("obama.jpg", lambda p: p.rotate(90, expand=True)))
    assert post_form(still_form(acme, image_ref1=sideways)).status_code == 200
    refused = post_form(still_form(acme, image_ref1=sideways, multi_oriented_detection="0"))
    assert refused.json()["error"] == "NO_FACE_FOUND: image_ref1"
