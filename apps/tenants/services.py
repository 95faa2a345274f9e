"""Tenant apps: creation, request authentication and the limits every call passes through."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from apps.core.crypto import decrypt_text, encrypt_text, keyed_digest
from apps.core.net import ip_in_networks
from apps.core.redis import redis_client, redis_key

from .error_codes import AccessDenied, AccessDeniedReason, ConcurrencyLimitExceeded, RateLimited
from .models import ApiApp, SpentSignature
from .signatures import MalformedSignature, sign_is_authentic, sign_parse


def api_secret_new() -> str:
    return secrets.token_urlsafe(24)


def api_app_secret_assign(*, app: ApiApp) -> str:
    """Gives the app a fresh secret (encrypted on the model, not saved); returns it in clear."""
    secret = api_secret_new()
    app.api_secret_encrypted = encrypt_text(secret)
    return secret


@dataclass(frozen=True)
class AppCredentials:
    """What a new app's owner must copy once: the signing secret and the APPCODE."""

    api_secret: str
    app_code: str


def api_app_code_assign(*, app: ApiApp) -> str:
    """Gives the app a fresh APPCODE (its digest on the model, not saved); returns it in clear."""
    code = secrets.token_hex(16)  # 32 hex characters, like the market's AppCodes
    app.app_code_digest = keyed_digest(code)
    return code


def api_app_create(
    *,
    name: str,
    can_verify: bool = True,
    can_use_data_source: bool = False,
    call_quota: int | None = None,
    concurrency_limit: int | None = None,
    allowed_networks: str = "",
    rate_limit_per_minute: int | None = None,
) -> tuple[ApiApp, "AppCredentials"]:
    """Creates an app; returns it with its clear credentials, which are not kept anywhere."""
    app = ApiApp(
        name=name,
        can_verify=can_verify,
        can_use_data_source=can_use_data_source,
        call_quota=call_quota,
        concurrency_limit=concurrency_limit,
        allowed_networks=allowed_networks,
        rate_limit_per_minute=rate_limit_per_minute,
    )
    credentials = AppCredentials(api_secret=api_app_secret_assign(app=app),
                                 app_code=api_app_code_assign(app=app))
    app.full_clean()
    app.save()
    return app, credentials


def api_app_secret_rotate(*, app: ApiApp) -> str:
    secret = api_app_secret_assign(app=app)
    app.save(update_fields=["api_secret_encrypted", "updated_at"])
    return secret


def api_app_code_rotate(*, app: ApiApp) -> str:
    code = api_app_code_assign(app=app)
    app.save(update_fields=["app_code_digest", "updated_at"])
    return code


def api_app_secret(app: ApiApp) -> str:
    return decrypt_text(app.api_secret_encrypted)


@lru_cache(maxsize=1)
def _decoy_secret_encrypted() -> str:
    return encrypt_text(api_secret_new())


def _secret_or_decoy(app: ApiApp | None) -> str:
    """The app's secret; for an unknown key, a decoy's, decrypted the same way, so that a
    signature of an unknown key costs what one of a known key with a wrong signature costs and
    the time of the answer does not tell which keys exist. A signature checked against the
    decoy is refused whatever it matches (the caller tests `app is None` too)."""
    return decrypt_text(app.api_secret_encrypted if app is not None
                        else _decoy_secret_encrypted())


# A signature refused for its key or its value is answered no sooner than this after its check
# began: what remains between a known and an unknown key (the database returning a row or none,
# ~40 us, bench/auth_timing.py) disappears under it.
REFUSAL_FLOOR_SECONDS = 0.002


def _refused_after_floor(started: float) -> None:
    remaining = REFUSAL_FLOOR_SECONDS - (time.perf_counter() - started)
    if remaining > 0:
        time.sleep(remaining)


def signature_spend(kind: str, raw: bytes, ttl: int) -> bool:
    """True for the first use of a single-use signature, False for every replay (atomic).

    Redis refuses a replay without touching the database; a first use is then recorded in the
    database (SpentSignature, unique), which still refuses the replay after Redis forgot it."""
    digest = hashlib.sha1(raw).hexdigest()
    if not redis_client().set(redis_key(f"{kind}-used", digest), b"1", nx=True, ex=ttl):
        return False
    try:
        with transaction.atomic():
            SpentSignature.objects.create(digest=f"{kind}:{digest}",
                                          expires_at=timezone.now() + timedelta(seconds=ttl))
    except IntegrityError:
        return False
    return True


def spent_signatures_purge(now: datetime | None = None) -> int:
    deleted, _ = SpentSignature.objects.filter(expires_at__lt=now or timezone.now()).delete()
    return deleted


def _one_time_sign_claim(raw: bytes) -> bool:
    """True for the first use of a one-time signature, False for every replay (atomic)."""
    ttl = settings.ONE_TIME_SIGN_MAX_AGE_SECONDS + settings.SIGN_CLOCK_SKEW_SECONDS + 60
    return signature_spend("sign", raw, ttl)


def api_app_authenticate(*, sign: str, now: float | None = None) -> ApiApp:
    """Checks a request signature; returns its app or raises AccessDenied.

    Unknown keys, forged or malformed signatures, and times that make no sense are all
    INVALID_SIGN (so a caller cannot probe which keys exist). A signature past its
    expire_time, and a one-time signature (expire_time=0) that is too old or used before,
    is EXPIRED_SIGN: in both cases the caller's remedy is to sign again.
    """
    started = time.perf_counter()
    now = time.time() if now is None else now
    invalid = AccessDenied(AccessDeniedReason.INVALID_SIGN)
    expired = AccessDenied(AccessDeniedReason.EXPIRED_SIGN)
    try:
        claims = sign_parse(sign)
    except MalformedSignature:
        raise invalid from None
    app = ApiApp.objects.filter(api_key=claims.api_key).first()
    authentic = sign_is_authentic(claims, _secret_or_decoy(app))
    if app is None or not authentic:
        _refused_after_floor(started)
        raise invalid
    if claims.current_time > now + settings.SIGN_CLOCK_SKEW_SECONDS:
        raise invalid
    if claims.one_time:
        if now - claims.current_time > settings.ONE_TIME_SIGN_MAX_AGE_SECONDS:
            raise expired
        if not _one_time_sign_claim(claims.raw):
            raise expired
    else:
        if claims.expire_time <= claims.current_time:
            raise invalid
        if now > claims.expire_time:
            raise expired
    return app


def api_app_authenticate_secret(*, api_key: str, api_secret: str) -> ApiApp:
    """The api_key / api_secret pair sent in clear (the FaceID Lite surface). The stored secret
    is Fernet-encrypted, so it is decrypted and compared in constant time; an unknown key is
    compared against the decoy and refused after the same floor, so the answer does not tell
    which keys exist. Both refusals are INVALID_SIGN: the pair plays the signature's role, and
    the throttle counts it like any refused credential."""
    started = time.perf_counter()
    app = ApiApp.objects.filter(api_key=api_key).first() if len(api_key) <= 64 else None
    authentic = secrets.compare_digest(_secret_or_decoy(app).encode(), api_secret.encode())
    if app is None or not authentic:
        _refused_after_floor(started)
        raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
    return app


def api_app_authenticate_app_code(*, authorization: str) -> ApiApp:
    """`Authorization: APPCODE <code>` (one space, as the market's gateways write it; extra
    spaces are tolerated). Missing, malformed or unknown: INVALID_SIGN."""
    scheme, _, code = authorization.strip().partition(" ")
    code = code.strip()
    if scheme != "APPCODE" or not code:
        raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
    app = ApiApp.objects.filter(app_code_digest=keyed_digest(code)).first()
    if app is None:
        raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
    return app


def xca_signature(api_key: str, timestamp_ms: str, api_secret: str) -> str:
    """Seed 001's signature: md5("{key}&{timestamp}&{secret}"), lower-case hex."""
    return hashlib.md5(f"{api_key}&{timestamp_ms}&{api_secret}".encode()).hexdigest()


def api_app_authenticate_xca(*, api_key: str, timestamp_ms: str, signature: str,
                             now: float | None = None) -> ApiApp:
    """The x-ca-key / x-ca-timestamp / x-ca-signature mode. The timestamp must lie within
    XCA_TIMESTAMP_WINDOW_SECONDS of now, and each signature is accepted once: a replay inside
    the window is EXPIRED_SIGN like one outside it (the remedy is the same: sign again)."""
    started = time.perf_counter()
    now = time.time() if now is None else now
    if not (api_key and timestamp_ms.isascii() and timestamp_ms.isdigit()
            and len(timestamp_ms) <= 16 and signature):
        raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
    app = ApiApp.objects.filter(api_key=api_key).first()
    expected = xca_signature(api_key, timestamp_ms, _secret_or_decoy(app))
    authentic = secrets.compare_digest(expected.encode(), signature.strip().lower().encode())
    if app is None or not authentic:
        _refused_after_floor(started)
        raise AccessDenied(AccessDeniedReason.INVALID_SIGN)
    window = settings.XCA_TIMESTAMP_WINDOW_SECONDS
    if abs(now - int(timestamp_ms) / 1000) > window:
        raise AccessDenied(AccessDeniedReason.EXPIRED_SIGN)
    if not signature_spend("xca", f"{api_key}&{timestamp_ms}".encode(), 2 * window + 60):
        raise AccessDenied(AccessDeniedReason.EXPIRED_SIGN)
    return app


def api_app_rate_check(*, app: ApiApp, now: float | None = None) -> None:
    """Counts one call in the app's current minute; RateLimited above rate_limit_per_minute."""
    if app.rate_limit_per_minute is None:
        return
    minute = int((time.time() if now is None else now) // 60)
    key = redis_key("rate", str(app.pk), str(minute))
    client = redis_client()
    with client.pipeline() as pipe:
        pipe.incr(key)
        pipe.expire(key, 120)
        count, _ = pipe.execute()
    if count > app.rate_limit_per_minute:
        raise RateLimited()


def api_app_call_give_back(*, app: ApiApp) -> None:
    """Gives back a call counted by api_app_call_count whose work then failed on our side."""
    ApiApp.objects.filter(pk=app.pk, calls_used__gt=0).update(calls_used=F("calls_used") - 1)


def api_app_authorize(*, app: ApiApp, client_ip: str, from_app_servers: bool = True) -> None:
    """The app may call now: it is active and, for a call its own servers make, it comes from
    its allowed networks. from_app_servers=False (the Lite capture page, called by the user's
    browser from anywhere) skips only the networks: they describe the app's servers."""
    if not app.is_active:
        raise AccessDenied(AccessDeniedReason.API_KEY_BE_DISCONTINUED)
    if from_app_servers and app.allowed_networks.strip() and not ip_in_networks(
            client_ip, app.allowed_networks):
        raise AccessDenied(AccessDeniedReason.IP_NOT_ALLOWED)


def api_app_call_count(*, app: ApiApp) -> None:
    """Counts one call in the app's calls_used, atomically, whether it has a quota or not (the
    admin's usage is true for every app); with a quota, LIMIT_REACHED when none is left.

    Call it inside the transaction that records the call, so a failure rolls the count back.
    """
    calls = ApiApp.objects.filter(pk=app.pk)
    if app.call_quota is not None:
        calls = calls.filter(calls_used__lt=F("call_quota"))
    if calls.update(calls_used=F("calls_used") + 1) != 1 and app.call_quota is not None:
        raise AccessDenied(AccessDeniedReason.LIMIT_REACHED)


# Slots live in a sorted set scored by start time; stale ones (a process killed mid-request)
# are dropped after CONCURRENCY_SLOT_TTL_SECONDS, so a crash cannot lock an app out for good.
_SLOT_ACQUIRE = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[2])
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[3]) then
  return 0
end
redis.call('ZADD', KEYS[1], ARGV[1], ARGV[4])
redis.call('PEXPIRE', KEYS[1], ARGV[5])
return 1
"""


@contextmanager
def concurrency_slot(*, app: ApiApp) -> Iterator[None]:
    """Holds one of the app's in-flight slots for the duration of the block."""
    if app.concurrency_limit is None:
        yield
        return
    client = redis_client()
    key = redis_key("inflight", str(app.pk))
    member = uuid.uuid4().hex
    now_ms = int(time.time() * 1000)
    ttl_ms = settings.CONCURRENCY_SLOT_TTL_SECONDS * 1000
    acquired = client.eval(
        _SLOT_ACQUIRE, 1, key, now_ms, now_ms - ttl_ms, app.concurrency_limit, member, ttl_ms
    )
    if not acquired:
        raise ConcurrencyLimitExceeded()
    try:
        yield
    finally:
        client.zrem(key, member)
