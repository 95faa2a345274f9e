"""Operational endpoints: liveness of the process, readiness of its dependencies, metrics."""

import logging
from pathlib import Path

from django.conf import settings
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from django.views.decorators.http import require_GET

from .api_errors import api_error
from .metrics import QUEUE_DEPTH, WORKERS_ALIVE, metrics_exposition
from .net import client_ip, ip_in_networks
from .redis import redis_client

logger = logging.getLogger(__name__)

OPENAPI_PATH = Path(settings.BASE_DIR) / "docs" / "openapi.yaml"


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})


def _check_database() -> str:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
        return "ok"
    except Exception as exc:  # any driver error means not ready
        logger.warning("readiness: database check failed: %s", exc)
        return f"error: {type(exc).__name__}"


def _check_redis() -> str:
    try:
        redis_client().ping()
        return "ok"
    except Exception as exc:
        logger.warning("readiness: redis check failed: %s", exc)
        return f"error: {type(exc).__name__}"


def _check_workers() -> str:
    from apps.analysis.workers import workers_alive

    try:
        alive = workers_alive()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    WORKERS_ALIVE.set(alive)
    if alive == 0:
        logger.warning("readiness: no worker with its models loaded consumes %s", settings.CELERY_TASK_DEFAULT_QUEUE)
        return "error: no worker ready (none consumes the queue, or it is still loading its models)"
    return f"ok: {alive}"


def _measure_queue() -> None:
    """QUEUE_DEPTH as of now; left as it was when the broker does not answer (the workers'
    and Redis's own checks say so)."""
    from apps.analysis.workers import queue_depth

    try:
        QUEUE_DEPTH.set(queue_depth())
    except Exception as exc:  # noqa: BLE001 - a scrape must not fail on the broker
        logger.warning("metrics: the queue's depth could not be read: %r", exc)


@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Ready when the database and Redis answer and at least one worker consumes the model
    queue (without one, every call that needs the models would fail)."""
    checks = {"database": _check_database(), "redis": _check_redis(),
              "workers": _check_workers()}
    ready = all(value.startswith("ok") for value in checks.values())
    return JsonResponse({"status": "ready" if ready else "not ready", "checks": checks},
                        status=200 if ready else 503)


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    networks = ",".join(settings.METRICS_ALLOWED_NETWORKS)
    if not ip_in_networks(client_ip(request), networks):
        return HttpResponse("forbidden\n", status=403, content_type="text/plain")
    _check_workers()                       # the gauges as of this scrape
    _measure_queue()
    body, content_type = metrics_exposition()
    return HttpResponse(body, content_type=content_type)


@require_GET
def openapi(request: HttpRequest) -> HttpResponse:
    return HttpResponse(OPENAPI_PATH.read_bytes(), content_type="application/yaml")


def _api_error_or(request: HttpRequest, status: int, django_page) -> HttpResponse:
    """The API's own error format on an API path (apps/core/api_errors.py), else Django's page."""
    answer = api_error(request.path, status, getattr(request, "request_id", None))
    if answer is None:
        return django_page()
    status, body = answer
    return JsonResponse(body, status=status, json_dumps_params={"ensure_ascii": False})


def bad_request(request: HttpRequest, exception=None) -> HttpResponse:
    """Django's 400 (a Host not allowed, a body it refused before any view)."""
    return _api_error_or(request, 400, lambda: defaults.bad_request(request, exception))


def permission_denied(request: HttpRequest, exception=None) -> HttpResponse:
    return _api_error_or(request, 403, lambda: defaults.permission_denied(request, exception))


def page_not_found(request: HttpRequest, exception=None) -> HttpResponse:
    return _api_error_or(request, 404, lambda: defaults.page_not_found(request, exception))


def csrf_failure(request: HttpRequest, reason: str = "") -> HttpResponse:
    from django.views.csrf import csrf_failure as django_csrf_failure

    return _api_error_or(request, 403, lambda: django_csrf_failure(request, reason))


def server_error(request: HttpRequest) -> HttpResponse:
    """Last-resort 500: the API's own shape on an API path, FaceID's elsewhere; never a
    traceback."""
    return _api_error_or(request, 500, lambda: JsonResponse(
        {"request_id": getattr(request, "request_id", ""), "time_used": 0,
         "error": "INTERNAL_ERROR"}, status=500))
