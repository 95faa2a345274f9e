"""Without a worker consuming the model queue, calls that need the models fail at once with
their contract's error, /readyz says not ready and /metrics counts no worker (hardening issue,
item 10). Before, get_biz_token with a reference waited 20 s and verify 60 s."""

import base64
import os
import signal
import time
import uuid

import pytest

from apps.analysis.workers import workers_alive

from .conftest import start_celery_worker, still_form, wait_until
from .images import face_image
from .test_verify_served import _children


@pytest.fixture
def nobody_consumes(settings):
    """No worker has beaten recently enough to count (as when every worker died): the running
    workers' beats are all older than a stale limit set below zero. (Not another queue name:
    Celery reads its settings once, and a queue changed here would outlive the test there.)"""
    settings.WORKER_STALE_AFTER_SECONDS = -3600
    assert workers_alive() == 0


def test_without_a_worker_calls_fail_at_once_in_their_contracts_format(
        client, acme, post_form, nobody_consumes):
    started = time.monotonic()
    refused = post_form(still_form(acme))          # a reference photo: the models are needed
    assert refused.status_code == 500 and refused.json()["error"] == "INTERNAL_ERROR"
    single = client.post("/api/face_liveness/v1",
                         {"image_base64": base64.b64encode(face_image()).decode()},
                         content_type="application/json",
                         HTTP_AUTHORIZATION=f"APPCODE {acme.app_code}")
    assert single.status_code == 500 and single.json()["code"] == 5000
    assert time.monotonic() - started < 5          # not ANALYSIS_TIMEOUT_SECONDS (20 s) each


def test_readyz_and_metrics_report_no_worker(client, db, nobody_consumes):
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["workers"] == (
        "error: no worker ready (none consumes the queue, or it is still loading its models)")
    metrics = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
    assert "liveness_workers_alive 0.0" in metrics


@pytest.mark.slow
def test_a_worker_counts_while_it_beats_and_not_after_it_dies(db, settings):
    settings.WORKER_STALE_AFTER_SECONDS = 3        # as the workers below are told
    queue = f"beat-{uuid.uuid4().hex[:10]}"
    env = {"CELERY_QUEUE": queue, "ML_WARM_WORKERS": "0", "WORKER_HEARTBEAT_SECONDS": "0.5",
           "WORKER_STALE_AFTER_SECONDS": "3"}
    stopped = start_celery_worker(env=env)
    wait_until(lambda: workers_alive(queue) == 1, 10, "the worker's first beat")
    stopped.stop()                                 # a clean stop removes it at once
    assert workers_alive(queue) == 0

    killed = start_celery_worker(env=env)
    wait_until(lambda: workers_alive(queue) == 1, 10, "the worker's first beat")
    children = _children(killed.process.pid)
    killed.stop(signal.SIGKILL)                    # a dead one stops counting once stale
    for child in children:                         # its pool processes die with it in life
        os.kill(child, signal.SIGKILL)
    assert workers_alive(queue) == 1               # its last beat is still recent
    assert workers_alive(queue, now=time.time() + 3.5) == 0


def test_metrics_count_the_tasks_waiting_on_the_queue(client, db, settings):
    """Issue 15: /metrics says how much model work waits for a worker. Tasks sent to a queue
    nobody consumes are counted by the broker; once taken away, the depth is 0 again."""
    from liveness_project.celery import app

    queue = f"depth-{uuid.uuid4().hex[:8]}"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue

    def depth() -> float:
        text = client.get("/metrics", REMOTE_ADDR="127.0.0.1").content.decode()
        return next(float(line.split()[1]) for line in text.splitlines()
                    if line.startswith("liveness_queue_depth "))

    assert depth() == 0.0                               # nothing ever sent there
    for _ in range(3):
        app.send_task("analysis.no_such_task", queue=queue)
    try:
        assert depth() == 3.0
    finally:
        with app.connection_for_write() as connection:
            connection.default_channel.queue_purge(queue)
    assert depth() == 0.0
