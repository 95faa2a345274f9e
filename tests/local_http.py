"""Loopback HTTP servers for the URL fetcher's tests: one answering fixed routes, one that
answers as slowly as it is told."""

import http.server
import socket
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager


@contextmanager
def routes_served(routes: dict[str, tuple[int, dict, bytes]]) -> Iterator[str]:
    """Serves {path: (status, headers, body)} on 127.0.0.1; yields the base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the stdlib's name
            status, headers, body = routes.get(self.path, (404, {}, b""))
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()


@contextmanager
def slow_served(answer: Callable[[str], Iterable[bytes]], interval: float,
                give_up_after: float = 8.0,
                http_request: bool = True) -> Iterator[tuple[str, list[str]]]:
    """A loopback server on a raw socket, for servers that misbehave in time: for each
    connection it reads the request, then sends the pieces `answer(path)` yields, `interval`
    seconds apart (the first at once), and keeps the connection open, silent, until the client
    hangs up. Nothing is sent or held past `give_up_after` seconds, so a fetcher that does not
    give up itself still comes back (late) instead of hanging the test run. Yields the base URL
    and the paths requested, in order. http_request=False answers without reading anything
    (for a TLS client, whose first bytes are no HTTP request), as if asked for "/"."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.1)   # accept() wakes up to see `stop`
    stop = threading.Event()
    paths: list[str] = []

    def serve(connection: socket.socket) -> None:
        ends = time.monotonic() + give_up_after
        with connection:
            connection.settimeout(interval)
            request = b"" if http_request else b"GET / HTTP/1.1\r\n\r\n"
            while b"\r\n\r\n" not in request and time.monotonic() < ends and not stop.is_set():
                try:
                    received = connection.recv(4096)
                except TimeoutError:
                    continue
                if not received:
                    return
                request += received
            path = request.split(b" ", 2)[1].decode() if request.count(b" ") >= 2 else "/"
            paths.append(path)
            for number, piece in enumerate(answer(path)):
                if number > 0 and stop.wait(interval):
                    return
                if time.monotonic() > ends:
                    return
                try:
                    connection.sendall(piece)
                except OSError:
                    return   # the client hung up
            while not stop.is_set() and time.monotonic() < ends:
                try:
                    if not connection.recv(4096):
                        return
                except TimeoutError:
                    pass
                except OSError:
                    return

    def accept() -> None:
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            threading.Thread(target=serve, args=(connection,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}", paths
    finally:
        stop.set()
        listener.close()


@contextmanager
def form_receiver(statuses: Iterable[int] = (200,)) -> Iterator[tuple[str, list[dict]]]:
    """A loopback server that records every POST's form (as {name: value}, values decoded) and
    answers the n-th with the n-th of `statuses` (the last one again once they run out).
    Yields the base URL and the forms received, in order."""
    from urllib.parse import parse_qs

    answers = list(statuses)
    received: list[dict] = []
    lock = threading.Lock()

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            form = {name: values[0] for name, values in
                    parse_qs(body.decode(), keep_blank_values=True).items()}
            with lock:
                received.append({**form, "_path": self.path,
                                 "_content_type": self.headers.get("Content-Type")})
                status = answers[min(len(received), len(answers)) - 1]
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", received
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def page_served(title: str) -> Iterator[tuple[str, list[tuple[str, str, dict]]]]:
    """A loopback web page standing for the client's return_url: answers any GET or POST with a
    small HTML page titled `title` that shows what it was sent. Yields the base URL and the
    requests, in order, as (method, path with query, the posted form)."""
    from html import escape
    from urllib.parse import parse_qs

    requests: list[tuple[str, str, dict]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self, form: dict) -> None:
            requests.append((self.command, self.path, form))
            body = (f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{escape(title)}"
                    f"</title></head><body style='font-family: sans-serif; padding: 1rem'>"
                    f"<h1>{escape(title)}</h1><p>{escape(self.command)} {escape(self.path)}</p>"
                    f"<p>{escape(str(form))}</p></body></html>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):  # noqa: N802 - the stdlib's name
            self._answer({})

        def do_POST(self):  # noqa: N802 - the stdlib's name
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._answer({name: values[0] for name, values in
                          parse_qs(body.decode(), keep_blank_values=True).items()})

        def log_message(self, *args):
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", requests
    finally:
        httpd.shutdown()
        httpd.server_close()
