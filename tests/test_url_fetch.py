"""The URL fetcher of seed 002: traffic only to loopback servers these tests run; private and
link-local targets are refused at the address check, before any connection is tried."""

import itertools
import socket
import sys
import time
from contextlib import contextmanager

import pytest

from apps.core.fetch import (
    FetchError,
    FetchLimits,
    FetchRefused,
    FetchTooLarge,
    address_check,
    fetch_url,
    post_form,
)

from .local_http import form_receiver, routes_served, slow_served

LOOPBACK = "127.0.0.1/32"
PICTURE = b"\x89PNG fake picture bytes" * 100

# Every socket connection this process attempts, as (address, port), and every name it looks
# up, seen through the interpreter's audit hook (not a mock: the real socket module reports it).
_connections: list = []
_lookups: list = []
_recording = {"on": False}


SLOW_NAME = "slow-resolver.invalid"   # its lookups take 3 s before failing (see _audit)


def _audit(event, args):
    if event == "socket.getaddrinfo" and args[0] == SLOW_NAME:
        time.sleep(3)   # a resolver that is slow to answer: the real lookup, started late
    if _recording["on"]:
        if event == "socket.connect":
            _connections.append(args[1])
        elif event == "socket.getaddrinfo":
            _lookups.append(args[0])


sys.addaudithook(_audit)


@contextmanager
def connections_recorded():
    _connections.clear()
    _lookups.clear()
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
        "/to-malformed": (302, {"Location": "http://[::1/x"}, b""),
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


@pytest.mark.parametrize("url", [
    "http://[::1/", "http://[::1/face.png", "http://[not-ipv6]/", "http://:80/",
    "http://exa mple.com/", "http://example.com:99999/", "http://example.com:0/",
    "http://example.com:-1/", "http://example.com:8o/",
    "http://" + "a" * 300 + ".com/", "http://" + "a." * 130 + "com/",
    "http://" + "ä" * 70 + ".com/", "http://bad\ufffdhost.com/", "http://exa\u2100mple.com/",
    "http://a..b/", "http://exa\x00mple.com/",
])
def test_malformed_urls_are_a_fetch_error_before_any_lookup(url):
    with connections_recorded() as seen, pytest.raises(FetchError):
        fetch_url(url, limits())
    assert seen == [] and _lookups == []


def test_a_malformed_redirect_is_a_fetch_error(server):
    with pytest.raises(FetchError, match="malformed"):
        fetch_url(server + "/to-malformed", limits())


# ----------------------------------------------------------- one deadline for the whole fetch

DEADLINE = 2.0


def fetch_timed(url: str, max_redirects: int = 0, deadline: float = DEADLINE) -> float:
    """Fetches url under the deadline, expects it timed out; returns the seconds it took."""
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch_url(url, FetchLimits(max_bytes=10_000_000, timeout_seconds=deadline,
                                   max_redirects=max_redirects, allowed_networks=LOOPBACK))
    return time.monotonic() - started


def head_then_drip(_path: str):
    """Whole headers at once, then a body one byte at a time, forever."""
    yield b"HTTP/1.1 200 OK\r\nContent-Type: image/png\r\n\r\n"
    yield from itertools.repeat(b"x")


def test_a_body_sent_one_byte_at_a_time_is_cut_at_the_deadline():
    with slow_served(head_then_drip, interval=0.5) as (base, _paths):
        assert DEADLINE - 0.1 < fetch_timed(base + "/face.png") < DEADLINE + 1.5


def test_headers_sent_one_byte_at_a_time_are_cut_at_the_deadline():
    response = b"HTTP/1.1 200 OK\r\n" + b"X-Slow: " + b"y" * 1000 + b"\r\n\r\n"
    with slow_served(lambda _path: (bytes([byte]) for byte in response), interval=0.2) as (
            base, _paths):
        assert DEADLINE - 0.1 < fetch_timed(base + "/face.png") < DEADLINE + 1.5


def test_a_server_that_accepts_and_never_answers_is_cut_at_the_deadline():
    with slow_served(lambda _path: (), interval=0.1) as (base, paths):
        assert DEADLINE - 0.1 < fetch_timed(base + "/face.png") < DEADLINE + 1.5
    assert paths == ["/face.png"]


def test_a_tls_handshake_trickled_a_byte_at_a_time_is_cut_at_the_deadline():
    """A TLS record header announcing 16 KiB of handshake, then its bytes five a second."""
    def trickled_handshake(_path: str):
        yield b"\x16\x03\x03\x40\x00"
        yield from itertools.repeat(b"\x02")

    with slow_served(trickled_handshake, interval=0.2, http_request=False) as (base, _paths):
        url = base.replace("http://", "https://") + "/face.png"
        assert DEADLINE - 0.1 < fetch_timed(url) < DEADLINE + 1.5


def test_a_slow_name_lookup_is_cut_at_the_deadline():
    started = time.monotonic()
    with pytest.raises(FetchError, match="timed out resolving"):
        fetch_url(f"http://{SLOW_NAME}/face.png", FetchLimits(
            max_bytes=100, timeout_seconds=1, max_redirects=0, allowed_networks=LOOPBACK))
    assert 0.9 < time.monotonic() - started < 1 + 1.5


def test_the_deadline_covers_the_redirect_chain_not_each_hop():
    """Each hop trickles its redirect out over 2.2 s, under the 3 s deadline: the second hop is
    cut when the 3 s are up (not after it, at 4.4 s, nor after ten hops of 2.2 s)."""
    def redirect_slowly(path: str):
        hop = int(path.rsplit("/", 1)[1])
        response = (f"HTTP/1.1 302 Found\r\nLocation: /hop/{hop + 1}\r\n"
                    "Content-Length: 0\r\n\r\n").encode()
        pieces = 45   # 44 intervals of 0.05 s
        return (response[n * len(response) // pieces:(n + 1) * len(response) // pieces]
                for n in range(pieces))

    with slow_served(redirect_slowly, interval=0.05) as (base, paths):
        elapsed = fetch_timed(base + "/hop/1", max_redirects=10, deadline=3.0)
    assert 2.9 < elapsed < 3.8
    assert paths == ["/hop/1", "/hop/2"]


# ------------------------------------------------------------- posting a form (callbacks)


def test_a_form_is_posted_and_its_status_returned_redirects_not_followed():
    with form_receiver([204, 302, 500]) as (base, received):
        assert post_form(base + "/notify?shop=7", {"data": '{"a": "é & ="}', "sign": "ab"},
                         limits()) == 204
        assert post_form(base + "/notify", {"data": "x"}, limits()) == 302   # not followed
        assert post_form(base + "/notify", {"data": "x"}, limits()) == 500
    assert received[0]["data"] == '{"a": "é & ="}' and received[0]["sign"] == "ab"
    assert received[0]["_path"] == "/notify?shop=7"
    assert received[0]["_content_type"] == "application/x-www-form-urlencoded"
    assert len(received) == 3


def test_a_post_to_an_address_not_allowed_is_refused_before_any_connection():
    with form_receiver() as (base, received):
        for url in (base + "/notify", "http://10.0.0.5/notify", "http://169.254.169.254/x"):
            with connections_recorded() as seen, pytest.raises(FetchRefused):
                post_form(url, {"data": "x"}, limits(allowed=""))
            assert seen == [], url
    assert received == []


def test_a_post_to_a_server_that_never_answers_is_cut_at_the_deadline():
    started = time.monotonic()
    with slow_served(lambda _path: (), interval=0.1) as (base, _paths), \
            pytest.raises(FetchError, match="timed out"):
        post_form(base + "/notify", {"data": "x"}, FetchLimits(
            max_bytes=100, timeout_seconds=DEADLINE, max_redirects=0, allowed_networks=LOOPBACK))
    assert DEADLINE - 0.1 < time.monotonic() - started < DEADLINE + 1.5
