"""Fetching a picture from a caller-given URL without letting the caller reach our network, and
posting a form to one (a callback, `post_form`) under the same rules.

- only http and https, no credentials in the URL; a URL that does not parse (a bad port, an
  unclosed IPv6 bracket, a host that is not a host name) is a FetchError, like any failure;
- the host is resolved once and **every** address it resolves to must be public (not loopback,
  private, link-local, shared, multicast, reserved or unspecified; IPv4-mapped IPv6 is judged
  as IPv4) unless it lies in an allow-listed network; the connection then goes to that checked
  address (the name is kept for the Host header and TLS), so a second DNS answer cannot
  redirect it (DNS rebinding);
- redirects are followed by hand, each target checked the same way, at most `max_redirects`;
- one wall-clock deadline, `timeout_seconds` from the call, for the whole fetch: every name
  lookup, connect, TLS handshake, send and receive of every hop waits at most for the time left
  (a server that trickles its headers or body a byte at a time is cut at the deadline);
- at most `max_bytes` read (Content-Length is believed only when it is too large).
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import re
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import quote, urlencode, urljoin, urlsplit

import certifi

from .net import ip_in_networks

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024
USER_AGENT = "liveness-platform-fetch/1"
# A host name once IDNA-encoded: letters, digits, '-' and '_' in dot-separated labels.
HOST_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*\.?", re.IGNORECASE)
# What may stay as it is in a request target; anything else is percent-encoded.
PATH_SAFE = "/%:@!$&'()*+,;=~"


class FetchError(Exception):
    """The picture could not be fetched; `reason` says why (for logs, never for callers)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class FetchRefused(FetchError):
    """The URL, or an address it leads to, is not one we may connect to."""


class FetchTooLarge(FetchError):
    """The body is larger than allowed."""


@dataclass(frozen=True)
class FetchLimits:
    max_bytes: int
    timeout_seconds: float
    max_redirects: int
    allowed_networks: str = ""   # CIDRs that may be reached although not public


def _time_left(deadline: float) -> float:
    """Seconds until the deadline; FetchError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError("timed out")
    return left


# ------------------------------------------------------------------------------- the URL

@dataclass(frozen=True)
class _Target:
    scheme: str
    host: str          # ASCII: an IDNA-encoded name or an IP literal (IPv6 without brackets)
    port: int
    host_header: str
    path: str          # the request target, percent-encoded


def _parse(url: str) -> _Target:
    """The URL taken apart: FetchError when it does not parse, FetchRefused when it is not one
    we fetch. The catch is for parsing alone: urlsplit, its port and the IDNA codec report a
    malformed URL with ValueError (UnicodeError is one)."""
    try:
        parts = urlsplit(url)
        port = parts.port
        host = _ascii_host(parts.hostname or "")
    except ValueError as exc:
        raise FetchError(f"malformed URL: {exc}") from None
    if parts.scheme not in ("http", "https"):
        raise FetchRefused(f"scheme {parts.scheme!r} is not http or https")
    if parts.username or parts.password:
        raise FetchRefused("credentials in the URL are not accepted")
    if not host:
        raise FetchRefused("the URL has no host")
    if port == 0:
        raise FetchError("malformed URL: port 0")
    literal = f"[{host}]" if ":" in host else host
    path = quote(parts.path or "/", safe=PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=PATH_SAFE + "?")
    return _Target(scheme=parts.scheme, host=host,
                   port=port or (443 if parts.scheme == "https" else 80),
                   host_header=literal if port is None else f"{literal}:{port}", path=path)


def _ascii_host(host: str) -> str:
    """The host as it goes to the resolver, the Host header and TLS; ValueError when it is no
    host name (spaces, empty or over-long labels, characters IDNA refuses)."""
    if not host:
        return ""
    if ":" in host:   # an IPv6 literal, which urlsplit took from its brackets
        return str(ipaddress.IPv6Address(host))
    encoded = host.encode("idna").decode("ascii")
    if len(encoded) > 253 or not HOST_NAME.fullmatch(encoded):
        raise ValueError(f"{host!r} is not a host name")
    return encoded


def _redirected(url: str, location: str) -> str:
    try:
        return urljoin(url, location)
    except ValueError as exc:
        raise FetchError(f"malformed redirect {location!r}: {exc}") from None


# ------------------------------------------------------------------------ the addresses

def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def _resolve(host: str, port: int, deadline: float | None) -> list[str]:
    """The addresses of host. getaddrinfo has no timeout of its own, so it runs in a thread of
    its own, waited for until the deadline; one still running then is abandoned (it ends on the
    resolver's own timeout, from resolv.conf, and its answer is dropped)."""
    answer: list[str] = []
    failure: list[Exception] = []

    def lookup() -> None:
        try:
            infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
            answer.extend(str(info[4][0]).split("%")[0] for info in infos)
        except (OSError, ValueError) as exc:   # gaierror; UnicodeError from the IDNA codec
            failure.append(exc)

    lookup_thread = threading.Thread(target=lookup, name="fetch-resolve", daemon=True)
    lookup_thread.start()
    lookup_thread.join(None if deadline is None else _time_left(deadline))
    if lookup_thread.is_alive():
        raise FetchError(f"timed out resolving {host!r}")
    if failure:
        raise FetchError(f"cannot resolve {host!r}: {failure[0]}")
    return answer


def address_check(host: str, port: int, allowed_networks: str,
                  deadline: float | None = None) -> str:
    """Resolves host and returns an address to connect to; FetchRefused if any is not allowed."""
    addresses = _resolve(host, port, deadline)
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not (address_is_public(address) or
                (allowed_networks and ip_in_networks(text, allowed_networks))):
            raise FetchRefused(f"{host!r} resolves to {text}, which is not a public address")
    return addresses[0]


def url_check(url: str) -> None:
    """The URL's own rules, nothing resolved: FetchRefused or FetchError when fetch_url would
    not even try it (not absolute http or https, credentials, no host, malformed)."""
    _parse(url)


def url_destination_check(url: str, allowed_networks: str, timeout_seconds: float) -> None:
    """The URL's own rules and where it leads now: FetchRefused when its host resolves to an
    address that is not public (outside allowed_networks), FetchError when it cannot be
    resolved within timeout_seconds. For a URL given now and called later (a callback): the
    call itself must still go through fetch's checks, since DNS may answer otherwise then."""
    target = _parse(url)
    address_check(target.host, target.port, allowed_networks,
                  time.monotonic() + timeout_seconds)


# ------------------------------------------------------------------- the deadline sockets

class _DeadlineSocket(socket.socket):
    """A socket whose every send and receive waits at most until `deadline`: the timeout is set
    to the time left before each call. http.client reads the status line, the headers and the
    body through recv_into, in as many calls as the server makes it take; a server sending a
    byte at a time therefore meets the deadline, not a fresh timeout per byte."""

    deadline = 0.0

    def recv_into(self, buffer: WriteableBuffer, nbytes: int = 0, flags: int = 0) -> int:
        self.settimeout(_time_left(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def sendall(self, data: ReadableBuffer, flags: int = 0, /) -> None:
        self.settimeout(_time_left(self.deadline))   # a total for all of sendall
        super().sendall(data, flags)


class _DeadlineSSLSocket(ssl.SSLSocket):
    """_DeadlineSocket's rule over TLS (SSLContext.sslsocket_class makes wrap_socket return it).
    sendall sends through send, so each send is armed."""

    deadline = 0.0

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None,
                  flags: int = 0) -> int:
        self.settimeout(_time_left(self.deadline))
        return super().recv_into(buffer, nbytes, flags)

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        self.settimeout(_time_left(self.deadline))
        return super().send(data, flags)


@functools.cache
def _tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=certifi.where())   # verifies chain and name
    context.sslsocket_class = _DeadlineSSLSocket
    return context


def _connect(target: _Target, address: str, deadline: float) -> socket.socket:
    """A connection to the checked address, TLS for https (certificate checked against the
    URL's host), each step within the time left."""
    plain = _DeadlineSocket(socket.AF_INET6 if ":" in address else socket.AF_INET,
                           socket.SOCK_STREAM)
    plain.deadline = deadline
    try:
        plain.settimeout(_time_left(deadline))
        plain.connect((address, target.port))
        if target.scheme != "https":
            return plain
        tls = _tls_context().wrap_socket(plain, server_hostname=target.host,
                                        do_handshake_on_connect=False)
    except BaseException:
        plain.close()
        raise
    assert isinstance(tls, _DeadlineSSLSocket)
    tls.deadline = deadline
    try:
        # The socket's timeout bounds the whole handshake, however many reads it takes.
        tls.settimeout(_time_left(deadline))
        tls.do_handshake()
    except BaseException:
        tls.close()
        raise
    return tls


class _Connection(http.client.HTTPConnection):
    """http.client writes the request and parses the answer; the socket under it is ours."""

    def __init__(self, target: _Target, address: str, deadline: float):
        super().__init__(target.host, target.port)
        self.target, self.address, self.deadline = target, address, deadline

    def connect(self) -> None:
        self.sock = _connect(self.target, self.address, self.deadline)


# ------------------------------------------------------------------------------ the fetch

def fetch_url(url: str, limits: FetchLimits) -> bytes:
    deadline = time.monotonic() + limits.timeout_seconds
    for _hop in range(limits.max_redirects + 1):
        target = _parse(url)
        address = address_check(target.host, target.port, limits.allowed_networks, deadline)
        connection = _Connection(target, address, deadline)
        response: http.client.HTTPResponse | None = None
        try:
            connection.request("GET", target.path, headers={
                "Host": target.host_header, "Accept": "image/*", "User-Agent": USER_AGENT,
                "Connection": "close"})
            response = connection.getresponse()
            if response.status in REDIRECTS:
                location = response.getheader("Location")
                if not location:
                    raise FetchError("redirect without Location")
                url = _redirected(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            return _read_limited(response, limits.max_bytes, deadline)
        except TimeoutError as exc:
            raise FetchError("timed out") from exc
        except (OSError, http.client.HTTPException) as exc:
            raise FetchError(f"request failed: {exc!r}") from exc
        finally:
            if response is not None:
                response.close()   # its file holds the socket open past connection.close()
            connection.close()
    raise FetchError(f"more than {limits.max_redirects} redirects")


def _read_limited(response: http.client.HTTPResponse, max_bytes: int, deadline: float) -> bytes:
    declared = response.getheader("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"Content-Length {declared} exceeds {max_bytes}")
    body = bytearray()
    while chunk := response.read(CHUNK):
        body.extend(chunk)
        if len(body) > max_bytes:
            raise FetchTooLarge(f"body exceeds {max_bytes} bytes")
        _time_left(deadline)
    if response.length:   # http.client ends a body cut short without a word
        raise FetchError(f"body ended {response.length} bytes short of its Content-Length")
    return bytes(body)


def post_form(url: str, fields: dict[str, str], limits: FetchLimits) -> int:
    """POSTs `fields` form-urlencoded to url under fetch_url's rules (the address checked when
    connecting and connected to as checked, one deadline for everything) and returns the
    answer's status. Redirects are not followed: a 3xx is returned like any other status (a
    callback that moved is a failed delivery, and following it would replay the form
    elsewhere). At most `limits.max_bytes` of the answer are read, then the connection is
    dropped: only the status matters. FetchRefused when the address is not allowed, FetchError
    for every other failure to get a status."""
    deadline = time.monotonic() + limits.timeout_seconds
    target = _parse(url)
    address = address_check(target.host, target.port, limits.allowed_networks, deadline)
    body = urlencode(fields).encode()
    connection = _Connection(target, address, deadline)
    response: http.client.HTTPResponse | None = None
    try:
        connection.request("POST", target.path, body=body, headers={
            "Host": target.host_header, "User-Agent": USER_AGENT, "Connection": "close",
            "Content-Type": "application/x-www-form-urlencoded",
            "Content-Length": str(len(body))})
        response = connection.getresponse()
        try:   # the body is not used: read a little, politely, and never fail for it
            response.read(limits.max_bytes)
        except (FetchError, OSError, http.client.HTTPException):
            pass
        return response.status
    except TimeoutError as exc:
        raise FetchError("timed out") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise FetchError(f"request failed: {exc!r}") from exc
    finally:
        if response is not None:
            response.close()
        connection.close()
