"""gunicorn's sync worker, answering its own errors in JSON instead of HTML pages.

gunicorn refuses some requests before the application sees them (a request line or headers past
its limits: 414, 431; a malformed line or header: 400) with an HTML page; on an API path an
API client must get its API's format (apps/core/api_errors.py). gunicorn builds its answer in
`handle_error`: the status it chose is taken from there and the body replaced.
"""

import json
from http import HTTPStatus

from gunicorn import util
from gunicorn.workers.sync import SyncWorker

from apps.core.api_errors import api_error


class _Capture:
    """Stands in for the client socket while gunicorn writes its HTML answer."""

    def __init__(self):
        self.data = b""

    def gettimeout(self):
        return 0.0

    def sendall(self, data: bytes) -> None:
        self.data += data


def json_error(status: int, path: str | None) -> bytes:
    """gunicorn's status with the asked API's JSON body; a path on no API, or none read, gets
    the generic body (api_errors needs no Django: its registry is simply empty before the
    application has loaded)."""
    answer = api_error(path, status) or api_error(None, status)
    assert answer is not None            # api_error(None, ...) always answers
    status, body = answer
    payload = json.dumps(body, ensure_ascii=False).encode()
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return (f"HTTP/1.1 {status} {phrase}\r\nConnection: close\r\n"
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
