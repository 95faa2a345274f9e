"""POST /faceid/v3/sdk/get_biz_token: success, sessions, and every 400/404/413/500 answer."""

import re
import time
import uuid

import pytest
from django.db import connection

from apps.core.redis import redis_client, redis_key
from apps.faceid.models import BizTokenRecord
from apps.faceid.sessions import session_consume, session_meta, session_ttl, session_was_consumed

from .conftest import GET_BIZ_TOKEN, still_form
from .images import (
    face_image,
    face_jpeg_and_mpo,
    image_bytes,
    png_with_declared_size,
    scan_overwritten_jpeg,
    truncated_jpeg,
)

ID_PATTERN = re.compile(r"^\d{10},[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
VALID_ID_NUMBER = "11010519491231002X"  # the GB 11643 standard's own example


def error_of(response) -> str:
    body = response.json()
    assert set(body) == {"request_id", "time_used", "error"}, body
    assert ID_PATTERN.match(body["request_id"])
    assert isinstance(body["time_used"], int)
    return body["error"]


def test_signed_request_gets_a_biz_token_and_a_one_hour_session(acme, post_form):
    response = post_form(still_form(acme, biz_no="order-7", image_ref2=(
        "r2.png", face_image("biden.jpg", "PNG", 260), "image/png")))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"biz_token", "time_used", "request_id"}
    assert ID_PATTERN.match(body["biz_token"]) and ID_PATTERN.match(body["request_id"])
    assert abs(int(body["biz_token"].split(",")[0]) - time.time()) < 5
    assert response["X-Request-Id"] == body["request_id"]

    token = body["biz_token"]
    assert 3590 <= session_ttl(biz_token=token) <= 3600
    meta = session_meta(biz_token=token)
    assert meta["liveness_type"] == "still" and meta["uuid"] == "user-42"
    assert meta["biz_no"] == "order-7"
    assert meta["options"]["liveness_timeout"] == 60  # still's default
    assert meta["options"]["face_quality_threshold"] == 30
    assert meta["reference_images"]["image_ref2"]["format"] == "PNG"
    record = BizTokenRecord.objects.get(biz_token=token)
    assert record.app_id == acme.app.pk and record.request_id == body["request_id"]
    assert (record.expires_at - record.created_at).total_seconds() == pytest.approx(3600)


def test_session_is_gone_after_its_ttl(acme, post_form, settings):
    settings.BIZ_TOKEN_TTL_SECONDS = 1
    token = post_form(still_form(acme)).json()["biz_token"]
    assert session_meta(biz_token=token) is not None
    time.sleep(1.6)
    assert session_meta(biz_token=token) is None
    assert session_ttl(biz_token=token) == -2
    assert BizTokenRecord.objects.filter(biz_token=token).exists()  # the durable trace stays


def test_session_is_consumed_exactly_once(acme, post_form):
    token = post_form(still_form(acme)).json()["biz_token"]
    session = session_consume(biz_token=token)
    assert session is not None and set(session.images) == {"image_ref1"}
    assert session.images["image_ref1"][:2] == b"\xff\xd8"
    assert session_consume(biz_token=token) is None
    assert session_was_consumed(biz_token=token)
    assert session_meta(biz_token=token) is None


def test_kyc_data_is_never_stored_in_clear(make_tenant, post_form):
    bank = make_tenant(name="kyc-bank", can_use_data_source=True)
    name = "张三丰"
    response = post_form({"sign": bank.sign(), "sign_version": "hmac_sha1",
                          "liveness_type": "meglive", "comparison_type": "1",
                          "idcard_name": name, "idcard_number": VALID_ID_NUMBER.lower()})
    assert response.status_code == 200, response.content
    token = response.json()["biz_token"]

    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM faceid_biztokenrecord WHERE biz_token = %s", [token])
        row = " ".join(str(v) for v in cursor.fetchone())
    assert VALID_ID_NUMBER not in row and name not in row
    raw_session = b"".join(redis_client().hvals(redis_key("session", token)))
    assert VALID_ID_NUMBER.encode() not in raw_session and name.encode() not in raw_session
    assert session_consume(biz_token=token).idcard == {"name": name, "number": VALID_ID_NUMBER}


def test_kyc_without_reference_images_needs_none(make_tenant, post_form):
    bank = make_tenant(can_use_data_source=True)
    response = post_form({"sign": bank.sign(), "sign_version": "hmac_sha1",
                          "liveness_type": "flash", "comparison_type": "1",
                          "idcard_name": "李四", "idcard_number": VALID_ID_NUMBER})
    assert response.status_code == 200
    meta = session_meta(biz_token=response.json()["biz_token"])
    assert meta["options"]["flash_liveness_timeout"] == 120 and meta["reference_images"] == {}


def test_raw_image_session_keeps_image_and_reference(acme, post_form):
    form = still_form(acme, liveness_type="raw_image",
                      image=("selfie.bmp", face_image("obama2.jpg", "BMP", 320), "image/bmp"))
    response = post_form(form)
    assert response.status_code == 200, response.content
    session = session_consume(biz_token=response.json()["biz_token"])
    assert set(session.images) == {"image_ref1", "image"}


@pytest.mark.parametrize(
    ("drop", "overrides", "expected"),
    [
        ("sign", {}, "MISSING_ARGUMENTS: sign"),
        ("sign_version", {}, "MISSING_ARGUMENTS: sign_version"),
        ("liveness_type", {}, "MISSING_ARGUMENTS: liveness_type"),
        ("comparison_type", {}, "MISSING_ARGUMENTS: comparison_type"),
        ("uuid", {}, "MISSING_ARGUMENTS: uuid"),
        ("image_ref1", {}, "MISSING_ARGUMENTS: image_ref1"),
        (None, {"liveness_type": "raw_image"}, "MISSING_ARGUMENTS: image"),
        (None, {"comparison_type": "1"}, "MISSING_ARGUMENTS: idcard_name"),
        (None, {"comparison_type": "1", "idcard_name": "王五"}, "MISSING_ARGUMENTS: idcard_number"),
        ("uuid", {"uuid": ""}, "MISSING_ARGUMENTS: uuid"),
    ],
)
def test_missing_arguments(make_tenant, post_form, drop, overrides, expected):
    tenant = make_tenant(can_use_data_source=True)
    form = still_form(tenant, **overrides)
    form.pop(drop, None)
    response = post_form(form)
    assert response.status_code == 400
    assert error_of(response) == expected


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("sign_version", "hmac_sha256"),
        ("liveness_type", "video"),
        ("comparison_type", "2"),
        ("uuid", "u" * 129),
        ("uuid", "用" * 43),  # 129 bytes in UTF-8
        ("biz_no", "b" * 129),
        ("liveness_timeout", "4"),
        ("liveness_timeout", "61"),
        ("liveness_timeout", "10.0"),
        ("liveness_timeout", "ten"),
        ("liveness_timeout", "١٠"),     # Arabic-Indic digits: ASCII only (docs/API.md)
        ("liveness_timeout", "１０"),    # fullwidth digits
        ("face_quality_threshold", "３０"),
        ("liveness_action_count", "0"),
        ("liveness_action_count", "4"),
        ("face_replace_detection", "2"),
        ("eyes_close_detection", "yes"),
        ("flash_liveness_timeout", "59"),
        ("flash_liveness_timeout", "181"),
        ("fail_when_multiple_faces", "2"),
        ("face_quality_threshold", "101"),
        ("face_quality_threshold", "-1"),
        ("face_quality_threshold", "30.5"),
        ("return_faces", "true"),
        ("verbose", "2"),
        ("security_level", "0"),
        ("security_level", "5"),
        ("force_compare", "2"),
        ("multi_oriented_detection", "2"),
        ("liveness_level", "3"),
        ("maximum_brightness", "2"),
        ("get_liveness_video", "4"),
        ("device_risk", "2"),
        ("multiple_faces_detection", "2"),
    ],
)
def test_bad_arguments(acme, post_form, key, value):
    response = post_form(still_form(acme, **{key: value}))
    assert response.status_code == 400
    assert error_of(response) == f"BAD_ARGUMENTS: {key}"


@pytest.mark.parametrize("number", ["110105194912310021", "11010519491231002", "1101051949123100XX",
                                    "A1010519491231002X",
                                    "１１０１０５１９４９１２３１００２X"])  # the valid one, fullwidth
def test_bad_id_number(make_tenant, post_form, number):
    bank = make_tenant(can_use_data_source=True)
    response = post_form({"sign": bank.sign(), "sign_version": "hmac_sha1",
                          "liveness_type": "still", "comparison_type": "1",
                          "idcard_name": "王五", "idcard_number": number})
    assert error_of(response) == "BAD_ARGUMENTS: idcard_number"


def test_boundary_values_are_accepted(acme, post_form):
    form = still_form(acme, liveness_type="meglive", liveness_timeout="5", liveness_action_count="1",
                      face_quality_threshold="100", security_level="4", get_liveness_video="3",
                      flash_liveness_timeout="180", uuid="u" * 128, biz_no="b" * 128)
    response = post_form(form)
    assert response.status_code == 200, response.content
    options = session_meta(biz_token=response.json()["biz_token"])["options"]
    assert options["liveness_timeout"] == 5 and options["liveness_action_count"] == 1
    assert options["security_level"] == "4" and options["face_quality_threshold"] == 100


def test_errors_are_reported_in_the_seeds_parameter_order(acme, post_form):
    form = still_form(acme, liveness_timeout="99", verbose="9", comparison_type="7")
    assert error_of(post_form(form)) == "BAD_ARGUMENTS: comparison_type"
    form = still_form(acme, liveness_timeout="99", verbose="9")
    assert error_of(post_form(form)) == "BAD_ARGUMENTS: liveness_timeout"


@pytest.mark.parametrize(
    ("param", "payload"),
    [
        ("image_ref1", ("notes.txt", b"this is not an image", "text/plain")),
        ("image_ref1", ("half.jpg", truncated_jpeg(), "image/jpeg")),
        ("image_ref1", ("random.jpg", scan_overwritten_jpeg("random"), "image/jpeg")),
        ("image_ref2", ("zeros.jpg", scan_overwritten_jpeg("zeros"), "image/jpeg")),
        ("image_ref1", ("anim.gif", image_bytes("GIF"), "image/gif")),
        ("image_ref1", ("empty.jpg", b"", "image/jpeg")),
        ("image_ref2", ("junk.png", b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "image/png")),
    ],
)
def test_unsupported_images_name_their_parameter(acme, post_form, param, payload):
    response = post_form(still_form(acme, **{param: payload}))
    assert response.status_code == 400
    assert error_of(response) == f"IMAGE_ERROR_UNSUPPORTED_FORMAT: {param}"


def test_an_mpo_reference_is_read_as_its_first_picture(acme, post_form):
    """An MPO (a phone's JPEG with more pictures after it) is taken as its first picture: the
    face is found in it (its second picture has none) and embedded as in the same JPEG."""
    metas = {}
    jpeg, mpo = face_jpeg_and_mpo("biden.jpg", width=300)
    for kind, picture in (("JPEG", jpeg), ("MPO", mpo)):
        response = post_form(still_form(acme, image_ref2=("phone.jpg", picture, "image/jpeg")))
        assert response.status_code == 200, response.content
        metas[kind] = session_meta(biz_token=response.json()["biz_token"])
    assert metas["MPO"]["reference_images"]["image_ref2"]["format"] == "MPO"
    assert metas["MPO"]["reference_images"]["image_ref2"]["width"] == 300
    assert metas["MPO"]["embeddings"]["image_ref2"] == metas["JPEG"]["embeddings"]["image_ref2"]


def test_image_sent_as_text_is_not_an_image(acme, post_form):
    response = post_form(still_form(acme, image_ref1="aGVsbG8="))
    assert error_of(response) == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_ref1"


@pytest.mark.parametrize(
    ("param", "payload"),
    [
        ("image_ref1", ("wide.png", image_bytes("PNG", (4097, 8)), "image/png")),
        ("image_ref2", ("tall.jpg", image_bytes("JPEG", (8, 4097)), "image/jpeg")),
        ("image_ref1", ("bomb.png", png_with_declared_size(100_000, 100_000), "image/png")),
        ("image_ref1", ("bomb2.png", png_with_declared_size(30_000, 30_000), "image/png")),
    ],
)
def test_oversized_images(acme, post_form, param, payload):
    response = post_form(still_form(acme, **{param: payload}))
    assert response.status_code == 400
    assert error_of(response) == f"INVALID_IMAGE_SIZE: {param}"


def test_largest_accepted_side_is_4096(acme, post_form):
    response = post_form(still_form(acme, image_ref1=("edge.png", image_bytes("PNG", (4096, 16)),
                                                      "image/png")))
    # accepted as an image: it reaches the face check (a plain colour has no face)
    assert error_of(response) == "NO_FACE_FOUND: image_ref1"


def test_failed_requests_leave_no_session_or_record(acme, post_form):
    before = BizTokenRecord.objects.count()
    post_form(still_form(acme, verbose="7"))
    post_form(still_form(acme, image_ref1=("x.txt", b"text", "text/plain")))
    assert BizTokenRecord.objects.count() == before


@pytest.mark.parametrize("path", ["/faceid/v3/sdk/nope", "/faceid/v2/get_biz_token",
                                  "/faceid/", "/faceid/v3/sdk/get_biz_token/extra"])
def test_unknown_paths_under_faceid(client, path):
    for response in (client.get(path), client.post(path, {})):
        assert response.status_code == 404
        assert error_of(response) == "API_NOT_FOUND"


def test_get_on_get_biz_token_is_not_an_api(client):
    response = client.get(GET_BIZ_TOKEN)
    assert response.status_code == 404 and error_of(response) == "API_NOT_FOUND"


def test_body_over_20_mb_is_refused_in_plain_text(acme, post_form):
    big = ("big.jpg", b"\xff\xd8" + b"\x00" * (20 * 1024 * 1024), "image/jpeg")
    response = post_form(still_form(acme, image_ref1=big))
    assert response.status_code == 413
    assert response.content == b"Request Entity Too Large"
    assert response["Content-Type"].startswith("text/plain")


def test_body_just_under_20_mb_is_read(acme, post_form):
    payload = ("big.jpg", b"\xff\xd8" + b"\x00" * (19 * 1024 * 1024), "image/jpeg")
    response = post_form(still_form(acme, image_ref1=payload))
    assert error_of(response) == "IMAGE_ERROR_UNSUPPORTED_FORMAT: image_ref1"


def test_json_body_is_not_form_data(acme, client):
    response = client.post(GET_BIZ_TOKEN, {"sign": acme.sign()}, content_type="application/json")
    assert response.status_code == 400 and error_of(response) == "BAD_ARGUMENTS: form-data"


def test_url_encoded_form_is_read_like_form_data(acme, client):
    response = client.post(GET_BIZ_TOKEN, "sign=x&sign_version=hmac_sha1",
                           content_type="application/x-www-form-urlencoded")
    assert error_of(response) == "AUTHORIZATION_ERROR: INVALID_SIGN"


def test_redis_failure_is_a_clean_internal_error(acme, post_form, settings):
    with socket_that_refuses() as port:
        settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
        response = post_form(still_form(acme))
    assert response.status_code == 500
    assert error_of(response) == "INTERNAL_ERROR"
    assert b"Traceback" not in response.content and b"redis" not in response.content.lower()
    assert not BizTokenRecord.objects.exists()  # nothing half-done stays behind


class socket_that_refuses:
    """A port with nothing listening on it (bound, never listened)."""

    def __enter__(self) -> int:
        import socket

        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        return self.sock.getsockname()[1]

    def __exit__(self, *exc) -> None:
        self.sock.close()


def test_biz_tokens_are_unique_uuid4s(acme, post_form):
    tokens = {post_form(still_form(acme)).json()["biz_token"] for _ in range(5)}
    assert len(tokens) == 5
    assert all(uuid.UUID(t.split(",")[1]).version == 4 for t in tokens)


def test_more_fields_than_allowed_is_a_bad_form_not_a_crash(acme, post_form, settings):
    form = still_form(acme)
    form.update({f"extra{i}": "x" for i in range(settings.DATA_UPLOAD_MAX_NUMBER_FIELDS + 5)})
    response = post_form(form)
    assert response.status_code == 400
    assert error_of(response) == "BAD_ARGUMENTS: form-data"


def test_50_concurrent_consumers_get_a_session_exactly_once(acme, post_form):
    from concurrent.futures import ThreadPoolExecutor
    from threading import Barrier

    token = post_form(still_form(acme)).json()["biz_token"]
    start = Barrier(50)

    def consume(_):
        start.wait()
        return session_consume(biz_token=token)

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(consume, range(50)))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1 and winners[0].images["image_ref1"][:2] == b"\xff\xd8"
