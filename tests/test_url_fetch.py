"""The URL fetcher of seed 002: traffic only to loopback servers these tests run; private and
link-local targets are refused at the address check, before any connection is tried."""

import socket
import sys
from contextlib import contextmanager

import pytest

from apps.core.fetch import (
    FetchError,
    FetchLimits,
    FetchRefused,
    FetchTooLarge,
    address_check,
    fetch_url,
)

from .local_http import routes_served

LOOPBACK = "127.0.0.1/32"
PICTURE = b"\x89PNG fake picture bytes" * 100

# Every socket connection this process attempts, as (address, port), seen through the
# interpreter's audit hook (not a mock: the real socket module reports it).
_connections: list = []
_recording = {"on": False}


def _audit(event, args):
    if event == "socket.connect" and _recording["on"]:
        _connections.append(args[1])


sys.addaudithook(_audit)


@contextmanager
def connections_recorded():
    _connections.clear()
    _recording["on"] = True
    try:
        yield _connections
    finally:
        _recording["on"] = False


@pytest.fixture(scope="module")
def server():
    with routes_served({
        "/face.png": (200, {"Content-Type": "image/png"}, PICTURE),
        "/big.png": (200, {}, b"x" * 5000),
        "/to-face": (302, {"Location": "/face.png"}, b""),
        "/to-private": (302, {"Location": "http://10.20.30.40/face.png"}, b""),
        "/to-metadata": (301, {"Location": "http://169.254.169.254/latest/meta-data/"}, b""),
        "/loop": (302, {"Location": "/loop"}, b""),
        "/gone": (404, {}, b""),
    }) as base:
        yield base


def limits(allowed: str = LOOPBACK, max_bytes: int = 4096) -> FetchLimits:
    return FetchLimits(max_bytes=max_bytes, timeout_seconds=5, max_redirects=3,
                       allowed_networks=allowed)


def test_an_allowed_server_is_fetched_and_redirects_followed(server):
    assert fetch_url(server + "/face.png", limits(max_bytes=10_000)) == PICTURE
    assert fetch_url(server + "/to-face", limits(max_bytes=10_000)) == PICTURE


def test_loopback_is_refused_unless_allow_listed(server):
    port = server.rsplit(":", 1)[1]
    for url in (server + "/face.png", f"http://localhost:{port}/face.png",
                f"http://[::1]:{port}/face.png", f"http://[::ffff:127.0.0.1]:{port}/x",
                f"http://0x7f000001:{port}/x", f"http://2130706433:{port}/x"):
        with connections_recorded() as seen, pytest.raises(FetchRefused, match="not a public"):
            fetch_url(url, limits(allowed=""))
        assert seen == [], url


@pytest.mark.parametrize("url", [
    "http://10.0.0.1/face.png", "http://172.16.5.4/", "http://192.168.1.10:8080/x.jpg",
    "http://169.254.169.254/latest/meta-data/", "http://[fe80::1]/x", "http://[fc00::5]/x",
    "http://100.64.0.1/x", "http://0.0.0.0/x", "http://224.0.0.1/x"
])
def test_private_and_link_local_targets_are_refused_before_any_connection(url):
    with connections_recorded() as seen, pytest.raises(FetchRefused):
        fetch_url(url, limits())
    assert seen == []


def test_the_address_check_judges_every_address_a_name_has():
    with pytest.raises(FetchRefused):
        address_check("localhost", 80, "")
    assert address_check("localhost", 80, "127.0.0.0/8,::1/128") in ("127.0.0.1", "::1")


def test_redirects_to_private_addresses_are_refused(server):
    for path, target in (("/to-private", ("10.20.30.40", 80)),
                         ("/to-metadata", ("169.254.169.254", 80))):
        with connections_recorded() as seen, pytest.raises(FetchRefused):
            fetch_url(server + path, limits())
        assert target not in seen and len(seen) == 1   # only the loopback server was reached


def test_schemes_credentials_sizes_loops_and_errors(server):
    for url in ("ftp://example.com/x.png", "file:///etc/passwd", "gopher://x/",
                "http://user:pw@example.com/x.png", "http:///nohost"):
        with pytest.raises(FetchRefused):
            fetch_url(url, limits())
    with pytest.raises(FetchTooLarge):
        fetch_url(server + "/big.png", limits(max_bytes=1000))
    with pytest.raises(FetchError, match="redirects"):
        fetch_url(server + "/loop", limits())
    with pytest.raises(FetchError, match="HTTP 404"):
        fetch_url(server + "/gone", limits())
    with pytest.raises(FetchError, match="cannot resolve"):
        fetch_url("http://no-such-host.invalid/x.png", limits())


def test_a_server_that_never_answers_times_out():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never answers
    try:
        port = listener.getsockname()[1]
        quick = FetchLimits(max_bytes=100, timeout_seconds=0.5, max_redirects=0,
                            allowed_networks=LOOPBACK)
        with pytest.raises(FetchError):
            fetch_url(f"http://127.0.0.1:{port}/x", quick)
    finally:
        listener.close()
