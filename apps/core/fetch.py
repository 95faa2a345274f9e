"""Fetching a picture from a caller-given URL without letting the caller reach our network.

- only http and https, no credentials in the URL;
- the host is resolved once and **every** address it resolves to must be public (not loopback,
  private, link-local, shared, multicast, reserved or unspecified; IPv4-mapped IPv6 is judged
  as IPv4) unless it lies in an allow-listed network; the connection then goes to that checked
  address (the name is kept for the Host header and TLS), so a second DNS answer cannot
  redirect it (DNS rebinding);
- redirects are followed by hand, each target checked the same way, at most `max_redirects`;
- one deadline for the whole fetch, and at most `max_bytes` read (Content-Length is believed
  only when it is too large).
"""

import ipaddress
import socket
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import certifi
import urllib3

from .net import ip_in_networks

REDIRECTS = {301, 302, 303, 307, 308}
CHUNK = 64 * 1024


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


def address_is_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return address.is_global and not address.is_multicast


def address_check(host: str, port: int, allowed_networks: str) -> str:
    """Resolves host and returns an address to connect to; FetchRefused if any is not allowed."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(f"cannot resolve {host!r}: {exc}") from exc
    addresses = [str(info[4][0]).split("%")[0] for info in infos]
    if not addresses:
        raise FetchError(f"{host!r} has no address")
    for text in addresses:
        address = ipaddress.ip_address(text)
        if not (address_is_public(address) or
                (allowed_networks and ip_in_networks(text, allowed_networks))):
            raise FetchRefused(f"{host!r} resolves to {text}, which is not a public address")
    return addresses[0]


def _pool(scheme: str, host: str, address: str, port: int, timeout: float):
    timeouts = urllib3.Timeout(connect=timeout, read=timeout)
    if scheme == "https":
        return urllib3.HTTPSConnectionPool(
            address, port, timeout=timeouts, retries=False, maxsize=1,
            server_hostname=host, assert_hostname=host, cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where())
    return urllib3.HTTPConnectionPool(address, port, timeout=timeouts, retries=False, maxsize=1)


def fetch_url(url: str, limits: FetchLimits) -> bytes:
    deadline = time.monotonic() + limits.timeout_seconds
    for _hop in range(limits.max_redirects + 1):
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchRefused(f"scheme {parts.scheme!r} is not http or https")
        if parts.username or parts.password:
            raise FetchRefused("credentials in the URL are not accepted")
        host = parts.hostname
        if not host:
            raise FetchRefused("the URL has no host")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError as exc:
            raise FetchRefused(f"bad port: {exc}") from exc
        address = address_check(host, port, limits.allowed_networks)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise FetchError("timed out")
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        host_header = host if parts.port is None else f"{host}:{parts.port}"
        if ":" in host and parts.port is None:
            host_header = f"[{host}]"
        pool = _pool(parts.scheme, host, address, port, remaining)
        try:
            response = pool.urlopen("GET", target, redirect=False, retries=False,
                                    preload_content=False,
                                    headers={"Host": host_header, "Accept": "image/*",
                                             "User-Agent": "liveness-platform-fetch/1"})
        except urllib3.exceptions.HTTPError as exc:
            raise FetchError(f"request failed: {exc}") from exc
        try:
            if response.status in REDIRECTS:
                location = response.headers.get("Location")
                if not location:
                    raise FetchError("redirect without Location")
                url = urljoin(url, location)
                continue
            if response.status != 200:
                raise FetchError(f"HTTP {response.status}")
            return _read_limited(response, limits.max_bytes, deadline)
        finally:
            response.release_conn()
            pool.close()
    raise FetchError(f"more than {limits.max_redirects} redirects")


def _read_limited(response, max_bytes: int, deadline: float) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise FetchTooLarge(f"Content-Length {declared} exceeds {max_bytes}")
    body = bytearray()
    try:
        for chunk in response.stream(CHUNK):
            body.extend(chunk)
            if len(body) > max_bytes:
                raise FetchTooLarge(f"body exceeds {max_bytes} bytes")
            if time.monotonic() > deadline:
                raise FetchError("timed out while reading")
    except urllib3.exceptions.HTTPError as exc:
        raise FetchError(f"read failed: {exc}") from exc
    return bytes(body)
