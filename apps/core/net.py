import ipaddress
from collections.abc import Mapping
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def client_ip(request: HttpRequest) -> str:
    """The caller's address: the socket peer, or the entry a trusted proxy chain appended."""
    hops = settings.TRUSTED_PROXY_COUNT
    if hops > 0:
        forwarded = [p.strip() for p in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [p for p in forwarded if p]
        if len(forwarded) >= hops:
            return forwarded[-hops]
    return request.META.get("REMOTE_ADDR", "")


def declared_length(meta: Mapping) -> int:
    """The body size a request's CGI-style META / WSGI environ declares (0 when absent or not a
    number)."""
    try:
        return max(int(meta.get("CONTENT_LENGTH") or 0), 0)
    except ValueError:
        return 0


def content_length(request: HttpRequest) -> int:
    """The body size the client declared (0 when absent or not a number)."""
    return declared_length(request.META)


def parse_networks(text: str) -> list[IPNetwork]:
    """Networks written one per line or comma-separated; raises ValueError naming a bad one."""
    networks = []
    for item in text.replace(",", "\n").splitlines():
        item = item.strip()
        if not item:
            continue
        try:
            networks.append(ipaddress.ip_network(item, strict=False))
        except ValueError as exc:
            raise ValueError(f"{item!r} is not an IP network") from exc
    return networks


@lru_cache(maxsize=256)
def _networks_cached(text: str) -> tuple[IPNetwork, ...]:
    return tuple(parse_networks(text))


def ip_in_networks(ip: str, networks_text: str) -> bool:
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    return any(address in network for network in _networks_cached(networks_text))


def ip_or_none(value: str | None) -> str | None:
    """`value` as a normalised IP address, or None when it is not one (for a record's
    client_ip column, which takes only addresses)."""
    try:
        return str(ipaddress.ip_address(value or ""))
    except ValueError:
        return None
