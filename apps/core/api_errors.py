"""Answers the web stack gives before any view runs, in the format of the API whose path was asked
(issue 12, item 8): an unknown path, a Host header not allowed, a request line or headers too
long for gunicorn, a malformed request. Each API registers how its errors look, under its path
prefix (the apps' ready()); Django's handlers (apps/core/views.py) and gunicorn's worker
(liveness_project/gunicorn_worker.py) ask here. A path on no API (the admin, say) gets Django's
own page.

When gunicorn cannot read the path at all (a request line past its limit, a broken first line),
the answer is `generic_body`: JSON carrying the fields both families of contract read
(`request_id`, `time_used`, `error` of FaceID; `code`, `msg` of the single-image APIs), with the
HTTP status saying what was wrong.
"""

from collections.abc import Callable

from .request_context import request_id_new

# (HTTP status, reason, request_id) -> (HTTP status, JSON body)
ErrorFormat = Callable[[int, str, str], tuple[int, dict]]

_FORMATS: dict[str, ErrorFormat] = {}

REASONS = {400: "BAD_REQUEST", 403: "FORBIDDEN", 404: "NOT_FOUND", 405: "METHOD_NOT_ALLOWED",
           413: "REQUEST_TOO_LARGE", 414: "URI_TOO_LONG", 417: "EXPECTATION_FAILED",
           431: "HEADERS_TOO_LARGE", 500: "INTERNAL_ERROR", 501: "NOT_IMPLEMENTED"}


def reason_of(status: int) -> str:
    return REASONS.get(status, "BAD_REQUEST" if status < 500 else "INTERNAL_ERROR")


def register(prefix: str, error_format: ErrorFormat) -> None:
    """Answers under paths starting with `prefix` (the longest registered prefix wins)."""
    _FORMATS[prefix] = error_format


def generic_body(status: int, reason: str, request_id: str) -> dict:
    return {"request_id": request_id, "time_used": 0, "error": reason, "code": status,
            "msg": reason}


def api_error(path: str | None, status: int, request_id: str | None = None,
              ) -> tuple[int, dict] | None:
    """(status, body) for an error on `path` (None: a path nobody could read), or None when
    the path is on no API."""
    request_id = request_id or request_id_new()
    reason = reason_of(status)
    if path is None:
        return status, generic_body(status, reason, request_id)
    matches = [prefix for prefix in _FORMATS if path.startswith(prefix)]
    if not matches:
        return None
    return _FORMATS[max(matches, key=len)](status, reason, request_id)
