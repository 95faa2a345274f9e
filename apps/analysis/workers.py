"""Which workers are consuming model work now: a heartbeat each worker writes to Redis and the
web reads before it asks for work, so that without a worker a call fails at once with its
contract's error instead of waiting out ANALYSIS_TIMEOUT_SECONDS / VERIFY_TIMEOUT_SECONDS, and
/readyz and /metrics say so.

Each worker's main process (liveness_project/celery.py) adds its node name to a sorted set per
queue, scored by the time of its last beat, every WORKER_HEARTBEAT_SECONDS; a worker whose last
beat is older than WORKER_STALE_AFTER_SECONDS (a killed or frozen one) no longer counts. A
worker that shuts down cleanly removes itself at once.
"""

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

from apps.core.redis import redis_client, redis_key

logger = logging.getLogger(__name__)


def _registry(queue: str) -> str:
    return redis_key("workers", queue)


def worker_beat(*, hostname: str, queue: str, now: float | None = None) -> None:
    now = time.time() if now is None else now
    pipe = redis_client().pipeline()
    pipe.zadd(_registry(queue), {hostname: now})
    pipe.zremrangebyscore(_registry(queue), "-inf", now - settings.WORKER_STALE_AFTER_SECONDS)
    pipe.expire(_registry(queue), int(settings.WORKER_STALE_AFTER_SECONDS * 2) + 1)
    pipe.execute()


def worker_gone(*, hostname: str, queue: str) -> None:
    redis_client().zrem(_registry(queue), hostname)


def workers_alive(queue: str | None = None, now: float | None = None) -> int:
    """How many workers beat on `queue` (this deployment's task queue by default) recently."""
    now = time.time() if now is None else now
    return int(redis_client().zcount(_registry(queue or settings.CELERY_TASK_DEFAULT_QUEUE),
                                     now - settings.WORKER_STALE_AFTER_SECONDS, "+inf"))


def queue_depth(queue: str | None = None) -> int:
    """Tasks waiting on `queue` (this deployment's task queue by default) that no worker has
    taken yet, as the broker counts them (every priority list of the queue on Redis). A
    queue nobody has sent to, or that is empty, counts 0."""
    # the project's app, as Django's start made it current (liveness_project/__init__.py);
    # importing liveness_project.celery here would close a circle: it imports Heartbeat
    from celery import current_app
    from kombu.exceptions import ChannelError

    with current_app.connection_for_read() as connection:
        # kombu's channel type names only the common surface; every transport's has this
        channel: Any = connection.default_channel
        try:
            declared = channel.queue_declare(
                queue=queue or settings.CELERY_TASK_DEFAULT_QUEUE, passive=True)
        except ChannelError:     # Redis drops an empty list: the queue has nothing waiting
            return 0
        return int(declared.message_count)


class Heartbeat:
    """The worker's beat, on a daemon thread of its main process. It beats only once `ready`
    says so (liveness_project/celery.py: a pool process has loaded its models)."""

    def __init__(self, *, hostname: str, queues: list[str],
                 ready: Callable[[], bool] = lambda: True):
        self.hostname, self.queues, self.ready = hostname, queues, ready
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="worker-heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        for queue in self.queues:
            try:
                worker_gone(hostname=self.hostname, queue=queue)
            except Exception as exc:  # noqa: BLE001 - Redis may be the reason we stop
                logger.warning("could not remove the worker's heartbeat: %r", exc)

    def _run(self) -> None:
        while not self.ready():
            if self._stop.wait(0.2):
                return
        logger.info("worker %s ready: beating on %s", self.hostname, ", ".join(self.queues))
        while not self._stop.is_set():
            for queue in self.queues:
                try:
                    worker_beat(hostname=self.hostname, queue=queue)
                except Exception as exc:  # noqa: BLE001 - Redis down: beat again later
                    logger.warning("worker heartbeat failed: %r", exc)
            self._stop.wait(settings.WORKER_HEARTBEAT_SECONDS)
