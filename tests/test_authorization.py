"""Signatures and the 403 answers of get_biz_token, each with the input that causes it, and the
same guard's answers on every endpoint that acts for an app (verify, get_liveness_video)."""

import base64
import time

import pytest

from apps.tenants.models import ApiApp
from apps.tenants.services import concurrency_slot

from .conftest import GET_BIZ_TOKEN, still_form
from .test_get_biz_token import error_of
from .vendor_client import one_time_sign, vendor_sign


def refused(response) -> str:
    assert response.status_code == 403, response.content
    return error_of(response)


def test_expired_signature(acme, post_form):
    now = int(time.time())
    sign = acme.sign(current_time=now - 200, expire_time=now - 1)
    assert refused(post_form(still_form(acme, sign=sign))) == "AUTHORIZATION_ERROR: EXPIRED_SIGN"


def test_signature_valid_until_its_expire_time(acme, post_form):
    now = int(time.time())
    sign = acme.sign(current_time=now - 3000, expire_time=now + 2)
    assert post_form(still_form(acme, sign=sign)).status_code == 200


def test_multi_use_signature_can_be_reused_until_it_expires(acme, post_form):
    sign = acme.sign(valid_for=600)
    for _ in range(3):
        assert post_form(still_form(acme, sign=sign)).status_code == 200


def _tamper(sign: str, old: bytes, new: bytes) -> str:
    blob = base64.b64decode(sign)
    mac, raw = blob[:20], blob[20:]
    assert old in raw
    return base64.b64encode(mac + raw.replace(old, new, 1)).decode()


@pytest.mark.parametrize("case", ["later_expiry", "flipped_mac", "wrong_secret", "unknown_key",
                                  "not_base64", "urlsafe_alphabet", "no_raw", "garbage_raw",
                                  "future_time", "expire_before_current"])
def test_invalid_signatures(acme, post_form, case):
    now = int(time.time())
    if case == "later_expiry":  # raw edited to live longer; the MAC no longer matches
        sign = acme.sign(current_time=now, expire_time=now + 100)
        sign = _tamper(sign, f"b={now + 100}".encode(), f"b={now + 900}".encode())
    elif case == "flipped_mac":
        blob = bytearray(base64.b64decode(acme.sign()))
        blob[3] ^= 0x01
        sign = base64.b64encode(bytes(blob)).decode()
    elif case == "wrong_secret":
        sign = vendor_sign(acme.api_key, acme.api_secret + "x")
    elif case == "unknown_key":
        sign = vendor_sign("K" * 32, acme.api_secret)
    elif case == "not_base64":
        sign = "%%%not-base64%%%"
    elif case == "urlsafe_alphabet":
        sign = acme.sign()
        while "+" not in sign and "/" not in sign:
            sign = acme.sign()
        sign = sign.replace("+", "-").replace("/", "_")
    elif case == "no_raw":
        sign = base64.b64encode(b"\x01" * 20).decode()
    elif case == "garbage_raw":
        sign = base64.b64encode(b"\x01" * 20 + b"a=key&b=x&c=1&d=2").decode()
    elif case == "future_time":  # created ten minutes from now: not valid yet
        sign = acme.sign(current_time=now + 600, expire_time=now + 900)
    else:
        sign = acme.sign(current_time=now, expire_time=now - 5)
    assert refused(post_form(still_form(acme, sign=sign))) == "AUTHORIZATION_ERROR: INVALID_SIGN"


def test_random_longer_than_ten_digits_is_invalid(acme, post_form):
    sign = acme.sign(rnd="12345678901")
    assert refused(post_form(still_form(acme, sign=sign))) == "AUTHORIZATION_ERROR: INVALID_SIGN"


def test_one_time_signature_works_once_and_replay_is_refused(acme, post_form):
    sign = one_time_sign(acme.api_key, acme.api_secret)
    assert post_form(still_form(acme, sign=sign)).status_code == 200
    replay = post_form(still_form(acme, sign=sign))
    assert refused(replay) == "AUTHORIZATION_ERROR: EXPIRED_SIGN"
    fresh = one_time_sign(acme.api_key, acme.api_secret)
    assert post_form(still_form(acme, sign=fresh)).status_code == 200


def test_one_time_signature_spent_by_a_failed_request_is_not_reusable(acme, post_form):
    sign = one_time_sign(acme.api_key, acme.api_secret)
    assert post_form(still_form(acme, sign=sign, verbose="9")).status_code == 400
    assert refused(post_form(still_form(acme, sign=sign))) == "AUTHORIZATION_ERROR: EXPIRED_SIGN"


def test_old_one_time_signature_is_expired(acme, post_form, settings):
    old = one_time_sign(acme.api_key, acme.api_secret,
                        current_time=int(time.time()) - settings.ONE_TIME_SIGN_MAX_AGE_SECONDS - 5)
    assert refused(post_form(still_form(acme, sign=old))) == "AUTHORIZATION_ERROR: EXPIRED_SIGN"


def test_one_time_signatures_of_two_apps_do_not_collide(make_tenant, post_form):
    first, second = make_tenant(), make_tenant()
    now = int(time.time())
    for tenant in (first, second):
        sign = one_time_sign(tenant.api_key, tenant.api_secret, current_time=now, rnd="0000000001")
        assert post_form(still_form(tenant, sign=sign)).status_code == 200


def test_discontinued_key(acme, post_form):
    ApiApp.objects.filter(pk=acme.app.pk).update(status=ApiApp.Status.DISCONTINUED)
    response = post_form(still_form(acme))
    assert refused(response) == "AUTHORIZATION_ERROR: API_KEY_BE_DISCONTINUED"


VERIFY = "/faceid/v3/sdk/verify"
MEDIA = "/faceid/v3/sdk/get_liveness_video"
UNKNOWN_TOKEN = "1700000000,0b5c0000-0000-4000-8000-000000000000"
ACTING_FOR_AN_APP = [GET_BIZ_TOKEN, VERIFY, MEDIA]


def signed_call(tenant, path: str) -> dict:
    """A well-formed, freshly signed request of the endpoint; the guard decides before the
    biz_token (unknown here) or the video_key is looked at."""
    if path == GET_BIZ_TOKEN:
        return still_form(tenant)
    form = {"sign": tenant.sign(), "sign_version": "hmac_sha1", "biz_token": UNKNOWN_TOKEN}
    return {**form, "video_key": "x" * 44} if path == MEDIA else form


@pytest.mark.parametrize("path", ACTING_FOR_AN_APP)
def test_every_endpoint_refuses_a_discontinued_app_alike(acme, post_form, path):
    ApiApp.objects.filter(pk=acme.app.pk).update(status=ApiApp.Status.DISCONTINUED)
    response = post_form(signed_call(acme, path), path)
    assert refused(response) == "AUTHORIZATION_ERROR: API_KEY_BE_DISCONTINUED"


@pytest.mark.parametrize("path", ACTING_FOR_AN_APP)
def test_every_endpoint_refuses_a_caller_outside_the_allow_list_alike(make_tenant, post_form,
                                                                      path):
    branch = make_tenant(allowed_networks="10.20.0.0/16")
    outside = post_form(signed_call(branch, path), path, REMOTE_ADDR="127.0.0.1")
    assert refused(outside) == "AUTHORIZATION_ERROR: IP_NOT_ALLOWED"
    inside = post_form(signed_call(branch, path), path, REMOTE_ADDR="10.20.3.4")
    # past the guard, the endpoint's own answer: a token; 4200 for the unknown token; no media
    assert inside.status_code == {MEDIA: 400}.get(path, 200), inside.content


def test_forged_signature_for_discontinued_key_is_still_invalid(acme, post_form):
    ApiApp.objects.filter(pk=acme.app.pk).update(status=ApiApp.Status.DISCONTINUED)
    sign = vendor_sign(acme.api_key, "not-the-secret")
    assert refused(post_form(still_form(acme, sign=sign))) == "AUTHORIZATION_ERROR: INVALID_SIGN"


def test_caller_outside_allowed_networks(make_tenant, post_form):
    branch = make_tenant(allowed_networks="10.20.0.0/16\n2001:db8::/32")
    inside = post_form(still_form(branch), REMOTE_ADDR="10.20.3.4")
    inside_v6 = post_form(still_form(branch), REMOTE_ADDR="2001:db8::7")
    outside = post_form(still_form(branch), REMOTE_ADDR="127.0.0.1")
    assert inside.status_code == 200 and inside_v6.status_code == 200
    assert refused(outside) == "AUTHORIZATION_ERROR: IP_NOT_ALLOWED"


def test_forwarded_for_is_trusted_only_behind_configured_proxies(make_tenant, post_form, settings):
    branch = make_tenant(allowed_networks="10.20.0.0/16")
    spoofed = post_form(still_form(branch), REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="10.20.3.4")
    assert refused(spoofed) == "AUTHORIZATION_ERROR: IP_NOT_ALLOWED"
    settings.TRUSTED_PROXY_COUNT = 1
    proxied = post_form(still_form(branch), REMOTE_ADDR="127.0.0.1",
                        HTTP_X_FORWARDED_FOR="1.2.3.4, 10.20.3.4")
    assert proxied.status_code == 200


def test_call_quota(make_tenant, post_form):
    trial = make_tenant(call_quota=2)
    assert post_form(still_form(trial, verbose="5")).status_code == 400  # not counted
    assert post_form(still_form(trial)).status_code == 200
    assert post_form(still_form(trial)).status_code == 200
    assert refused(post_form(still_form(trial))) == "AUTHORIZATION_ERROR: LIMIT_REACHED"
    trial.app.refresh_from_db()
    assert trial.app.calls_used == 2


def test_no_verify_permission(make_tenant, post_form):
    reader = make_tenant(can_verify=False)
    assert refused(post_form(still_form(reader))) == "AUTHORIZATION_ERROR: NO_VERIFY_PERMISSION"


def test_no_data_source_permission(acme, post_form):
    form = still_form(acme, comparison_type="1", idcard_name="王五",
                      idcard_number="11010519491231002X")
    assert refused(post_form(form)) == "AUTHORIZATION_ERROR: NO_DATA_SOURCE_PERMISSION"


def test_concurrency_limit(make_tenant, post_form):
    busy = make_tenant(concurrency_limit=1)
    with concurrency_slot(app=busy.app):  # another request of this app is in flight
        response = post_form(still_form(busy))
        assert refused(response) == "CONCURRENCY_LIMIT_EXCEEDED"
    assert post_form(still_form(busy)).status_code == 200  # the slot was released
    assert post_form(still_form(busy)).status_code == 200  # and ours was too


def test_concurrency_slots_of_a_dead_process_expire(make_tenant, post_form, settings):
    busy = make_tenant(concurrency_limit=1)
    settings.CONCURRENCY_SLOT_TTL_SECONDS = 1
    slot = concurrency_slot(app=busy.app)
    slot.__enter__()  # taken and never given back, as by a killed process
    assert refused(post_form(still_form(busy))) == "CONCURRENCY_LIMIT_EXCEEDED"
    time.sleep(1.2)
    assert post_form(still_form(busy)).status_code == 200


@pytest.mark.parametrize("mode", ["hmac", "xca"])
def test_an_unknown_key_is_refused_like_a_known_key_with_a_wrong_signature(acme, mode):
    """Hardening item 5: the time of a refusal must not tell whether the key exists. An
    unknown key is checked against a decoy secret, decrypted like a real one, and every
    refusal of a key or signature is answered no sooner than REFUSAL_FLOOR_SECONDS after its
    check began (bench/auth_timing.py measures the remaining difference: docs/API.md)."""
    from apps.tenants.error_codes import AccessDenied, AccessDeniedReason
    from apps.tenants.services import (
        REFUSAL_FLOOR_SECONDS,
        api_app_authenticate,
        api_app_authenticate_xca,
        xca_signature,
    )

    now_ms = str(int(time.time() * 1000))

    def attempt(key: str):
        if mode == "hmac":
            return lambda: api_app_authenticate(sign=vendor_sign(key, "wrong-secret" * 3))
        return lambda: api_app_authenticate_xca(
            api_key=key, timestamp_ms=now_ms, signature=xca_signature(key, now_ms, "wrong"))

    for call in (attempt(acme.api_key), attempt("no-such-key-0000")):
        started = time.perf_counter()
        with pytest.raises(AccessDenied) as refusal:
            call()
        assert refusal.value.reason == AccessDeniedReason.INVALID_SIGN
        assert time.perf_counter() - started >= REFUSAL_FLOOR_SECONDS


def test_a_non_ascii_xca_signature_is_refused_not_a_500(acme):
    from apps.tenants.error_codes import AccessDenied
    from apps.tenants.services import api_app_authenticate_xca

    with pytest.raises(AccessDenied):
        api_app_authenticate_xca(api_key=acme.api_key, timestamp_ms=str(int(time.time() * 1000)),
                                 signature="签名" * 16)
