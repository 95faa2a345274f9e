"""The request body at the WSGI edge, before Django sees it (issue 12, item 8).

Two things a WSGI server leaves to the application:

- **Chunked bodies.** gunicorn decodes `Transfer-Encoding: chunked` but gives no Content-Length,
  and Django then reads such a body as empty: a chunked form arrived as "no sign". The body is
  read here, up to the largest body any view accepts (DATA_UPLOAD_MAX_MEMORY_SIZE) and one byte
  more, and handed on with its length; one longer than that is handed on as that many bytes
  with the declared length one past the limit, so every view's own size check refuses it in its
  contract's format, and it is never held past the limit.
- **Unread bodies.** A view that refuses a request without reading its body (413 from
  Content-Length, 401 before the picture) used to be followed by the socket's close while the
  client was still sending: clients that send their whole body before they read (Python's
  urllib, many SDKs) saw a broken pipe instead of the answer. Whatever the view left unread is
  read and dropped after it answers, up to UNREAD_BODY_DRAIN_BYTES within
  UNREAD_BODY_DRAIN_SECONDS; a body beyond those bounds is left (the connection closes, as
  every answer of the sync workers does), so a client cannot hold a web process with it.
"""

import io
import time

from django.conf import settings

from .net import declared_length

CHUNK = 64 * 1024


class CountingInput:
    """wsgi.input that counts what was read from it."""

    def __init__(self, stream):
        self.stream, self.consumed = stream, 0

    def read(self, size: int = -1) -> bytes:
        data = self.stream.read(size) if size is not None and size >= 0 else self.stream.read()
        self.consumed += len(data)
        return data

    def readline(self, size: int = -1) -> bytes:
        data = self.stream.readline(size)
        self.consumed += len(data)
        return data

    def readlines(self, hint: int = -1) -> list[bytes]:
        lines = self.stream.readlines(hint)
        self.consumed += sum(len(line) for line in lines)
        return lines

    def __iter__(self):
        return iter(self.readline, b"")


def _is_chunked(environ: dict) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


def _read_up_to(stream, limit: int) -> bytes:
    parts, size = [], 0
    while size < limit:
        part = stream.read(min(CHUNK, limit - size))
        if not part:
            break
        parts.append(part)
        size += len(part)
    return b"".join(parts)


def drain(stream, most: int, seconds: float) -> int:
    """Reads and drops up to `most` bytes within `seconds`; returns how many."""
    deadline, dropped = time.monotonic() + seconds, 0
    while dropped < most and time.monotonic() < deadline:
        part = stream.read(min(CHUNK, most - dropped))
        if not part:
            break
        dropped += len(part)
    return dropped


class BodyGuard:
    """WSGI middleware around the Django application (liveness_project/wsgi.py)."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        raw = environ.get("wsgi.input")
        if raw is None:
            return self.application(environ, start_response)
        unread: int | None
        if _is_chunked(environ) and not environ.get("CONTENT_LENGTH"):
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = _read_up_to(raw, limit + 1)
            environ["CONTENT_LENGTH"] = str(len(body))
            environ.pop("HTTP_TRANSFER_ENCODING", None)
            environ["wsgi.input"] = CountingInput(io.BytesIO(body))
            unread = None if len(body) > limit else 0   # None: the rest of the stream, unknown
        else:
            environ["wsgi.input"] = CountingInput(raw)
            unread = declared_length(environ)
        counted = environ["wsgi.input"]
        try:
            return self.application(environ, start_response)
        finally:
            left = (settings.UNREAD_BODY_DRAIN_BYTES if unread is None
                    else unread - counted.consumed)
            if 0 < left <= settings.UNREAD_BODY_DRAIN_BYTES:
                drain(raw, left, settings.UNREAD_BODY_DRAIN_SECONDS)
