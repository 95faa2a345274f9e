"""FaceID Lite's server side (docs/WEB.md): get_token and get_result, with real PostgreSQL and
Redis. Only the tests that send a reference image, or run a verification, start a worker."""

import base64
import time
import uuid
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.crypto import keyed_digest
from apps.core.redis import redis_client, redis_key
from apps.faceid.models import BizTokenRecord, LiteToken, VerificationRecord
from apps.faceid.sessions import session_delete, session_meta, session_ttl
from apps.tenants.models import ApiApp
from liveness_sdk.client import capture
from ml.image import load_rgb

from .images import PHOTOS, face_image, image_bytes
from .test_get_biz_token import error_of

GET_TOKEN = "/faceid/lite/get_token"
GET_RESULT = "/faceid/lite/get_result"
START = "/faceid/v3/sdk/start"
VERIFY = "/faceid/v3/sdk/verify"
KYC_NUMBER = "11010519491231002X"
PUBLIC_NOTIFY = "https://93.184.216.34:8443/lite/notify?shop=7"   # an IP literal: no DNS needed


def lite_form(tenant, **overrides) -> dict:
    """A valid KYC get_token (comparison_type 1, no picture: no worker needed); None drops a
    field, a (name, bytes, type) tuple is a file."""
    form = {
        "api_key": tenant.api_key,
        "api_secret": tenant.api_secret,
        "return_url": "https://bank.example/lite/done",
        "notify_url": PUBLIC_NOTIFY,
        "biz_no": f"order-{uuid.uuid4()}",
        "comparison_type": "1",
        "idcard_name": "Barack Obama",
        "idcard_number": KYC_NUMBER,
    }
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


@pytest.fixture
def kyc_bank(make_tenant):
    return make_tenant(can_use_data_source=True, call_quota=100)


@pytest.fixture
def get_token(client):
    def post(form: dict, **extra):
        payload = {k: (SimpleUploadedFile(v[0], v[1], content_type=v[2])
                       if isinstance(v, tuple) else v) for k, v in form.items()}
        return client.post(GET_TOKEN, payload, **extra)

    return post


@pytest.fixture
def issued(get_token, kyc_bank):
    """A fresh Lite token of kyc_bank: (the answer's body, its LiteToken)."""

    def issue(**overrides):
        response = get_token(lite_form(kyc_bank, **overrides))
        assert response.status_code == 200, response.content
        body = response.json()
        return body, LiteToken.objects.select_related("biz_token_record").get(
            biz_id=body["biz_id"])

    return issue


@pytest.fixture
def get_result(client, kyc_bank):
    def read(biz_id: str | None, tenant=None, REMOTE_ADDR="127.0.0.1", **fields):  # noqa: N803
        tenant = tenant or kyc_bank
        query = {"api_key": tenant.api_key, "api_secret": tenant.api_secret, "biz_id": biz_id,
                 **fields}
        return client.get(GET_RESULT, {k: v for k, v in query.items() if v is not None},
                          REMOTE_ADDR=REMOTE_ADDR)

    return read


# ------------------------------------------------------------------------------ get_token


def test_get_token_without_a_picture_wraps_a_kyc_biz_token_session(get_token, kyc_bank):
    extra_data = "x" * 4096                           # the largest biz_extra_data
    title = "验证身份" * 2                              # 24 bytes of UTF-8, under 32
    before = time.time()
    response = get_token(lite_form(kyc_bank, biz_no="loan-1", biz_extra_data=extra_data,
                                   web_title=title, liveness_type="flash"))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"request_id", "time_used", "token", "biz_id", "expired_time"}
    assert before + 3600 - 1 <= body["expired_time"] <= time.time() + 3600
    lite = LiteToken.objects.select_related("biz_token_record").get(biz_id=body["biz_id"])
    assert lite.app_id == kyc_bank.app.pk and lite.biz_no == "loan-1"
    assert (lite.biz_extra_data, lite.web_title) == (extra_data, title)
    assert lite.return_url == "https://bank.example/lite/done" and lite.notify_url == PUBLIC_NOTIFY
    # the token is kept as a keyed digest only, and differs from the biz_token and the biz_id
    assert lite.token_digest == keyed_digest(body["token"])
    assert not LiteToken.objects.filter(token_digest=body["token"]).exists()
    biz_token = lite.biz_token_record.biz_token
    assert len({body["token"], body["biz_id"], biz_token}) == 3
    # the wrapped session is an ordinary biz_token's, as get_biz_token would have made it
    meta = session_meta(biz_token=biz_token)
    assert meta["liveness_type"] == "flash" and meta["comparison_type"] == "1"
    assert meta["biz_no"] == "loan-1" and meta["app_id"] == kyc_bank.app.pk
    assert 3590 <= session_ttl(biz_token=biz_token) <= 3600
    assert lite.expires_at == lite.biz_token_record.expires_at
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 1


def test_get_token_liveness_defaults_to_meglive_and_takes_get_biz_token_options(issued):
    _, lite = issued(security_level="4", liveness_action_count="1")
    meta = session_meta(biz_token=lite.biz_token_record.biz_token)
    assert meta["liveness_type"] == "meglive" == lite.liveness_type
    assert meta["options"]["security_level"] == "4"
    assert meta["options"]["liveness_action_count"] == 1


def test_get_token_with_a_reference_picture(acme, post_form):
    form = lite_form(acme, comparison_type="0", idcard_name=None, idcard_number=None,
                     uuid="user-42", liveness_type="still",
                     image_ref1=("ref.jpg", face_image("obama3.jpg"), "image/jpeg"))
    response = post_form(form, path=GET_TOKEN)

    assert response.status_code == 200, response.content
    lite = LiteToken.objects.select_related("biz_token_record").get(
        biz_id=response.json()["biz_id"])
    meta = session_meta(biz_token=lite.biz_token_record.biz_token)
    assert meta["comparison_type"] == "0" and meta["uuid"] == "user-42"
    assert set(meta["embeddings"]) == {"image_ref1"}   # made once, on the worker, as for the SDK
    assert lite.biz_token_record.reference_images["image_ref1"]


def test_get_token_reference_picture_without_a_face(acme, post_form):
    form = lite_form(acme, comparison_type="0", idcard_name=None, idcard_number=None,
                     uuid="user-42", image_ref1=("ref.jpg", image_bytes(), "image/jpeg"))
    response = post_form(form, path=GET_TOKEN)
    assert (response.status_code, error_of(response)) == (400, "NO_FACE_FOUND: image_ref1")
    assert not LiteToken.objects.exists()


@pytest.mark.parametrize("overrides, error", [
    ({"api_key": None}, "MISSING_ARGUMENTS: api_key"),
    ({"api_secret": None}, "MISSING_ARGUMENTS: api_secret"),
    ({"return_url": None}, "MISSING_ARGUMENTS: return_url"),
    ({"return_url": "ftp://bank.example/done"}, "BAD_ARGUMENTS: return_url"),
    ({"return_url": "/lite/done"}, "BAD_ARGUMENTS: return_url"),
    ({"return_url": "javascript:alert(1)"}, "BAD_ARGUMENTS: return_url"),
    ({"return_url": "https://user:pw@bank.example/"}, "BAD_ARGUMENTS: return_url"),
    ({"return_url": "https://bank.example/" + "a" * 2048}, "BAD_ARGUMENTS: return_url"),
    ({"notify_url": None}, "MISSING_ARGUMENTS: notify_url"),
    ({"notify_url": "bank.example/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "http://127.0.0.1:8000/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "http://localhost/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "http://10.0.0.5/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "http://169.254.169.254/latest/meta-data"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "http://[::ffff:192.168.1.1]/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"notify_url": "https://no-such-host.invalid/notify"}, "BAD_ARGUMENTS: notify_url"),
    ({"biz_no": None}, "MISSING_ARGUMENTS: biz_no"),
    ({"biz_no": "n" * 129}, "BAD_ARGUMENTS: biz_no"),
    ({"biz_no": "é" * 65}, "BAD_ARGUMENTS: biz_no"),                # 65 characters, 130 bytes
    ({"biz_extra_data": "d" * 4097}, "BAD_ARGUMENTS: biz_extra_data"),
    ({"web_title": "验" * 11}, "BAD_ARGUMENTS: web_title"),           # 11 characters, 33 bytes
    ({"liveness_type": "raw_image"}, "BAD_ARGUMENTS: liveness_type"),
    ({"liveness_type": "video"}, "BAD_ARGUMENTS: liveness_type"),
    ({"comparison_type": None}, "MISSING_ARGUMENTS: comparison_type"),
    ({"idcard_number": "110105194912310021"}, "BAD_ARGUMENTS: idcard_number"),
    ({"comparison_type": "0", "uuid": "u"}, "MISSING_ARGUMENTS: image_ref1"),
    ({"security_level": "9"}, "BAD_ARGUMENTS: security_level"),
])
def test_get_token_refuses_each_bad_field(get_token, kyc_bank, overrides, error):
    response = get_token(lite_form(kyc_bank, **overrides))
    assert (response.status_code, error_of(response)) == (400, error)
    assert not LiteToken.objects.exists() and not BizTokenRecord.objects.exists()
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 0


def test_get_token_notify_url_may_lead_to_configured_networks(get_token, kyc_bank, settings):
    settings.LITE_NOTIFY_ALLOWED_NETWORKS = "10.0.0.0/8"
    assert get_token(lite_form(kyc_bank, notify_url="http://10.0.0.5/notify")).status_code == 200
    refused = get_token(lite_form(kyc_bank, notify_url="http://192.168.1.5/notify"))
    assert error_of(refused) == "BAD_ARGUMENTS: notify_url"


def test_get_token_return_url_is_only_checked_for_its_form(get_token, kyc_bank):
    """The user's browser goes there, not our server: an intranet page is the bank's choice."""
    response = get_token(lite_form(kyc_bank, return_url="http://10.1.2.3/lite/done"))
    assert response.status_code == 200, response.content


def test_get_token_wrong_credentials(get_token, kyc_bank, make_tenant):
    other = make_tenant()
    for overrides in ({"api_secret": "guess"}, {"api_secret": other.api_secret},
                      {"api_key": "no-such-key"}, {"api_key": "k" * 300}):
        response = get_token(lite_form(kyc_bank, **overrides))
        assert (response.status_code, error_of(response)) == (
            403, "AUTHORIZATION_ERROR: INVALID_SIGN")
    assert not LiteToken.objects.exists()


def test_get_token_permissions_and_the_app_state(get_token, make_tenant):
    no_kyc = make_tenant()
    assert error_of(get_token(lite_form(no_kyc))) == \
        "AUTHORIZATION_ERROR: NO_DATA_SOURCE_PERMISSION"
    stopped = make_tenant(can_use_data_source=True)
    ApiApp.objects.filter(pk=stopped.app.pk).update(status=ApiApp.Status.DISCONTINUED)
    assert error_of(get_token(lite_form(stopped))) == \
        "AUTHORIZATION_ERROR: API_KEY_BE_DISCONTINUED"


def test_get_token_biz_no_is_unique_per_app(get_token, kyc_bank, make_tenant):
    assert get_token(lite_form(kyc_bank, biz_no="loan-9")).status_code == 200
    again = get_token(lite_form(kyc_bank, biz_no="loan-9"))
    assert (again.status_code, error_of(again)) == (400, "BAD_ARGUMENTS: biz_no")
    assert LiteToken.objects.filter(biz_no="loan-9").count() == 1
    assert BizTokenRecord.objects.count() == 1                       # nothing issued again
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 1    # nor counted
    another_bank = make_tenant(can_use_data_source=True)
    assert get_token(lite_form(another_bank, biz_no="loan-9")).status_code == 200


def test_get_token_biz_no_race_is_settled_by_the_constraint(get_token, kyc_bank, monkeypatch):
    """Two requests with one biz_no that both passed the early check: the second one's
    transaction is undone whole (no record, no session, no call counted)."""
    assert get_token(lite_form(kyc_bank, biz_no="loan-10")).status_code == 200
    monkeypatch.setattr("apps.faceid.lite._biz_no_taken", lambda app_id, biz_no: False)
    keys_before = set(redis_client().scan_iter(match=redis_key("session", "*")))
    again = get_token(lite_form(kyc_bank, biz_no="loan-10"))
    assert (again.status_code, error_of(again)) == (400, "BAD_ARGUMENTS: biz_no")
    assert BizTokenRecord.objects.count() == 1
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 1
    assert set(redis_client().scan_iter(match=redis_key("session", "*"))) == keys_before


def test_get_token_a_guessing_source_is_throttled(get_token, kyc_bank, settings):
    client = redis_client()
    for key in client.scan_iter(match=redis_key("auth-failures", "*")):
        client.delete(key)
    settings.AUTH_FAILURES_PER_WINDOW = 3
    attacker = "203.0.113.9"
    for _ in range(3):
        wrong = get_token(lite_form(kyc_bank, api_secret="guess"), REMOTE_ADDR=attacker)
        assert error_of(wrong) == "AUTHORIZATION_ERROR: INVALID_SIGN"
    right = get_token(lite_form(kyc_bank), REMOTE_ADDR=attacker)
    assert error_of(right) == "AUTHORIZATION_ERROR: MORE_RETRY_TIMES"
    assert get_token(lite_form(kyc_bank), REMOTE_ADDR="198.51.100.20").status_code == 200


def test_get_token_is_post_only(client):
    response = client.get(GET_TOKEN)
    assert (response.status_code, error_of(response)) == (404, "API_NOT_FOUND")


# ----------------------------------------------------------------------------- get_result


def test_get_result_of_a_fresh_token_is_not_started_and_not_counted(issued, get_result):
    body, lite = issued(biz_no="loan-2", biz_extra_data="{\"shop\": 7}")
    for _ in range(5):   # polling before the result exists spends none of its reads
        response = get_result(body["biz_id"])
        assert response.status_code == 200, response.content
        result = response.json()
        assert set(result) == {"request_id", "time_used", "status", "biz_info"}
        assert result["status"] == "NOT_STARTED"
        assert result["biz_info"] == {"biz_id": body["biz_id"], "biz_no": "loan-2",
                                      "biz_extra_data": "{\"shop\": 7}"}
    lite.refresh_from_db()
    assert lite.result_reads == 0


def test_get_result_is_processing_once_the_capture_has_its_challenge(issued, get_result, client):
    body, lite = issued(liveness_type="still")
    started = client.post(START, {"biz_token": lite.biz_token_record.biz_token})
    assert started.status_code == 200, started.content
    assert get_result(body["biz_id"]).json()["status"] == "PROCESSING"


def test_get_result_settles_a_lost_session_and_limits_reads_to_three(issued, get_result,
                                                                      kyc_bank):
    """Redis lost the session: get_result settles it as verify would (the existing record,
    BIZ_TOKEN_DENIED, the call given back); the final result is read three times, no more."""
    body, lite = issued()
    biz_token = lite.biz_token_record.biz_token
    session_delete(biz_token=biz_token)
    for _ in range(3):
        result = get_result(body["biz_id"]).json()
        assert result["status"] == "FAILED"
        assert (result["result_code"], result["result_message"]) == (4200, "BIZ_TOKEN_DENIED")
    assert VerificationRecord.objects.filter(biz_token=biz_token).count() == 1
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 0
    fourth = get_result(body["biz_id"])
    assert (fourth.status_code, error_of(fourth)) == (403, "AUTHORIZATION_ERROR: MORE_RETRY_TIMES")
    lite.refresh_from_db()
    assert lite.result_reads == 3


@pytest.mark.parametrize("expires_in", [
    timedelta(seconds=-1),
    timedelta(seconds=30),    # Redis let it go a moment before the record's expiry: not lost
])
def test_get_result_of_a_session_that_expired_unused_is_overtime(issued, get_result, kyc_bank,
                                                                 expires_in):
    body, lite = issued()
    BizTokenRecord.objects.filter(pk=lite.biz_token_record.pk).update(
        expires_at=timezone.now() + expires_in)
    session_delete(biz_token=lite.biz_token_record.biz_token)   # as Redis' own TTL would
    result = get_result(body["biz_id"]).json()
    assert (result["status"], result["result_code"], result["result_message"]) == (
        "FAILED", 9200, "LIVING_OVERTIME")
    assert not VerificationRecord.objects.exists()
    assert ApiApp.objects.get(pk=kyc_bank.app.pk).calls_used == 1   # the call stands


def test_get_result_is_kept_one_day(issued, get_result):
    body, lite = issued()
    LiteToken.objects.filter(pk=lite.pk).update(
        created_at=lite.created_at - timedelta(days=1) + timedelta(seconds=30))
    assert get_result(body["biz_id"]).json()["status"] == "NOT_STARTED"
    LiteToken.objects.filter(pk=lite.pk).update(created_at=lite.created_at - timedelta(days=1))
    gone = get_result(body["biz_id"])
    assert (gone.status_code, error_of(gone)) == (400, "BAD_ARGUMENTS: biz_id")


def test_get_result_refusals(issued, get_result, make_tenant, client):
    body, _ = issued()
    other = make_tenant()
    cases = [
        (get_result(f"{int(time.time())},{uuid.uuid4()}"), 400, "BAD_ARGUMENTS: biz_id"),
        (get_result(body["biz_id"], tenant=other), 400, "BAD_ARGUMENTS: biz_id"),
        (get_result(body["biz_id"] + "x" * 100), 400, "BAD_ARGUMENTS: biz_id"),
        (get_result(None), 400, "MISSING_ARGUMENTS: biz_id"),
        (get_result(body["biz_id"], return_image="2"), 400, "BAD_ARGUMENTS: return_image"),
        (get_result(body["biz_id"], api_secret="guess"), 403,
         "AUTHORIZATION_ERROR: INVALID_SIGN"),
        (get_result(body["biz_id"], api_key=None), 400, "MISSING_ARGUMENTS: api_key"),
        (get_result(body["biz_id"] + "\x00"), 400, "BAD_ARGUMENTS: biz_id"),
        (client.post(GET_RESULT, {"biz_id": body["biz_id"]}), 404, "API_NOT_FOUND"),
    ]
    for response, status, error in cases:
        assert (response.status_code, error_of(response)) == (status, error)


def test_get_result_wrong_secrets_are_counted_by_the_throttle(issued, get_result, settings):
    body, _ = issued()
    client = redis_client()
    for key in client.scan_iter(match=redis_key("auth-failures", "*")):
        client.delete(key)
    settings.AUTH_FAILURES_PER_WINDOW = 2
    attacker = "203.0.113.10"
    for _ in range(2):
        wrong = get_result(body["biz_id"], api_secret="guess", REMOTE_ADDR=attacker)
        assert error_of(wrong) == "AUTHORIZATION_ERROR: INVALID_SIGN"
    assert error_of(get_result(body["biz_id"], REMOTE_ADDR=attacker)) == \
        "AUTHORIZATION_ERROR: MORE_RETRY_TIMES"


def test_get_result_after_the_real_verify(acme, post_form, client, get_result):
    """The wrapped session verified by verify's own code path (the SDK's start and package,
    the models on a worker): get_result reports it, image_best only when asked."""
    form = lite_form(acme, comparison_type="0", idcard_name=None, idcard_number=None,
                     uuid="user-42", liveness_type="still", biz_no="loan-3",
                     image_ref1=("ref.jpg", face_image("obama3.jpg"), "image/jpeg"))
    issued_body = post_form(form, path=GET_TOKEN).json()
    lite = LiteToken.objects.select_related("biz_token_record").get(biz_id=issued_body["biz_id"])
    biz_token = lite.biz_token_record.biz_token
    started = client.post(START, {"biz_token": biz_token}).json()
    package = capture(started, face=load_rgb(PHOTOS / "obama.jpg"), seed=1)
    verified = client.post(VERIFY, {"sign": acme.sign(), "sign_version": "hmac_sha1",
                                    "biz_token": biz_token,
                                    "meglive_data": SimpleUploadedFile("meglive_data", package)})
    assert verified.json()["result_message"] == "SUCCESS", verified.content

    result = get_result(issued_body["biz_id"], tenant=acme).json()
    assert (result["status"], result["result_code"], result["result_message"]) == (
        "OK", 1000, "SUCCESS")
    assert result["biz_info"]["biz_no"] == "loan-3"
    ref1 = result["verification"]["ref1"]
    assert ref1["confidence"] > ref1["thresholds"]["1e-4"]
    assert result["attack_result"]["result"] is False and "images" not in result
    with_image = get_result(issued_body["biz_id"], tenant=acme, return_image="1").json()
    assert base64.b64decode(with_image["images"]["image_best"])[:2] == b"\xff\xd8"
