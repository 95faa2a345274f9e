"""Identity data sources for KYC: the interface, and the built-in registry.

A data source answers one question, given the name and ID number a client sent with
get_biz_token: is there such a person, does the name match, and which photo do we compare the
live face with. Deployments plug in their own (a national ID service, a bank's customer file)
by naming a class in IDENTITY_DATA_SOURCE; it must implement `lookup`.
"""

from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

from apps.core.crypto import decrypt_bytes, keyed_digest

from .models import RegisteredIdentity


class LookupStatus(StrEnum):
    FOUND = "FOUND"
    NO_ID_CARD_NUMBER = "NO_ID_CARD_NUMBER"            # no such number
    ID_NUMBER_NAME_NOT_MATCH = "ID_NUMBER_NAME_NOT_MATCH"
    NO_ID_PHOTO = "NO_ID_PHOTO"                        # the person exists, without a photo
    DATA_SOURCE_ERROR = "DATA_SOURCE_ERROR"            # the source failed to answer


@dataclass(frozen=True)
class IdentityLookup:
    status: LookupStatus
    photo: bytes | None = None


class IdentityDataSource(Protocol):
    def lookup(self, *, name: str, id_number: str) -> IdentityLookup: ...


def name_normalised(name: str) -> str:
    """Names compare without surrounding or repeated spaces and case (Latin names)."""
    return " ".join(name.split()).casefold()


def id_number_normalised(number: str) -> str:
    return number.strip().upper()


class RegistryDataSource:
    """The registry kept in our database (RegisteredIdentity)."""

    def lookup(self, *, name: str, id_number: str) -> IdentityLookup:
        entry = RegisteredIdentity.objects.filter(
            id_number_digest=keyed_digest(id_number_normalised(id_number))).first()
        if entry is None:
            return IdentityLookup(LookupStatus.NO_ID_CARD_NUMBER)
        if entry.name_digest != keyed_digest(name_normalised(name)):
            return IdentityLookup(LookupStatus.ID_NUMBER_NAME_NOT_MATCH)
        if not entry.has_photo:
            return IdentityLookup(LookupStatus.NO_ID_PHOTO)
        return IdentityLookup(LookupStatus.FOUND, decrypt_bytes(entry.photo_encrypted))


@cache
def _source_class(path: str):
    return import_string(path)


def identity_data_source() -> IdentityDataSource:
    return _source_class(settings.IDENTITY_DATA_SOURCE)()


def identity_lookup(*, name: str, id_number: str) -> IdentityLookup:
    """Asks the configured source; a source that raises is DATA_SOURCE_ERROR, not a 500."""
    try:
        return identity_data_source().lookup(name=name, id_number=id_number)
    except Exception:  # noqa: BLE001 - any failure of a plugged-in source
        import logging

        logging.getLogger(__name__).exception("identity data source failed")
        return IdentityLookup(LookupStatus.DATA_SOURCE_ERROR)
