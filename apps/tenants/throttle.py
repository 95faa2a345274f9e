"""Failed authentication, throttled per source (issue 12, item 11).

Each refused credential (an unknown or forged signature, an unknown APPCODE: INVALID_SIGN) is
counted against the caller's address (apps/core/net.py client_ip, behind TRUSTED_PROXY_COUNT
proxies) in the current AUTH_FAILURE_WINDOW_SECONDS window, in Redis. A source with
AUTH_FAILURES_PER_WINDOW failures in the window is refused before its credentials are even
looked at, until the window ends: 400 guesses a second become AUTH_FAILURES_PER_WINDOW a
minute. Expired or replayed signatures are not counted (a skewed clock is not an attack).

The real app is not locked out by someone else's guessing: the count is per source, and an
app's own servers can be put in AUTH_THROTTLE_EXEMPT_NETWORKS (for an app behind the same NAT
as untrusted callers). A throttled source gets each surface's "slow down" answer: FaceID
`403 AUTHORIZATION_ERROR: MORE_RETRY_TIMES`, the single-image APIs their 429 code.
"""

import time
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings

from apps.core.net import ip_in_networks
from apps.core.redis import redis_client, redis_key

from .error_codes import AccessDenied, AccessDeniedReason


class SourceThrottled(Exception):
    """Too many failed authentications from this source in the current window."""


def _window_key(source: str, now: float) -> str:
    window = int(now // settings.AUTH_FAILURE_WINDOW_SECONDS)
    return redis_key("auth-failures", source, str(window))


def _exempt(source: str) -> bool:
    networks = ",".join(settings.AUTH_THROTTLE_EXEMPT_NETWORKS)
    return bool(networks) and ip_in_networks(source, networks)


@contextmanager
def authentication_throttled(source: str, now: float | None = None) -> Iterator[None]:
    """Wraps one authentication: refuses a throttled source first (SourceThrottled), and
    counts the block's INVALID_SIGN refusal against it."""
    now = time.time() if now is None else now
    if _exempt(source):
        yield
        return
    key = _window_key(source or "unknown", now)
    client = redis_client()
    if int(client.get(key) or 0) >= settings.AUTH_FAILURES_PER_WINDOW:
        raise SourceThrottled(source)
    try:
        yield
    except AccessDenied as exc:
        if exc.reason == AccessDeniedReason.INVALID_SIGN:
            with client.pipeline() as pipe:
                pipe.incr(key)
                pipe.expire(key, settings.AUTH_FAILURE_WINDOW_SECONDS + 5)
                pipe.execute()
        raise
