"""Transport edges through real gunicorn (issue 12, item 8): a refused body's answer reaches a
client that sends its whole body first; chunked bodies are read, and held to the size limit;
no HTML page reaches an API path, whether gunicorn or Django refuses the request."""

import json
import socket
import urllib.error
import urllib.request

import httpx
import pytest

from .conftest import GET_BIZ_TOKEN, split_form, still_form

pytestmark = pytest.mark.slow

FACE_LIVENESS = "/api/face_liveness/v1"
IMAGE_LIVENESS = "/api/image_liveness"
BIO = "/biap/face/bio-detection"


@pytest.fixture
def server(start_gunicorn):
    return start_gunicorn(workers=2)


def raw_exchange(url: str, request: bytes, timeout: float = 15) -> tuple[int, dict, bytes]:
    """Sends `request` as is on a new connection; (status, headers, body) of the answer."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as sock:
        sock.sendall(request)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {k.strip().lower(): v.strip() for k, v in
               (line.split(":", 1) for line in lines[1:] if ":" in line)}
    if headers.get("transfer-encoding") == "chunked":
        decoded, rest = b"", body
        while rest:
            size_line, _, rest = rest.partition(b"\r\n")
            size = int(size_line, 16)
            if size == 0:
                break
            decoded, rest = decoded + rest[:size], rest[size + 2:]
        body = decoded
    return int(lines[0].split()[1]), headers, body


def urllib_post(url: str, body: bytes, content_type: str) -> tuple[int, bytes]:
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": content_type})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def test_a_refused_oversized_body_is_answered_to_a_client_that_sends_it_all_first(server):
    """urllib writes the whole body before it reads: the answer used to be lost to a broken
    pipe, because the view refused from Content-Length and the socket closed mid-upload."""
    big = b"x" * (25 * 1024 * 1024)
    status, body = urllib_post(server.url + GET_BIZ_TOKEN, big, "multipart/form-data; boundary=b")
    assert (status, body) == (413, b"Request Entity Too Large")
    status, body = urllib_post(server.url + IMAGE_LIVENESS, big, "application/json")
    assert status == 200 and json.loads(body)["code"] == 5          # seed 002: too large
    status, body = urllib_post(server.url + BIO, big, "application/json")
    assert status == 200 and json.loads(body)["code"] == "200003"   # seed 000: too large


def _chunked(content: bytes, piece: int = 4096):
    for start in range(0, len(content), piece):
        yield content[start:start + piece]


def test_a_chunked_form_is_read_like_any_other(acme, server):
    """gunicorn decodes chunking but gives no Content-Length, and Django read such a body as
    empty ("MISSING_ARGUMENTS: sign")."""
    data, files = split_form(still_form(acme))
    encoded = httpx.Request("POST", server.url + GET_BIZ_TOKEN, data=data, files=files)
    with server.client() as http:
        response = http.post(GET_BIZ_TOKEN, content=_chunked(encoded.read()),
                             headers={"Content-Type": encoded.headers["Content-Type"]})
    assert response.request.headers.get("Transfer-Encoding") == "chunked"   # the premise
    assert response.status_code == 200, response.text
    assert response.json()["biz_token"]


def test_a_chunked_body_past_the_limit_is_refused_in_the_contracts_format(acme, server):
    big = b"x" * (40 * 1024 * 1024)
    with server.client() as http:
        faceid = http.post(GET_BIZ_TOKEN, content=_chunked(big, 1 << 20),
                           headers={"Content-Type": "multipart/form-data; boundary=b"})
        liveness = http.post(FACE_LIVENESS, content=_chunked(big, 1 << 20),
                             headers={"Content-Type": "application/json"})
    assert (faceid.status_code, faceid.content) == (413, b"Request Entity Too Large")
    assert liveness.status_code in (200, 401)
    assert liveness.json()["code"] in (4001, 401) and liveness.json()["success"] is False


def _get(path: str, extra_headers: bytes = b"", host: bytes = b"127.0.0.1") -> bytes:
    return (b"GET " + path.encode() + b" HTTP/1.1\r\nHost: " + host + b"\r\n" + extra_headers
            + b"Connection: close\r\n\r\n")


def test_no_html_page_on_an_api_path(server):
    """Each answer below was an HTML page (gunicorn's 414/431/400, Django's 400/404)."""
    long_path = FACE_LIVENESS + "?x=" + "a" * 9000
    cases = {
        "request line too long": (_get(long_path), 414),
        "header too large": (_get(FACE_LIVENESS, b"X-Big: " + b"a" * 9000 + b"\r\n"), 431),
        "too many headers": (_get(FACE_LIVENESS, b"".join(b"X-%d: 1\r\n" % i
                                                          for i in range(150))), 431),
        "broken header": (_get(FACE_LIVENESS, b"Broken Header\r\n"), 400),
        "broken method": (b"G@T " + FACE_LIVENESS.encode() + b" HTTP/1.1\r\nHost: x\r\n\r\n",
                          400),
    }
    for name, (request, status) in cases.items():
        got, headers, body = raw_exchange(server.url, request)
        assert got == status, name
        assert headers["content-type"].startswith("application/json"), (name, body[:200])
        answer = json.loads(body)
        # gunicorn could not read the path: the generic body, read by both families
        assert {"request_id", "time_used", "error", "code", "msg"} <= set(answer), name


@pytest.mark.parametrize("path,status,expect", [
    ("/api/nothing", 404, {"code": 404, "error": "NOT_FOUND"}),
    ("/biap/face/other", 404, {"code": "200006"}),
    ("/api/face_liveness/v2", 404, {"code": 4001, "success": False}),
    ("/faceid/v9/anything", 404, {"error": "API_NOT_FOUND"}),
])
def test_an_unknown_path_under_an_api_is_answered_in_that_apis_format(server, path, status,
                                                                        expect):
    got, headers, body = raw_exchange(server.url, _get(path))
    assert got == status and headers["content-type"].startswith("application/json"), body[:200]
    assert expect.items() <= json.loads(body).items()


@pytest.mark.parametrize("path,expect", [
    (FACE_LIVENESS, {"code": 4001, "success": False}),
    (IMAGE_LIVENESS, {"code": 1}),
    (BIO, {"code": "200006"}),
    (GET_BIZ_TOKEN, {"error": "BAD_ARGUMENTS: BAD_REQUEST"}),
])
def test_a_host_not_allowed_is_refused_in_the_apis_format(server, path, expect):
    got, headers, body = raw_exchange(server.url, _get(path, host=b"evil.example"))
    assert got == 400 and headers["content-type"].startswith("application/json"), body[:200]
    assert expect.items() <= json.loads(body).items()


def test_pages_off_the_apis_stay_django_pages(server):
    got, headers, _ = raw_exchange(server.url, _get("/no-such-page"))
    assert got == 404 and headers["content-type"].startswith("text/html")
