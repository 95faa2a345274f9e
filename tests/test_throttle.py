"""Failed authentication throttled per source (issue 12, item 11; apps/tenants/throttle.py), on
the FaceID surface and the single-image APIs, through Django and the shared Redis."""

import json
import time

import pytest

from apps.core.redis import redis_client, redis_key

from .conftest import still_form
from .vendor_client import vendor_sign

LIMIT = 5
ATTACKER, BANK, OFFICE = "203.0.113.7", "198.51.100.20", "10.1.2.3"
LIVENESS = "/api/face_liveness/v1"


@pytest.fixture(autouse=True)
def small_limit(settings):
    """A small limit, and no count left from another test (they share the window)."""
    client = redis_client()
    for key in client.scan_iter(match=redis_key("auth-failures", "*")):
        client.delete(key)
    settings.AUTH_FAILURES_PER_WINDOW = LIMIT
    settings.AUTH_FAILURE_WINDOW_SECONDS = 60
    settings.AUTH_THROTTLE_EXEMPT_NETWORKS = ["10.1.0.0/16"]
    return settings


def error_of(response) -> str:
    return response.json()["error"]


def faceid(post_form, tenant, source, **sign_options):
    """get_biz_token with an unknown liveness_type: a caller that got past the guard is
    answered BAD_ARGUMENTS (no worker needed to tell)."""
    form = still_form(tenant, liveness_type="nonsense", **(
        {"sign": vendor_sign(tenant.api_key, tenant.api_secret, **sign_options)}
        if sign_options else {}))
    return post_form(form, REMOTE_ADDR=source)


def test_faceid_a_guessing_source_is_refused_before_its_credentials_are_read(acme, post_form):
    for _ in range(LIMIT):
        wrong = post_form(still_form(acme, sign=vendor_sign(acme.api_key, "guess")),
                          REMOTE_ADDR=ATTACKER)
        assert error_of(wrong) == "AUTHORIZATION_ERROR: INVALID_SIGN"
    # from now on even a right signature from that source is refused, unread
    assert error_of(faceid(post_form, acme, ATTACKER)) == "AUTHORIZATION_ERROR: MORE_RETRY_TIMES"
    # the bank's own servers, elsewhere, are not locked out
    assert error_of(faceid(post_form, acme, BANK)) == "BAD_ARGUMENTS: liveness_type"


def test_faceid_expired_signatures_are_not_counted(acme, post_form):
    now = int(time.time())
    for _ in range(LIMIT + 3):
        old = faceid(post_form, acme, ATTACKER, current_time=now - 100, expire_time=now - 10)
        assert error_of(old) == "AUTHORIZATION_ERROR: EXPIRED_SIGN"
    assert error_of(faceid(post_form, acme, ATTACKER)) == "BAD_ARGUMENTS: liveness_type"


def test_an_exempt_network_is_never_throttled(acme, post_form):
    for _ in range(LIMIT + 3):
        wrong = post_form(still_form(acme, sign=vendor_sign(acme.api_key, "guess")),
                          REMOTE_ADDR=OFFICE)
        assert error_of(wrong) == "AUTHORIZATION_ERROR: INVALID_SIGN"
    assert error_of(faceid(post_form, acme, OFFICE)) == "BAD_ARGUMENTS: liveness_type"


def test_the_throttle_ends_with_its_window(acme, post_form, small_limit):
    small_limit.AUTH_FAILURE_WINDOW_SECONDS = 2
    time.sleep(2 - time.time() % 2 + 0.05)          # start at the beginning of a window
    for _ in range(LIMIT):
        post_form(still_form(acme, sign=vendor_sign(acme.api_key, "guess")), REMOTE_ADDR=ATTACKER)
    assert error_of(faceid(post_form, acme, ATTACKER)) == "AUTHORIZATION_ERROR: MORE_RETRY_TIMES"
    time.sleep(2 - time.time() % 2 + 0.05)
    assert error_of(faceid(post_form, acme, ATTACKER)) == "BAD_ARGUMENTS: liveness_type"


def test_single_image_wrong_appcodes_are_throttled_in_the_contracts_format(client, make_tenant):
    tenant = make_tenant(name="throttled-single-image")

    def send(code, source):
        return client.post(LIVENESS, json.dumps({"image_base64": "not a picture"}),
                           content_type="application/json", REMOTE_ADDR=source,
                           HTTP_AUTHORIZATION=f"APPCODE {code}")

    for n in range(LIMIT):
        wrong = send(f"guess-{n}", ATTACKER)
        assert wrong.status_code == 401 and wrong.json()["code"] == 401
    throttled = send(tenant.app_code, ATTACKER)
    assert throttled.status_code == 429
    assert throttled.json()["code"] == 429 and throttled.json()["success"] is False
    # another source with the right APPCODE gets past authentication to the picture check
    assert send(tenant.app_code, BANK).json()["code"] == 4001
