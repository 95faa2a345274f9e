"""Prometheus metrics. Under gunicorn set PROMETHEUS_MULTIPROC_DIR so all workers are summed."""

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

HTTP_REQUESTS = Counter(
    "liveness_http_requests_total", "HTTP requests by view and status", ["view", "method", "status"]
)
HTTP_LATENCY = Histogram(
    "liveness_http_request_duration_seconds",
    "Time from request in to response out, by view",
    ["view"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
BIZ_TOKENS_ISSUED = Counter(
    "liveness_biz_tokens_issued_total", "biz_tokens issued by liveness_type", ["liveness_type"]
)
VERIFICATIONS = Counter(
    "liveness_verifications_total", "verify results by liveness_type and result_message",
    ["liveness_type", "result"]
)
SINGLE_IMAGE_ANSWERS = Counter(
    "liveness_single_image_answers_total", "single-image API answers by API and outcome",
    ["api", "outcome"]
)
SINGLE_IMAGE_RECORDS_LOST = Counter(
    "liveness_single_image_records_lost_total",
    "single-image calls answered whose record the database did not take"
)
FACEID_ERRORS = Counter(
    "liveness_faceid_errors_total", "FaceID surface error answers by error code", ["code"]
)

# The gauges below are set by whichever web process serves a scrape, from what it reads then;
# under gunicorn each process keeps its own file, dead ones included, so the exposition must
# give the value of the latest scrape ("mostrecent"), not the largest any process ever saw.
WORKERS_ALIVE = Gauge(
    "liveness_workers_alive", "workers whose heartbeat on the model queue is recent",
    multiprocess_mode="mostrecent",
)

QUEUE_DEPTH = Gauge(
    "liveness_queue_depth", "model tasks waiting on the queue, not yet taken by a worker",
    multiprocess_mode="mostrecent",
)


def metrics_exposition() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
