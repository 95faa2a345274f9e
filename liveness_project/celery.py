"""The Celery application: `celery -A liveness_project worker`."""

import logging
import multiprocessing
import os

from celery import Celery
from celery.signals import worker_init, worker_process_init, worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveness_project.settings")

app = Celery("liveness_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

logger = logging.getLogger(__name__)

# Pool processes that have loaded their models, shared with them: made before the pool forks,
# so every forked process (the first ones and replacements) writes into the same counter. The
# heartbeat waits for it, so /readyz and `make run`'s "ready" mean a worker that can answer now,
# not one still loading its models for a minute.
_processes_warm = None
# malloc arenas of a worker's processes (ml.device.malloc_arenas_limit; an operator's
# MALLOC_ARENA_MAX or GLIBC_TUNABLES arena_max wins)
WORKER_MALLOC_ARENAS = 2


@worker_init.connect
def share_cores(sender=None, **_kwargs) -> None:
    """Before the pool forks: each worker process's libraries get their share of the cores
    (cores // processes, at least 1) unless ML_THREADS says otherwise. N processes each using
    every core fight over them: measured 7-20x slower verifies with 2 processes on 2 cores."""
    processes = getattr(sender, "concurrency", None) or 1
    os.environ.setdefault("ML_THREADS", str(max(1, (os.cpu_count() or 1) // int(processes))))
    # before the pool forks, so every pool process inherits it (ml.device; standard library
    # and ctypes only: no model code in this process)
    from ml.device import malloc_arenas_limit

    malloc_arenas_limit(WORKER_MALLOC_ARENAS)
    global _processes_warm
    _processes_warm = multiprocessing.Value("i", 0)
    if "prefork" not in str(getattr(sender, "pool_cls", "prefork")):
        _processes_warm.value = 1   # no forked processes to warm: models load on first use


@worker_process_init.connect
def warm_models(**_kwargs) -> None:
    """Loads every model once in each worker process and runs each once (Perception.warm),
    before its first task (after the fork, so nothing touches CUDA in the parent).
    ML_WARM_WORKERS=0 skips it (the models then load on first use). The web process never
    runs this: it imports no model code."""
    from ml.device import release_free_heap, threads_limit

    threads_limit(int(os.environ.get("ML_THREADS", "1")))
    if os.environ.get("ML_WARM_WORKERS", "1") == "0":
        _count_warm()
        return
    from ml.pipeline import perception

    pipeline = perception()
    # every model, the attribute models, FaceMesh, the anti-spoofing decision and YuNet
    # included, loaded and run once (what each builds on its first call: not in a task)
    warmed = pipeline.warm()
    release_free_heap()
    logger.info("models loaded in worker process %s (%s library threads; warmed in %.0f ms)",
                os.getpid(), os.environ.get("ML_THREADS"), sum(warmed.values()))
    _count_warm()


def _count_warm() -> None:
    if _processes_warm is not None:
        with _processes_warm.get_lock():
            _processes_warm.value += 1


def _some_process_warm() -> bool:
    return _processes_warm is None or _processes_warm.value > 0


_heartbeat = None


@worker_ready.connect
def heartbeat_start(sender=None, **_kwargs) -> None:
    """Tells the web this worker consumes its queues (apps/analysis/workers.py)."""
    global _heartbeat
    from apps.analysis.workers import Heartbeat

    queues = sorted(sender.app.amqp.queues.consume_from) if sender is not None else []
    _heartbeat = Heartbeat(hostname=sender.hostname, queues=queues or [
        sender.app.conf.task_default_queue], ready=_some_process_warm)
    _heartbeat.start()


@worker_shutdown.connect
def heartbeat_stop(**_kwargs) -> None:
    if _heartbeat is not None:
        _heartbeat.stop()
