"""The vendor's request signature (pure functions, no Django).

    raw  = "a={api_key}&b={expire_time}&c={current_time}&d={random}"
    sign = base64( hmac_sha1(api_secret, raw) || raw )        # standard base64

The server recovers api_key and the times from the bytes after the 20-byte HMAC.
"""

import base64
import binascii
import hashlib
import hmac
import re
from dataclasses import dataclass

HMAC_LENGTH = 20
_RAW = re.compile(rb"a=([A-Za-z0-9_\-]{1,64})&b=(\d{1,12})&c=(\d{1,12})&d=(\d{1,10})")


class MalformedSignature(ValueError):
    pass


@dataclass(frozen=True)
class SignedClaims:
    api_key: str
    expire_time: int
    current_time: int
    random: str
    raw: bytes
    mac: bytes

    @property
    def one_time(self) -> bool:
        return self.expire_time == 0


def sign_parse(sign: str) -> SignedClaims:
    try:
        blob = base64.b64decode(sign.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise MalformedSignature("sign is not standard base64") from exc
    mac, raw = blob[:HMAC_LENGTH], blob[HMAC_LENGTH:]
    match = _RAW.fullmatch(raw)
    if len(mac) != HMAC_LENGTH or match is None:
        raise MalformedSignature("sign does not carry a=..&b=..&c=..&d=..")
    api_key, expire_time, current_time, random = match.groups()
    return SignedClaims(api_key=api_key.decode(), expire_time=int(expire_time),
                        current_time=int(current_time), random=random.decode(), raw=raw, mac=mac)


def sign_is_authentic(claims: SignedClaims, api_secret: str) -> bool:
    expected = hmac.new(api_secret.encode(), claims.raw, hashlib.sha1).digest()
    return hmac.compare_digest(expected, claims.mac)


def sign_make(api_key: str, api_secret: str, *, expire_time: int, current_time: int,
              random: str) -> str:
    """For our own tools (SDK mock, benchmarks); tests sign with their own code."""
    raw = f"a={api_key}&b={expire_time}&c={current_time}&d={random}".encode()
    mac = hmac.new(api_secret.encode(), raw, hashlib.sha1).digest()
    return base64.b64encode(mac + raw).decode()
