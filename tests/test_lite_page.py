"""FaceID Lite's capture page on the server (docs/WEB.md, slice 3): the page served once, its
start and verify through the SDK's own code, the way back to return_url. Django's test client
with real PostgreSQL and Redis; the verification that runs the models runs on a real worker.
The page's JavaScript in a real browser: tests/test_lite_browser.py."""

import json
import re
import uuid
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from apps.faceid.models import BizTokenRecord, LiteToken, VerificationRecord
from apps.faceid.sessions import session_delete, session_read
from liveness_sdk.client import capture
from ml.image import load_rgb

from .images import PHOTOS, face_image, image_bytes
from .test_lite import get_result, get_token, kyc_bank, lite_form  # noqa: F401 - fixtures

PAGE = "/faceid/lite/do"
PAGE_START = "/faceid/lite/page/start"
PAGE_VERIFY = "/faceid/lite/page/verify"


def page_config(response) -> dict:
    """The configuration the page's script reads (json_script)."""
    found = re.search(rb'<script id="lite-config" type="application/json">(.*?)</script>',
                      response.content, re.S)
    assert found, response.content[:500]
    return json.loads(found.group(1))


@pytest.fixture
def lite_page(get_token, kyc_bank, client):  # noqa: F811 - pytest's fixture injection
    """Issues a Lite token of kyc_bank and loads its page: (the LiteToken, the page's config)."""

    def issue_and_open(tenant=None, remote_addr="127.0.0.1", **overrides):
        response = get_token(lite_form(tenant or kyc_bank, **overrides), REMOTE_ADDR=remote_addr)
        assert response.status_code == 200, response.content
        body = response.json()
        page = client.get(PAGE, {"token": body["token"]})
        assert page.status_code == 200, page.content[:500]
        return (LiteToken.objects.select_related("biz_token_record").get(biz_id=body["biz_id"]),
                page_config(page))

    return issue_and_open


def page_post(client, path: str, page_key: str, **fields):
    return client.post(path, {"page_key": page_key, **fields})


# ----------------------------------------------------------------------------- the page


def test_the_page_is_served_once_and_a_replay_is_refused(get_token, kyc_bank, client):  # noqa: F811
    body = get_token(lite_form(kyc_bank, web_title="开户验证", liveness_type="still")).json()

    page = client.get(PAGE, {"token": body["token"]})
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
    html = page.content.decode()
    assert "<title>开户验证</title>" in html and 'id="video"' in html and 'id="guide"' in html
    assert "getUserMedia" in html and "MGLV1." in html      # the script is in the page itself
    assert page["Cache-Control"] == "no-store" and page["Referrer-Policy"] == "no-referrer"
    config = page_config(page)
    assert config["liveness_type"] == "still"
    assert (config["start_url"], config["verify_url"]) == (PAGE_START, PAGE_VERIFY)
    # the token opened the page; the page key is a credential of its own, never the token's
    lite = LiteToken.objects.get(biz_id=body["biz_id"])
    assert lite.token_used_at is not None and lite.page_key_digest
    assert config["page_key"] != body["token"]
    assert body["token"] not in html

    replay = client.get(PAGE, {"token": body["token"]})
    assert replay.status_code == 410
    assert "already been used" in replay.content.decode()
    assert "lite-config" not in replay.content.decode()     # no page key for a replay
    assert LiteToken.objects.get(pk=lite.pk).page_key_digest == lite.page_key_digest


def test_a_wrong_or_expired_token_gets_no_page(get_token, kyc_bank, client):  # noqa: F811
    for query in ({}, {"token": ""}, {"token": "not-a-token"}, {"token": "x" * 5000}):
        refused = client.get(PAGE, query)
        assert refused.status_code == 404, query
        assert "not valid or has expired" in refused.content.decode()
    body = get_token(lite_form(kyc_bank)).json()
    LiteToken.objects.filter(biz_id=body["biz_id"]).update(
        expires_at=timezone.now() - timedelta(seconds=1))
    assert client.get(PAGE, {"token": body["token"]}).status_code == 404
    assert client.post(PAGE, {"token": body["token"]}).status_code == 405


def test_action_http_method_is_get_post_or_refused(get_token, kyc_bank):  # noqa: F811
    for method in ("GET", "POST"):
        body = get_token(lite_form(kyc_bank, action_http_method=method)).json()
        assert LiteToken.objects.get(biz_id=body["biz_id"]).action_http_method == method
    body = get_token(lite_form(kyc_bank)).json()
    assert LiteToken.objects.get(biz_id=body["biz_id"]).action_http_method == "GET"
    refused = get_token(lite_form(kyc_bank, action_http_method="PUT"))
    assert refused.status_code == 400
    assert refused.json()["error"] == "BAD_ARGUMENTS: action_http_method"


# ----------------------------------------------------------------------------- start


def test_the_page_starts_with_the_sdks_challenge_and_its_attempt_limit(lite_page, client,
                                                                      get_result):  # noqa: F811
    lite, config = lite_page(liveness_type="flash")

    first = page_post(client, PAGE_START, config["page_key"])
    assert first.status_code == 200, first.content
    started = first.json()
    assert started["biz_token"] == lite.biz_token_record.biz_token
    assert started["challenge"]["liveness_type"] == "flash" and started["challenge"]["colours"]
    assert (started["attempt"], started["attempts_left"], started["package_version"]) == (1, 2, 1)
    assert session_read(biz_token=started["biz_token"]).challenge == started["challenge"]
    assert get_result(lite.biz_id).json()["status"] == "PROCESSING"

    assert page_post(client, PAGE_START, config["page_key"]).json()["attempt"] == 2
    assert page_post(client, PAGE_START, config["page_key"]).json()["attempts_left"] == 0
    past = page_post(client, PAGE_START, config["page_key"])
    assert past.status_code == 403
    assert past.json()["error"] == "AUTHORIZATION_ERROR: MORE_RETRY_TIMES"


def test_the_page_calls_need_the_page_key(lite_page, client):
    lite_page()
    missing = client.post(PAGE_START, {})
    assert missing.status_code == 400
    assert set(missing.json()) == {"request_id", "time_used", "error"}
    assert missing.json()["error"] == "MISSING_ARGUMENTS: page_key"
    for path in (PAGE_START, PAGE_VERIFY):
        wrong = page_post(client, path, "not-the-page-key", meglive_data="MGLV1.x.y")
        assert wrong.status_code == 403, path
        assert wrong.json()["error"] == "AUTHORIZATION_ERROR: INVALID_SIGN"
    assert client.get(PAGE_START).json()["error"] == "API_NOT_FOUND"


def test_the_browser_is_not_held_to_the_apps_server_networks(make_tenant, lite_page, client):
    """An app that lets only its servers' network call: get_token must come from there, the
    page is the user's browser anywhere; the SDK's verify keeps the networks (test_verify.py)."""
    bank = make_tenant(can_use_data_source=True, allowed_networks="10.0.0.0/8")
    lite, config = lite_page(tenant=bank, remote_addr="10.1.2.3")
    started = client.post(PAGE_START, {"page_key": config["page_key"]},
                          REMOTE_ADDR="203.0.113.9")
    assert started.status_code == 200, started.content
    sdk_verify = client.post("/faceid/v3/sdk/verify", {
        "sign": bank.sign(), "sign_version": "hmac_sha1",
        "biz_token": lite.biz_token_record.biz_token, "meglive_data": "MGLV1.x.y"})
    assert sdk_verify.json()["error"] == "AUTHORIZATION_ERROR: IP_NOT_ALLOWED"


# ----------------------------------------------------------------------------- verify


def test_a_bad_upload_is_refused_in_the_contracts_format_and_the_session_stays(lite_page,
                                                                              client):
    lite, config = lite_page(liveness_type="still")
    started = page_post(client, PAGE_START, config["page_key"]).json()
    biz_token = lite.biz_token_record.biz_token

    missing = page_post(client, PAGE_VERIFY, config["page_key"])
    assert (missing.status_code, missing.json()["error"]) == (400, "MISSING_ARGUMENTS: meglive_data")
    for upload in (b"not a package", b"MGLV1.e30.AAAA"):
        refused = page_post(client, PAGE_VERIFY, config["page_key"],
                            meglive_data=SimpleUploadedFile("meglive_data", upload))
        assert refused.status_code == 400
        assert set(refused.json()) == {"request_id", "time_used", "error"}
        assert refused.json()["error"] == "MEGLIVE_DATA_ERROR"
    # a package sealed for this challenge but of a broken frame is verify's refusal too
    broken = capture(started, frames=[(0.0, b"\xff\xd8 not a jpeg")])
    refused = page_post(client, PAGE_VERIFY, config["page_key"],
                        meglive_data=SimpleUploadedFile("meglive_data", broken))
    assert refused.json()["error"] == "MEGLIVE_DATA_ERROR"
    assert session_read(biz_token=biz_token) is not None          # the user may try again
    assert not VerificationRecord.objects.filter(biz_token=biz_token).exists()


def test_a_package_of_an_earlier_attempt_is_not_done(lite_page, client):
    _, config = lite_page(liveness_type="still")
    earlier = page_post(client, PAGE_START, config["page_key"]).json()
    page_post(client, PAGE_START, config["page_key"])
    package = capture(earlier, frames=[(0.0, image_bytes())])
    answer = page_post(client, PAGE_VERIFY, config["page_key"],
                       meglive_data=SimpleUploadedFile("meglive_data", package))
    assert answer.status_code == 200, answer.content
    assert {k: v for k, v in answer.json().items() if k not in ("request_id", "time_used")} == {
        "done": False}


def test_a_session_that_ended_is_done_and_posts_back(lite_page, client, get_result):  # noqa: F811
    """Redis lost the session: verify's code settles it (BIZ_TOKEN_DENIED), the page is done
    and goes back to return_url by POST, as action_http_method asks."""
    lite, config = lite_page(liveness_type="still", action_http_method="POST",
                             return_url="https://bank.example/lite/done?step=2", biz_no="loan-9")
    started = page_post(client, PAGE_START, config["page_key"]).json()
    package = capture(started, frames=[(0.0, image_bytes())])
    session_delete(biz_token=lite.biz_token_record.biz_token)

    answer = page_post(client, PAGE_VERIFY, config["page_key"],
                       meglive_data=SimpleUploadedFile("meglive_data", package)).json()
    assert answer["done"] is True
    assert answer["return"] == {"method": "POST", "url": "https://bank.example/lite/done?step=2",
                                "fields": {"biz_id": lite.biz_id, "biz_no": "loan-9"}}
    assert VerificationRecord.objects.get(
        biz_token=lite.biz_token_record.biz_token).result_message == "BIZ_TOKEN_DENIED"
    assert get_result(lite.biz_id).json()["status"] == "FAILED"
    assert LiteToken.objects.get(pk=lite.pk).notify_state == LiteToken.NotifyState.PENDING


def test_a_live_capture_through_the_page_is_verified_on_the_workers(acme, post_form, client):
    """The page's start and verify run the SDK's start and verify's own code: the models on
    the worker, the VerificationRecord, the callback due. The browser learns "done" and the
    way back (GET: biz_id and biz_no added to return_url's query), never the verdict."""
    form = lite_form(acme, comparison_type="0", idcard_name=None, idcard_number=None,
                     uuid="user-42", liveness_type="still", biz_no=f"loan-{uuid.uuid4()}",
                     return_url="https://bank.example/lite/done?shop=7",
                     image_ref1=("ref.jpg", face_image("obama3.jpg"), "image/jpeg"))
    body = post_form(form, path="/faceid/lite/get_token").json()
    config = page_config(client.get(PAGE, {"token": body["token"]}))
    started = page_post(client, PAGE_START, config["page_key"]).json()
    package = capture(started, face=load_rgb(PHOTOS / "obama.jpg"), seed=1)

    answer = page_post(client, PAGE_VERIFY, config["page_key"],
                       meglive_data=SimpleUploadedFile("meglive_data", package))
    assert answer.status_code == 200, answer.content
    assert set(answer.json()) == {"request_id", "time_used", "done", "return"}
    way = answer.json()["return"]
    assert way["method"] == "GET" and way["fields"] == {}
    parts = urlsplit(way["url"])
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "bank.example", "/lite/done")
    assert parse_qs(parts.query) == {"shop": ["7"], "biz_id": [body["biz_id"]],
                                     "biz_no": [form["biz_no"]]}
    lite = LiteToken.objects.select_related("biz_token_record").get(biz_id=body["biz_id"])
    record = VerificationRecord.objects.get(biz_token=lite.biz_token_record.biz_token)
    assert (record.result_code, record.result_message) == (1000, "SUCCESS")
    assert BizTokenRecord.objects.get(pk=lite.biz_token_record.pk).consumed_at is not None
    assert lite.notify_state == LiteToken.NotifyState.PENDING
    # the session is over: a second upload is refused as verify refuses a used token
    again = page_post(client, PAGE_VERIFY, config["page_key"],
                      meglive_data=SimpleUploadedFile("meglive_data", package))
    assert again.json()["done"] is True
    assert VerificationRecord.objects.filter(biz_token=record.biz_token).count() == 1
