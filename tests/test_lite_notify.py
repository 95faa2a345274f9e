"""FaceID Lite's notify_url callback (docs/WEB.md): delivered by a real Celery worker on the test
database to a receiver these tests run on 127.0.0.1, with real PostgreSQL and Redis.

The callback worker runs on a queue of its own, configured as a deployment would be through
its environment: loopback allowed (LITE_NOTIFY_ALLOWED_NETWORKS), four attempts and a backoff
of a fraction of a second, so a whole retry schedule runs in seconds. Only the first test runs
the models (the shared model worker), to get a verification the real way."""

import hashlib
import json
import socket
import time
import uuid
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.core.embedded import free_port
from apps.faceid.lite import lite_notify_deliver, lite_notify_sweep
from apps.faceid.models import BizTokenRecord, LiteToken
from apps.faceid.sessions import session_delete
from apps.faceid.verification import lost_sessions_sweep
from liveness_sdk.client import capture
from ml.image import load_rgb

from .conftest import _server_env, start_celery_worker, wait_until
from .images import PHOTOS, face_image
from .local_http import form_receiver

GET_TOKEN = "/faceid/lite/get_token"
GET_RESULT = "/faceid/lite/get_result"
NOTIFY_QUEUE = f"test-notify-{uuid.uuid4().hex[:12]}"
WORKER_ATTEMPTS = 4
LOOPBACK = "127.0.0.0/8"
FINAL_STATES = (LiteToken.NotifyState.DELIVERED, LiteToken.NotifyState.FAILED)


@pytest.fixture(scope="module")
def notify_worker(django_db_setup):
    """A Celery worker on the test database that takes only the callbacks' queue (no models)."""
    worker = start_celery_worker(env=_server_env({
        "CELERY_QUEUE": NOTIFY_QUEUE, "LITE_NOTIFY_QUEUE": NOTIFY_QUEUE,
        "ML_WARM_WORKERS": "0", "LITE_NOTIFY_ALLOWED_NETWORKS": LOOPBACK,
        "LITE_NOTIFY_MAX_ATTEMPTS": str(WORKER_ATTEMPTS),
        "LITE_NOTIFY_FIRST_RETRY_SECONDS": "0.2", "LITE_NOTIFY_BACKOFF_FACTOR": "2",
        "LITE_NOTIFY_TIMEOUT_SECONDS": "3"}))
    yield worker
    worker.stop()


@pytest.fixture
def lite_settings(settings):
    """This process issues the tokens: it may accept a loopback notify_url, and queues the
    callbacks where the callback worker takes them."""
    settings.LITE_NOTIFY_ALLOWED_NETWORKS = LOOPBACK
    settings.LITE_NOTIFY_QUEUE = NOTIFY_QUEUE
    return settings


def lite_form(tenant, notify_url: str, **overrides) -> dict:
    """A KYC get_token (no picture, so no model worker), as tests/test_lite.py's."""
    form = {"api_key": tenant.api_key, "api_secret": tenant.api_secret,
            "return_url": "https://bank.example/lite/done", "notify_url": notify_url,
            "biz_no": f"order-{uuid.uuid4()}", "biz_extra_data": '{"shop": "7 & é"}',
            "comparison_type": "1", "idcard_name": "Barack Obama",
            "idcard_number": "11010519491231002X"}
    form.update(overrides)
    return {k: v for k, v in form.items() if v is not None}


def issue(client, form: dict) -> LiteToken:
    payload = {k: (SimpleUploadedFile(v[0], v[1], content_type=v[2])
                   if isinstance(v, tuple) else v) for k, v in form.items()}
    response = client.post(GET_TOKEN, payload)
    assert response.status_code == 200, response.content
    return LiteToken.objects.select_related("biz_token_record").get(
        biz_id=response.json()["biz_id"])


def settled(lite: LiteToken, timeout: float = 30) -> LiteToken:
    """The Lite token once its callback is delivered or failed."""
    def done() -> bool:
        lite.refresh_from_db()
        return lite.notify_state in FINAL_STATES

    wait_until(done, timeout, "the notify to be delivered or failed")
    return lite


def expire_unused(lite: LiteToken) -> None:
    """The session ended unused: its record past expiry (beyond the sweeps' minute of margin)
    and Redis' copy gone, as its TTL would have it."""
    BizTokenRecord.objects.filter(pk=lite.biz_token_record.pk).update(
        expires_at=timezone.now() - timedelta(minutes=2))
    session_delete(biz_token=lite.biz_token_record.biz_token)


def sign_of(secret: str, data: str) -> str:
    return hashlib.sha1((secret + data).encode()).hexdigest()


@pytest.fixture
def kyc_bank(make_tenant):
    return make_tenant(can_use_data_source=True, call_quota=100)


def test_a_verified_lite_session_notifies_once_signed_as_get_result_reads_it(
        transactional_db, notify_worker, lite_settings, make_tenant, post_form, client):
    bank = make_tenant(name="notify-bank")
    with form_receiver() as (base, received):
        form = lite_form(bank, base + "/lite/notify?shop=7", comparison_type="0",
                         idcard_name=None, idcard_number=None, uuid="user-42",
                         liveness_type="still", biz_no="loan-77",
                         image_ref1=("ref.jpg", face_image("obama3.jpg"), "image/jpeg"))
        lite = issue(client, form)
        biz_token = lite.biz_token_record.biz_token
        started = client.post("/faceid/v3/sdk/start", {"biz_token": biz_token}).json()
        package = capture(started, face=load_rgb(PHOTOS / "obama.jpg"), seed=1)
        verified = client.post("/faceid/v3/sdk/verify", {
            "sign": bank.sign(), "sign_version": "hmac_sha1", "biz_token": biz_token,
            "meglive_data": SimpleUploadedFile("meglive_data", package)})
        assert verified.json()["result_message"] == "SUCCESS", verified.content

        settled(lite)
        time.sleep(1)   # long enough for a second notify, were one to come
    assert lite.notify_state == LiteToken.NotifyState.DELIVERED
    assert (lite.notify_attempts, lite.notify_last_error) == (1, "")
    assert len(received) == 1
    notify = received[0]
    assert notify["_path"] == "/lite/notify?shop=7"
    assert notify["sign"] == sign_of(bank.api_secret, notify["data"])
    data = json.loads(notify["data"])
    assert set(data) == {"status", "biz_info", "result_code", "result_message", "verification",
                         "attack_result"}
    assert (data["status"], data["result_code"], data["result_message"]) == (
        "OK", 1000, "SUCCESS")
    assert data["biz_info"] == {"biz_id": lite.biz_id, "biz_no": "loan-77",
                                "biz_extra_data": '{"shop": "7 & é"}'}
    ref1 = data["verification"]["ref1"]
    assert ref1["confidence"] > ref1["thresholds"]["1e-4"]
    assert data["attack_result"]["result"] is False
    result = client.get(GET_RESULT, {"api_key": bank.api_key, "api_secret": bank.api_secret,
                                     "biz_id": lite.biz_id}).json()
    assert {k: v for k, v in result.items() if k not in ("request_id", "time_used")} == data


def test_a_receiver_that_fails_twice_gets_a_third_attempt_and_the_same_form(
        transactional_db, notify_worker, lite_settings, kyc_bank, client):
    with form_receiver([500, 503, 200]) as (base, received):
        lite = issue(client, lite_form(kyc_bank, base + "/notify"))
        session_delete(biz_token=lite.biz_token_record.biz_token)   # Redis lost it
        assert lost_sessions_sweep() == 1      # settled as verify would: a FAILED result
        settled(lite)
    assert (lite.notify_state, lite.notify_attempts) == (LiteToken.NotifyState.DELIVERED, 3)
    assert lite.notify_last_error == "" and lite.notify_next_attempt_at is None
    assert len(received) == 3
    assert len({(r["data"], r["sign"]) for r in received}) == 1     # the same form each time
    data = json.loads(received[0]["data"])
    assert (data["status"], data["result_code"], data["result_message"]) == (
        "FAILED", 4200, "BIZ_TOKEN_DENIED")
    assert received[0]["sign"] == sign_of(kyc_bank.api_secret, received[0]["data"])


def test_a_receiver_that_is_down_ends_failed_and_the_admin_shows_it(
        transactional_db, notify_worker, lite_settings, kyc_bank, client):
    lite = issue(client, lite_form(kyc_bank, f"http://127.0.0.1:{free_port()}/notify"))
    began = time.monotonic()
    expire_unused(lite)
    assert lite_notify_sweep() == 1
    settled(lite)
    # 4 attempts, 0.2 + 0.4 + 0.8 s apart
    assert time.monotonic() - began > 1.4
    assert (lite.notify_state, lite.notify_attempts) == (LiteToken.NotifyState.FAILED,
                                                         WORKER_ATTEMPTS)
    assert "ConnectionRefusedError" in lite.notify_last_error
    assert lite.notify_next_attempt_at is None

    user = get_user_model().objects.create_superuser("root", "root@example.com", "pw-12345678")
    client.force_login(user)
    page = client.get("/admin/faceid/litetoken/", {"notify_state__exact": "failed"})
    assert page.status_code == 200
    text = page.content.decode()
    assert lite.biz_id in text and "ConnectionRefusedError" in text
    assert client.get("/admin/faceid/litetoken/", {"notify_state__exact": "delivered"}
                      ).content.decode().count(lite.biz_id) == 0


def test_a_lite_session_that_expired_unused_notifies_failed_once(
        transactional_db, notify_worker, lite_settings, kyc_bank, client):
    with form_receiver() as (base, received):
        lite = issue(client, lite_form(kyc_bank, base + "/notify", biz_no="loan-78"))
        waiting = issue(client, lite_form(kyc_bank, base + "/notify"))   # still running
        assert lite_notify_sweep() == 0
        expire_unused(lite)
        assert lite_notify_sweep() == 1
        settled(lite)
        assert lite_notify_sweep() == 0                                    # once
    assert (lite.notify_state, lite.notify_attempts) == (LiteToken.NotifyState.DELIVERED, 1)
    assert len(received) == 1
    data = json.loads(received[0]["data"])
    assert data == {"status": "FAILED", "result_code": 9200, "result_message": "LIVING_OVERTIME",
                    "biz_info": {"biz_id": lite.biz_id, "biz_no": "loan-78",
                                 "biz_extra_data": '{"shop": "7 & é"}'}}
    waiting.refresh_from_db()
    assert waiting.notify_state == LiteToken.NotifyState.WAITING


def test_a_notify_url_that_leads_to_a_private_address_at_delivery_is_not_called(
        kyc_bank, client, monkeypatch):
    """Public when get_token resolved it, private an hour later (DNS changed): the delivery
    checks again, connects nowhere, and fails at once with the reason."""
    answers = {"callback.bank.example": "93.184.216.34"}
    real_getaddrinfo = socket.getaddrinfo

    def resolver(host, port, *args, **kwargs):
        if host in answers:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]
        return real_getaddrinfo(host, port, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolver)
    lite = issue(client, lite_form(kyc_bank, "http://callback.bank.example/notify"))
    answers["callback.bank.example"] = "10.0.0.5"
    connected: list = []
    monkeypatch.setattr("apps.core.fetch._connect", lambda *args: connected.append(args))
    expire_unused(lite)
    assert lite_notify_sweep() == 1     # due (its first attempt would be queued on commit)

    assert lite_notify_deliver(lite.pk, 1) == LiteToken.NotifyState.FAILED
    assert lite_notify_deliver(lite.pk, 1) == "skipped"       # a duplicate message: no repeat
    lite.refresh_from_db()
    assert (lite.notify_state, lite.notify_attempts) == (LiteToken.NotifyState.FAILED, 1)
    assert lite.notify_last_error.startswith("refused:")
    assert "10.0.0.5, which is not a public address" in lite.notify_last_error
    assert connected == []


def test_the_sweep_sends_again_an_attempt_whose_message_was_lost(kyc_bank, client,
                                                                 lite_settings, monkeypatch):
    sent: list = []
    monkeypatch.setattr("apps.faceid.lite.lite_notify_send",
                        lambda lite_id, attempt, countdown=0.0: sent.append((lite_id, attempt)))
    lite = issue(client, lite_form(kyc_bank, "http://127.0.0.1:9/notify"))
    LiteToken.objects.filter(pk=lite.pk).update(
        notify_state=LiteToken.NotifyState.PENDING, notify_attempts=2,
        notify_next_attempt_at=timezone.now() - timedelta(minutes=5))
    assert lite_notify_sweep() == 1
    assert sent == [(lite.pk, 3)]
    assert lite_notify_sweep() == 0          # not again until that attempt is overdue too
