"""`meglive_data`: the SDK's capture, sealed so the server can trust it (docs/SDK.md).

Wire format, version 1 (ASCII):  MGLV1.<payload>.<mac>
- payload: base64url (no padding) of UTF-8 JSON {"version": 1, "biz_token", "challenge_id",
  "device": {...}, "frames": [{"t": ms since capture start, "jpeg": base64}, ...]}; "device" is
  optional, and with its risk flags it is the SDK's device report (apps/faceid/devices.py);
- mac: base64url of HMAC-SHA256(package_key, "MGLV1." + payload).

The package_key is given to the SDK with its challenge and is derived here from the server's
key, the biz_token and the challenge_id, so nothing is stored and no one can seal a package for
a token without the key of that token's challenge.
"""

import base64
import binascii
import hashlib
import hmac
import json

from django.conf import settings

from apps.core.images import ImageRejected, image_check

from .devices import device_report_problem

PREFIX = b"MGLV1."
VERSION = 1
MAX_FRAMES = 150
MAX_FRAME_BYTES = 2 * 1024 * 1024


class PackageError(Exception):
    """The package is malformed, tampered with or of an unknown version."""


def package_key(biz_token: str, challenge_id: str) -> bytes:
    master = hashlib.sha256(b"meglive-package|" + settings.FIELD_ENCRYPTION_KEY.encode()).digest()
    return hmac.new(master, f"{biz_token}|{challenge_id}".encode(), hashlib.sha256).digest()


def _unb64url(data: bytes) -> bytes:
    return base64.urlsafe_b64decode(data + b"=" * (-len(data) % 4))


def _sealed_by(key: bytes, payload_b64: bytes, mac: bytes) -> bool:
    expected = hmac.new(key, PREFIX + payload_b64, hashlib.sha256).digest()
    return hmac.compare_digest(expected, mac)


def _payload_parse(payload_b64: bytes) -> dict:
    """The payload's JSON, or PackageError for whatever no parser reads (not base64 or UTF-8,
    nesting past the recursion limit, integers over 4300 digits, numbers out of range)."""
    try:
        payload = json.loads(_unb64url(payload_b64))
    except (binascii.Error, ValueError, UnicodeDecodeError, RecursionError,
            OverflowError) as exc:
        raise PackageError(f"undecodable: {type(exc).__name__}") from None
    if not isinstance(payload, dict) or payload.get("version") != VERSION:
        raise PackageError("unknown version")
    return payload


def package_open(blob: bytes, *, biz_token: str | None = None,
                 challenge_id: str | None = None) -> dict:
    """The payload of a genuine package; PackageError otherwise. Frames stay base64.

    The MAC is checked first, under the key of the session being verified (`biz_token` and its
    current `challenge_id`): its package is parsed only once it is known to be sealed. Only a
    package that is not (another token's, an earlier challenge's, or tampered) is parsed
    unsealed, with the parser's limits caught, to tell which: the payload names its own token
    and challenge and must be sealed under their key."""
    if not blob.startswith(PREFIX) or blob.count(b".") != 2:
        raise PackageError("not a MGLV1 package")
    _, payload_b64, mac_b64 = blob.split(b".")
    try:
        mac = _unb64url(mac_b64)
    except (binascii.Error, ValueError) as exc:
        raise PackageError(f"undecodable MAC: {exc}") from None
    sealed = bool(biz_token and challenge_id and _sealed_by(
        package_key(biz_token, challenge_id), payload_b64, mac))
    payload = _payload_parse(payload_b64)
    token, challenge = payload.get("biz_token"), payload.get("challenge_id")
    if not isinstance(token, str) or not isinstance(challenge, str):
        raise PackageError("biz_token and challenge_id are required")
    if not sealed and not _sealed_by(package_key(token, challenge), payload_b64, mac):
        raise PackageError("bad MAC")
    frames = payload.get("frames")
    if not isinstance(frames, list) or not 1 <= len(frames) <= MAX_FRAMES:
        raise PackageError(f"1 to {MAX_FRAMES} frames are required")
    previous = -1.0
    for frame in frames:
        if not (isinstance(frame, dict) and isinstance(frame.get("t"), int | float)
                and isinstance(frame.get("jpeg"), str)):
            raise PackageError("a frame is {t, jpeg}")
        if frame["t"] <= previous or len(frame["jpeg"]) > MAX_FRAME_BYTES * 4 // 3 + 4:
            raise PackageError("frame times must increase; frames at most 2 MB")
        previous = frame["t"]
    problem = device_report_problem(payload.get("device", {}))
    if problem is not None:
        raise PackageError(problem)
    return payload


def package_frames_read(payload: dict, *, max_side: int) -> tuple[bytes, ...]:
    """The frames of an opened package, decoded: every frame must be strict base64 of a
    picture we read (JPEG, PNG, BMP; sides within max_side), so that a package the SDK sealed
    around a broken frame is refused here (PackageError), not by a failing worker. The bytes
    returned are the ones checked: the job hands them on without decoding the base64 again."""
    frames = []
    for index, frame in enumerate(payload["frames"]):
        try:
            data = base64.b64decode(frame["jpeg"], validate=True)
            image_check(data, max_side=max_side)
        except (binascii.Error, ValueError, ImageRejected) as exc:
            raise PackageError(f"frame {index} is not a readable picture: {exc}") from None
        frames.append(data)
    return tuple(frames)
