"""gunicorn's sync worker, answering its own errors in JSON instead of HTML pages.

gunicorn refuses some requests before the application sees them (a request line or headers past
its limits: 414, 431; a malformed line or header: 400) with an HTML page; on an API path an
API client must get its API's format (apps/core/api_errors.py). gunicorn builds its answer in
`handle_error`: the status it chose is taken from there and the body replaced.
"""

import json

from gunicorn import util
from gunicorn.workers.sync import SyncWorker


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML answer."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


def json_error(status: int, path: str | None) -> bytes:
    try:
        from apps.core.api_errors import api_error

        # a path on no API still gets JSON here, never a page: api_error(None, ...) always answers
        answer = api_error(path, status) or api_error(None, status)
        assert answer is not None
        status, body = answer
    except Exception:               # the application did not load: no registry to ask
        reason = {414: "URI_TOO_LONG", 431: "HEADERS_TOO_LARGE"}.get(status, "BAD_REQUEST")
        body = {"request_id": "", "time_used": 0, "error": reason, "code": status, "msg": reason}
    payload = json.dumps(body, ensure_ascii=False).encode()
    reason_phrase = {400: "Bad Request", 403: "Forbidden", 414: "URI Too Long",
                     417: "Expectation Failed", 431: "Request Header Fields Too Large",
                     500: "Internal Server Error", 501: "Not Implemented"}.get(status, "Error")
    return (f"HTTP/1.1 {status} {reason_phrase}\r\nConnection: close\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
            ).encode("latin-1") + payload


class JsonErrorSyncWorker(SyncWorker):
    def handle_error(self, req, client, addr, exc):
        capture = _Capture()
        super().handle_error(req, capture, addr, exc)      # logs, and picks the status
        try:
            status = int(capture.data.split(b" ", 2)[1])
        except (IndexError, ValueError):
            status = 500
        request = req or getattr(exc, "req", None)
        path = getattr(request, "path", None) or None
        try:
            util.write_nonblock(client, json_error(status, path))
        except Exception:
            self.log.debug("Failed to send error message.")
