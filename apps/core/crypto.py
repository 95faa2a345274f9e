"""Field encryption and keyed digests, both keyed from settings.FIELD_ENCRYPTION_KEY.

- Secrets we must read back (tenant api_secrets, ID data kept for an hour in a session) are
  encrypted with Fernet (AES-128-CBC + HMAC-SHA256).
- Personal data we only need to match (ID numbers and names in durable records) are stored as
  HMAC-SHA256 digests, so a database dump does not reveal them.
"""

import base64
import hashlib
import hmac
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def _derive(purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=purpose).derive(
        settings.FIELD_ENCRYPTION_KEY.encode()
    )


@lru_cache(maxsize=4)
def _fernet(master: str) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(_derive(b"liveness/field-encryption/v1")))


@lru_cache(maxsize=4)
def _digest_key(master: str) -> bytes:
    return _derive(b"liveness/keyed-digest/v1")


class DecryptionError(Exception):
    """A stored ciphertext cannot be read with the configured key."""


def encrypt_text(plain: str) -> str:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def encrypt_bytes(plain: bytes) -> bytes:
    return _fernet(settings.FIELD_ENCRYPTION_KEY).encrypt(plain)


def decrypt_bytes(token: bytes) -> bytes:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(bytes(token))
    except InvalidToken as exc:
        raise DecryptionError("ciphertext does not match FIELD_ENCRYPTION_KEY") from exc


def decrypt_text(token: str) -> str:
    try:
        return _fernet(settings.FIELD_ENCRYPTION_KEY).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise DecryptionError("ciphertext does not match FIELD_ENCRYPTION_KEY") from exc


def keyed_digest(value: str) -> str:
    key = _digest_key(settings.FIELD_ENCRYPTION_KEY)
    return hmac.new(key, value.encode(), hashlib.sha256).hexdigest()
