"""Running model work on a Celery worker while a web request waits, for a bounded time."""

import json
import logging
import uuid

from celery.exceptions import TimeoutError as CeleryTimeout
from django.conf import settings
from redis.exceptions import RedisError

from apps.core.redis import redis_client, redis_key
from ml.jobs import VerifyJob, VerifyResult

from . import tasks
from .workers import workers_alive

logger = logging.getLogger(__name__)


class AnalysisUnavailable(Exception):
    """No answer from the workers in time, or the task failed: the caller should retry."""


def _run_on_worker(task, job: bytes, *, timeout: float, **kwargs) -> dict:
    """Puts the job's input in Redis (not in the broker message), runs the task on a worker
    and waits for its result; AnalysisUnavailable when it does not come in time."""
    key = redis_key("job", uuid.uuid4().hex)
    client = redis_client()
    try:
        if workers_alive() == 0:
            # (the task object is not touched before this: doing so loads Celery's settings)
            logger.error("model work refused: no worker is consuming %s",
                         settings.CELERY_TASK_DEFAULT_QUEUE)
            raise AnalysisUnavailable("no worker")
        client.set(key, job, ex=max(settings.ANALYSIS_IMAGE_TTL_SECONDS, int(timeout) + 60))
        pending = task.apply_async(args=(key,), kwargs=kwargs, expires=timeout)
        try:
            return pending.get(timeout=timeout, propagate=True, disable_sync_subtasks=False)
        except CeleryTimeout:
            pending.revoke()
            logger.error("%s timed out after %.1f s (task %s)", task.name, timeout, pending.id)
            raise AnalysisUnavailable("timeout") from None
        except Exception as exc:  # the task raised on the worker
            logger.error("%s failed on the worker: %r", task.name, exc)
            raise AnalysisUnavailable(repr(exc)) from exc
        finally:
            pending.forget()
    except RedisError as exc:
        logger.error("redis unavailable for %s: %s", task.name, exc)
        raise AnalysisUnavailable("redis") from exc
    finally:
        try:
            client.delete(key)
        except RedisError:
            pass


def still_image_analyse(data: bytes, *, attributes: bool = False,
                        multi_oriented: bool = False, timeout: float | None = None) -> dict:
    return _run_on_worker(tasks.still_image, data, attributes=attributes,
                          multi_oriented=multi_oriented,
                          timeout=settings.ANALYSIS_TIMEOUT_SECONDS if timeout is None
                          else timeout)


def references_analyse(images: dict[str, str], multi_oriented: dict[str, bool]) -> dict:
    """images: {param: base64}; returns {param: faces, embedding, rotation}."""
    job = json.dumps({"images": images, "multi_oriented": multi_oriented}).encode()
    return _run_on_worker(tasks.references, job, timeout=settings.ANALYSIS_TIMEOUT_SECONDS)


def verification_analyse(job: VerifyJob, *, session_ref: str) -> VerifyResult:
    """A session's verification on a worker: ml's typed job in, its typed result out.
    session_ref (apps/faceid/sessions.py biz_token_ref) names the session in the worker's view
    of its tasks."""
    answer = _run_on_worker(tasks.verify, job.to_bytes(), session_ref=session_ref,
                            timeout=settings.VERIFY_TIMEOUT_SECONDS)
    return VerifyResult.from_dict(answer)
