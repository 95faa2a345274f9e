"""Tenant apps: creation, request authentication and the limits every call passes through."""

import hashlib
import secrets
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db.models import F

from apps.core.crypto import decrypt_text, encrypt_text
from apps.core.net import ip_in_networks
from apps.core.redis import redis_client, redis_key

from .error_codes import AccessDenied, AccessDeniedReason, ConcurrencyLimitExceeded
from .models import ApiApp
from .signatures import MalformedSignature, sign_is_authentic, sign_parse


def api_secret_new() -> str:
    return secrets.token_urlsafe(24)


def api_app_secret_assign(*, app: ApiApp) -> str:
    """Gives the app a fresh secret (encrypted on the model, not saved); returns it in clear."""
    secret = api_secret_new()
    app.api_secret_encrypted = encrypt_text(secret)
    return secret


def api_app_create(
    *,
    name: str,
    can_verify: bool = True,
    can_use_data_source: bool = False,
    call_quota: int | None = None,
    concurrency_limit: int | None = None,
    allowed_networks: str = "",
) -> tuple[ApiApp, str]:
    """Creates an app; returns it with its clear api_secret, which is not kept anywhere."""
    app = ApiApp(
        name=name,
        can_verify=can_verify,
        can_use_data_source=can_use_data_source,
        call_quota=call_quota,
        concurrency_limit=concurrency_limit,
        allowed_networks=allowed_networks,
    )
    secret = api_app_secret_assign(app=app)
    app.full_clean()
    app.save()
    return app, secret


def api_app_secret_rotate(*, app: ApiApp) -> str:
    secret = api_app_secret_assign(app=app)
    app.save(update_fields=["api_secret_encrypted", "updated_at"])
    return secret


def api_app_secret(app: ApiApp) -> str:
    return decrypt_text(app.api_secret_encrypted)


def _one_time_sign_claim(raw: bytes) -> bool:
    """True for the first use of a one-time signature, False for every replay (atomic)."""
    ttl = settings.ONE_TIME_SIGN_MAX_AGE_SECONDS + settings.SIGN_CLOCK_SKEW_SECONDS + 60
    key = redis_key("sign-used", hashlib.sha1(raw).hexdigest())
    return bool(redis_client().set(key, b"1", nx=True, ex=ttl))


def api_app_authenticate(*, sign: str, now: float | None = None) -> ApiApp:
    """Checks a request signature; returns its app or raises AccessDenied.

    Unknown keys, forged or malformed signatures, and times that make no sense are all
    INVALID_SIGN (so a caller cannot probe which keys exist). A signature past its
    expire_time, and a one-time signature (expire_time=0) that is too old or used before,
    is EXPIRED_SIGN: in both cases the caller's remedy is to sign again.
    """
    now = time.time() if now is None else now
    invalid = AccessDenied(AccessDeniedReason.INVALID_SIGN)
    expired = AccessDenied(AccessDeniedReason.EXPIRED_SIGN)
    try:
        claims = sign_parse(sign)
    except MalformedSignature:
        raise invalid from None
    app = ApiApp.objects.filter(api_key=claims.api_key).first()
    if app is None or not sign_is_authentic(claims, api_app_secret(app)):
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


def api_app_authorize(*, app: ApiApp, client_ip: str) -> None:
    if not app.is_active:
        raise AccessDenied(AccessDeniedReason.API_KEY_BE_DISCONTINUED)
    if app.allowed_networks.strip() and not ip_in_networks(client_ip, app.allowed_networks):
        raise AccessDenied(AccessDeniedReason.IP_NOT_ALLOWED)


def api_app_quota_reserve(*, app: ApiApp) -> None:
    """Counts one call against the app's quota, atomically; LIMIT_REACHED when none is left.

    Call it inside the transaction that records the call, so a failure rolls the count back.
    """
    if app.call_quota is None:
        return
    changed = ApiApp.objects.filter(pk=app.pk, calls_used__lt=F("call_quota")).update(
        calls_used=F("calls_used") + 1
    )
    if changed != 1:
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
