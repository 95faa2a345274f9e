"""Sealing meglive_data, version 1, from the documented format (docs/SDK.md)."""

import base64
import hashlib
import hmac
import json

PREFIX = b"MGLV1."


def _b64url(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def key_from_text(package_key: str) -> bytes:
    return base64.urlsafe_b64decode(package_key + "=" * (-len(package_key) % 4))


def seal(*, biz_token: str, challenge_id: str, frames: list[tuple[float, bytes]],
         device: dict, key: bytes) -> bytes:
    """frames: (milliseconds since the capture started, JPEG bytes)."""
    payload = {"version": 1, "biz_token": biz_token, "challenge_id": challenge_id,
               "device": device,
               "frames": [{"t": round(t, 1), "jpeg": base64.b64encode(jpeg).decode()}
                          for t, jpeg in frames]}
    body = PREFIX + _b64url(json.dumps(payload, separators=(",", ":")).encode())
    return body + b"." + _b64url(hmac.new(key, body, hashlib.sha256).digest())
