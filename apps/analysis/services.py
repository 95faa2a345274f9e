"""Running model work on a Celery worker while a web request waits, for a bounded time."""

import logging
import uuid

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from redis.exceptions import RedisError

from apps.core.redis import redis_client, redis_key

from .tasks import still_image

logger = logging.getLogger(__name__)


class AnalysisUnavailable(Exception):
    """No answer from the workers in time, or the task failed: the caller should retry."""


def still_image_analyse(data: bytes, *, attributes: bool = False,
                        multi_oriented: bool = False, timeout: float | None = None) -> dict:
    """Puts the picture in Redis (not in the broker message), runs `analysis.still_image` on a
    worker and waits for its result; AnalysisUnavailable when it does not come in time."""
    timeout = settings.ANALYSIS_TIMEOUT_SECONDS if timeout is None else timeout
    key = redis_key("image", uuid.uuid4().hex)
    client = redis_client()
    try:
        client.set(key, data, ex=settings.ANALYSIS_IMAGE_TTL_SECONDS)
        pending = still_image.apply_async(
            args=(key,), kwargs={"attributes": attributes, "multi_oriented": multi_oriented},
            expires=timeout)
        try:
            return pending.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
        except CeleryTimeout:
            pending.revoke()
            logger.error("still analysis timed out after %.1f s (task %s)", timeout, pending.id)
            raise AnalysisUnavailable("timeout") from None
        except Exception as exc:  # the task raised on the worker
            logger.error("still analysis failed on the worker: %r", exc)
            raise AnalysisUnavailable(repr(exc)) from exc
        finally:
            pending.forget()
    except RedisError as exc:
        logger.error("redis unavailable for analysis: %s", exc)
        raise AnalysisUnavailable("redis") from exc
    finally:
        try:
            client.delete(key)
        except RedisError:
            pass
