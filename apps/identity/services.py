"""Managing the built-in registry: register, replace, remove (admin and command use these)."""

import hashlib

from django.conf import settings
from django.core.exceptions import ValidationError

from apps.core.crypto import encrypt_bytes, keyed_digest
from apps.core.images import ImageRejected, image_check
from apps.faceid.params import id_number_checksum_ok

from .models import RegisteredIdentity
from .sources import id_number_normalised, name_normalised


def identity_register(*, name: str, id_number: str, photo: bytes | None) -> RegisteredIdentity:
    """Adds a person, or replaces the name and photo of the one with that ID number."""
    number = id_number_normalised(id_number)
    if not id_number_checksum_ok(number):
        raise ValidationError({"id_number": "not a valid 18-character ID number (checksum)"})
    if not name_normalised(name) or len(name) > 100:
        raise ValidationError({"name": "a name of 1 to 100 characters is required"})
    if photo is not None:
        try:
            image_check(photo, max_side=settings.IMAGE_MAX_SIDE)
        except ImageRejected as exc:
            raise ValidationError({"photo": f"not an accepted picture: {exc}"}) from exc
    entry, _ = RegisteredIdentity.objects.update_or_create(
        id_number_digest=keyed_digest(number),
        defaults={
            "id_number_tail": number[-4:],
            "name_digest": keyed_digest(name_normalised(name)),
            "photo_encrypted": encrypt_bytes(photo) if photo else None,
            "photo_sha256": hashlib.sha256(photo).hexdigest() if photo else "",
        },
    )
    return entry


def identity_remove(*, id_number: str) -> bool:
    deleted, _ = RegisteredIdentity.objects.filter(
        id_number_digest=keyed_digest(id_number_normalised(id_number))).delete()
    return deleted > 0
