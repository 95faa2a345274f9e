"""gunicorn settings for the web process: `gunicorn -c liveness_project/gunicorn_conf.py`."""

import multiprocessing
import os

bind = os.environ.get("BIND", "127.0.0.1:8000")
# Sync workers: get_biz_token is short CPU work (HMAC, image decode) plus a few fast
# round trips to Redis and the database, so one request per process keeps latency flat.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2))
worker_class = "liveness_project.gunicorn_worker.JsonErrorSyncWorker"
timeout = int(os.environ.get("WEB_TIMEOUT", "60"))
graceful_timeout = 20
keepalive = 5
# Requests are logged by our middleware (JSON, with request_id); gunicorn logs only errors.
accesslog = None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")
max_requests = int(os.environ.get("WEB_MAX_REQUESTS", "0"))
max_requests_jitter = 100


def child_exit(server, worker):
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
