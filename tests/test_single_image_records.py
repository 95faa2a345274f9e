"""The record of each single-image call, every app's usage, and the operator's searches in the
admin: real PostgreSQL, Redis and, where a call reaches the models, a real Celery worker."""

import json
from datetime import UTC, datetime, timedelta

import pytest
from django.db import DatabaseError

from apps.faceid.models import BizTokenRecord, VerificationRecord
from apps.single_image.models import SingleImageCall

from .conftest import still_form
from .test_single_image import BIO, IMAGE, LIVENESS, b64, bio_body, no_face_jpeg, photo_bytes

FACE = photo_bytes("obama.jpg")
REQUESTS = {                      # path -> (contract, a body with a face)
    BIO: ("000", bio_body(FACE)),
    LIVENESS: ("001", {"image_base64": b64(FACE)}),
    IMAGE: ("002", {"image": b64(FACE)}),
}


@pytest.fixture
def tenant(make_tenant):
    return make_tenant(name="records-client")


def send(client, path: str, body: dict, app_code: str):
    return client.post(path, json.dumps(body), content_type="application/json",
                       HTTP_AUTHORIZATION=f"APPCODE {app_code}")


@pytest.mark.usefixtures("celery_worker")
@pytest.mark.parametrize("path", list(REQUESTS))
def test_each_contract_leaves_one_record_of_its_verdict(client, tenant, path):
    contract, body = REQUESTS[path]
    response = send(client, path, body, tenant.app_code)
    assert response.status_code == 200
    answer = response.json()

    record = SingleImageCall.objects.get(app=tenant.app)
    assert record.contract == contract and record.request_id == response["X-Request-Id"]
    assert record.verdict in ("live", "attack") and record.duration_ms > 0
    assert record.client_ip == "127.0.0.1" and record.detail == ""
    assert record.live_probability is not None and record.threshold is not None
    assert (record.verdict == "live") is (record.live_probability >= record.threshold)
    assert (record.attack_species == "") is (record.verdict == "live")
    if contract == "000":      # the client's own request_id is the one its answer carries
        assert record.client_request_id == answer["request_id"] == "123478901234"
        assert answer["data"]["is_alive"] is (record.verdict == "live")
    elif contract == "001":
        assert record.request_id == answer["request_id"]
        assert answer["data"]["is_live"] is (record.verdict == "live")
        assert answer["data"]["risk_reason"] == record.attack_species


@pytest.mark.usefixtures("celery_worker")
def test_seed001_records_the_callers_thresh_on_our_scale(client, tenant):
    answer = send(client, LIVENESS, {"image_base64": b64(FACE), "thresh": 1.0},
                  tenant.app_code).json()
    assert answer["data"]["is_live"] is False           # nothing scores above 1.0
    record = SingleImageCall.objects.get(app=tenant.app)
    assert record.verdict == "attack" and record.threshold == pytest.approx(1.0)


@pytest.mark.usefixtures("celery_worker")
def test_a_picture_without_a_face_is_recorded_as_no_face(client, tenant):
    assert send(client, BIO, bio_body(no_face_jpeg()), tenant.app_code).json()["code"] == "200000"
    assert send(client, LIVENESS, {"image_base64": b64(no_face_jpeg())},
                tenant.app_code).json()["code"] == 4002
    records = SingleImageCall.objects.filter(app=tenant.app).order_by("created_at")
    assert [(r.contract, r.verdict, r.live_probability) for r in records] == [
        ("000", "no_face", None), ("001", "no_face", None)]


def test_refusals_after_authentication_are_recorded_and_before_it_not(client, make_tenant):
    stranger = send(client, LIVENESS, {"image_base64": b64(FACE)}, "0" * 32)
    assert stranger.status_code == 401
    assert not SingleImageCall.objects.exists()        # no app to file it under

    fenced = make_tenant(allowed_networks="10.9.0.0/16")
    assert send(client, IMAGE, {"image": b64(FACE)}, fenced.app_code).status_code == 403
    malformed = make_tenant()
    assert send(client, BIO, {"file": {}}, malformed.app_code).json()["code"] == "200006"
    assert [(r.app_id, r.contract, r.verdict, r.live_probability) for r in
            SingleImageCall.objects.order_by("created_at")] == [
        (fenced.app.pk, "002", "forbidden", None), (malformed.app.pk, "000", "bad_request", None)]


@pytest.mark.usefixtures("celery_worker")
def test_a_failed_record_write_does_not_change_the_answer(client, tenant, monkeypatch):
    def refuse(*args, **kwargs):
        raise DatabaseError("the table is gone")

    monkeypatch.setattr(SingleImageCall.objects, "create", refuse)
    response = send(client, LIVENESS, {"image_base64": b64(FACE)}, tenant.app_code)
    assert response.status_code == 200 and response.json()["code"] in (200, 4004)
    monkeypatch.undo()
    assert not SingleImageCall.objects.exists()
    tenant.app.refresh_from_db()
    assert tenant.app.calls_used == 1                  # the call itself still counted


@pytest.mark.usefixtures("celery_worker")
def test_an_app_without_a_quota_counts_its_calls(client, tenant, post_form, staff_client):
    assert tenant.app.call_quota is None
    for _ in range(3):
        assert send(client, IMAGE, {"image": b64(no_face_jpeg())}, tenant.app_code).json()[
            "code"] == 2                               # no face, but it reached the models
    for _ in range(2):
        assert "biz_token" in post_form(still_form(tenant)).json()
    send(client, BIO, {"file": {}}, tenant.app_code)   # refused before the models: not counted
    tenant.app.refresh_from_db()
    assert tenant.app.calls_used == 5

    page = staff_client.get("/admin/tenants/apiapp/", {"q": tenant.app.name})
    assert "5 / no quota" in page.content.decode()


def _call(app, **fields) -> SingleImageCall:
    values = {"contract": "001", "request_id": "1700000000,aaaa", "verdict": "live",
              "live_probability": 0.9, "threshold": 0.5, "duration_ms": 40, **fields}
    return SingleImageCall.objects.create(app=app, **values)


def _found(page) -> list:
    assert page.status_code == 200
    return list(page.context["cl"].result_list)


def test_admin_finds_a_call_by_either_request_id_and_filters(staff_client, make_tenant):
    bank, shop = make_tenant(name="bank"), make_tenant(name="shop")
    ours = _call(bank.app, request_id="1700000000,1111")
    theirs = _call(shop.app, contract="000", request_id="1700000000,2222",
                   client_request_id="order-77", verdict="attack", attack_species="replay")
    faceless = _call(bank.app, contract="002", request_id="1700000000,3333", verdict="no_face",
                     live_probability=None, threshold=None)
    url = "/admin/single_image/singleimagecall/"

    assert _found(staff_client.get(url, {"q": "1700000000,1111"})) == [ours]
    assert _found(staff_client.get(url, {"q": "order-77"})) == [theirs]
    assert _found(staff_client.get(url, {"q": "1700000000"})) == []     # whole ids only
    assert _found(staff_client.get(url, {"verdict": "attack"})) == [theirs]
    assert _found(staff_client.get(url, {"contract": "002"})) == [faceless]
    assert set(_found(staff_client.get(url, {"app__id__exact": bank.app.pk}))) == {ours, faceless}
    tomorrow = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    assert _found(staff_client.get(url, {"created_at__gte": tomorrow})) == []
    assert staff_client.get(f"{url}{ours.pk}/change/").status_code == 200
    assert staff_client.post(f"{url}{ours.pk}/delete/").status_code == 403


def test_admin_finds_faceid_records_by_the_users_uuid(staff_client, acme):
    now = datetime.now(UTC)
    for token, uuid in (("token-a", "user-42"), ("token-b", "user-7")):
        BizTokenRecord.objects.create(
            biz_token=token, app=acme.app, request_id=f"r-{token}", liveness_type="still",
            comparison_type="0", uuid=uuid, created_at=now, expires_at=now + timedelta(hours=1),
            consumed_at=now)
        VerificationRecord.objects.create(
            biz_token=token, app=acme.app, request_id=f"v-{token}", liveness_type="still",
            comparison_type="0", result_code=1000, result_message="SUCCESS")

    tokens = _found(staff_client.get("/admin/faceid/biztokenrecord/", {"q": "user-42"}))
    assert [record.biz_token for record in tokens] == ["token-a"]
    verifications = _found(staff_client.get("/admin/faceid/verificationrecord/",
                                            {"q": "user-42"}))
    assert [record.biz_token for record in verifications] == ["token-a"]
    by_request = _found(staff_client.get("/admin/faceid/verificationrecord/", {"q": "v-token-b"}))
    assert [record.biz_token for record in by_request] == ["token-b"]
