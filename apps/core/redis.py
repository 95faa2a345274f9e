"""One Redis client per process, with short timeouts so an outage fails a request quickly."""

from functools import lru_cache

import redis
from django.conf import settings
from django.core.signals import setting_changed
from redis.backoff import NoBackoff
from redis.retry import Retry


@lru_cache(maxsize=1)
def _client(url: str, timeout: float) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        health_check_interval=30,
        # One immediate retry on a fresh connection: after a Redis restart the pooled
        # sockets are dead, and the retry is what lets the service recover on its own.
        retry=Retry(NoBackoff(), 1),
    )


def redis_client() -> redis.Redis:
    return _client(settings.REDIS_URL, settings.REDIS_SOCKET_TIMEOUT_SECONDS)


def redis_key(*parts: str) -> str:
    return settings.REDIS_KEY_PREFIX + ":".join(parts)


def _on_setting_changed(*, setting: str, **_kwargs) -> None:
    if setting in {"REDIS_URL", "REDIS_SOCKET_TIMEOUT_SECONDS"}:
        _client.cache_clear()


setting_changed.connect(_on_setting_changed)
