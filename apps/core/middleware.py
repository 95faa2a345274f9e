import logging
import time

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from .metrics import HTTP_LATENCY, HTTP_REQUESTS
from .net import content_length
from .request_context import current_request_id, request_id_new

access_log = logging.getLogger("liveness.access")

TOO_LARGE_BODY = "Request Entity Too Large"


def limits_own_body(view_func) -> bool:
    """Whether a view refuses oversized bodies itself, in its contract's format: a view class
    says so with `limits_own_body = True` (the single-image APIs)."""
    view = getattr(view_func, "view_class", view_func)
    return bool(getattr(view, "limits_own_body", False))


class RequestContextMiddleware:
    """Gives each request its request_id, refuses oversized bodies, logs and counts the result.

    The size check (process_view: once the view is known, before anything reads the body) reads
    only Content-Length, so a 1 GB upload is refused before any of it is parsed. The vendor
    contract answers this case in plain text, not JSON. Views that limit their own body size
    are asked, not listed here by path.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request_id = request_id_new()
        token = current_request_id.set(request_id)
        request.request_id = request_id
        request.started_at = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-Id"] = request_id
            self._observe(request, response)
            return response
        finally:
            current_request_id.reset(token)

    def process_view(self, request: HttpRequest, view_func, view_args, view_kwargs):
        if content_length(request) > settings.FACEID_MAX_REQUEST_BYTES and not limits_own_body(
                view_func):
            return HttpResponse(TOO_LARGE_BODY, status=413, content_type="text/plain; charset=utf-8")
        return None

    def _observe(self, request: HttpRequest, response: HttpResponse) -> None:
        elapsed = time.perf_counter() - request.started_at
        match = getattr(request, "resolver_match", None)
        view = (match.url_name or match.view_name) if match else "unmatched"
        HTTP_REQUESTS.labels(view, request.method, str(response.status_code)).inc()
        HTTP_LATENCY.labels(view).observe(elapsed)
        access_log.info(
            "%s %s %s",
            request.method,
            request.path,
            response.status_code,
            extra={"status": response.status_code, "duration_ms": round(elapsed * 1000, 2),
                   "view": view},
        )
