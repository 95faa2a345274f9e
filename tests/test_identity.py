"""The built-in KYC registry: validation, nothing in clear, lookups, the command, the admin, and
pluggable data sources."""

import json
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from apps.identity.models import RegisteredIdentity
from apps.identity.services import identity_register
from apps.identity.sources import IdentityLookup, LookupStatus, identity_lookup

from .images import face_jpeg_and_mpo, scan_overwritten_jpeg
from .test_ml_perception import PHOTOS

WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)


def id_number(first17: str) -> str:
    """A checksum-valid 18-character number (GB 11643) from its first 17 digits."""
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return first17 + "10X98765432"[total % 11]


STANDARD_EXAMPLE = "11010519491231002X"
PHOTO = (PHOTOS / "obama.jpg").read_bytes()


def test_numbers_are_checked_and_nothing_is_kept_in_clear(db):
    assert id_number("11010519491231002") == STANDARD_EXAMPLE
    entry = identity_register(name="Barack Obama", id_number=STANDARD_EXAMPLE, photo=PHOTO)
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM identity_registeredidentity WHERE id = %s", [entry.pk])
        row = cursor.fetchone()
    text = " ".join(str(v) for v in row if not isinstance(v, bytes | memoryview))
    assert STANDARD_EXAMPLE not in text and "Obama" not in text and "obama" not in text
    assert all(PHOTO[:200] not in bytes(v) for v in row if isinstance(v, bytes | memoryview))
    assert str(entry) == "ID ****002X"
    for bad in ("11010519491231002Y", "110105194912310021", "1101051949123100", "x" * 18):
        with pytest.raises(ValidationError, match="checksum"):
            identity_register(name="A", id_number=bad, photo=None)
    with pytest.raises(ValidationError, match="picture"):
        identity_register(name="A", id_number=id_number("11010519800101001"),
                          photo=b"not a picture")


def test_a_phone_mpo_photo_is_registered_and_a_corrupt_jpeg_is_not(db):
    _, mpo = face_jpeg_and_mpo()
    number = id_number("11010519800101001")
    identity_register(name="Barack Obama", id_number=number, photo=mpo)
    assert identity_lookup(name="Barack Obama", id_number=number).photo == mpo
    for broken in (scan_overwritten_jpeg("random"), scan_overwritten_jpeg("zeros")):
        with pytest.raises(ValidationError, match="corrupt JPEG data"):
            identity_register(name="A", id_number=number, photo=broken)


def test_lookup_answers_each_kyc_outcome(db):
    identity_register(name="Barack  Obama", id_number=STANDARD_EXAMPLE.lower(), photo=PHOTO)
    no_photo = id_number("44030019900101123")
    identity_register(name="Li Lei", id_number=no_photo, photo=None)

    found = identity_lookup(name=" barack obama ", id_number=STANDARD_EXAMPLE)
    assert found.status == LookupStatus.FOUND and found.photo == PHOTO
    assert identity_lookup(name="Joe Biden", id_number=STANDARD_EXAMPLE).status == \
        LookupStatus.ID_NUMBER_NAME_NOT_MATCH
    assert identity_lookup(name="Li Lei", id_number=id_number("44030019900101124")).status == \
        LookupStatus.NO_ID_CARD_NUMBER
    assert identity_lookup(name="Li Lei", id_number=no_photo).status == LookupStatus.NO_ID_PHOTO
    # registering the number again replaces name and photo
    identity_register(name="Li Lei", id_number=no_photo, photo=PHOTO)
    assert identity_lookup(name="Li Lei", id_number=no_photo).status == LookupStatus.FOUND
    assert RegisteredIdentity.objects.count() == 2


class AlwaysFound:
    def lookup(self, *, name, id_number):
        return IdentityLookup(LookupStatus.FOUND, b"picture from elsewhere")


class Broken:
    def lookup(self, *, name, id_number):
        raise ConnectionError("the national service is down")


def test_data_sources_are_pluggable_and_their_failures_contained(db, settings):
    settings.IDENTITY_DATA_SOURCE = "tests.test_identity.AlwaysFound"
    assert identity_lookup(name="x", id_number=STANDARD_EXAMPLE).photo == b"picture from elsewhere"
    settings.IDENTITY_DATA_SOURCE = "tests.test_identity.Broken"
    assert identity_lookup(name="x", id_number=STANDARD_EXAMPLE).status == \
        LookupStatus.DATA_SOURCE_ERROR


def test_the_command_registers_and_removes(db, tmp_path):
    photo = tmp_path / "face.jpg"
    photo.write_bytes(PHOTO)
    out = StringIO()
    call_command("identity_register", "--name", "Barack Obama", "--id-number",
                 STANDARD_EXAMPLE, "--photo", str(photo), stdout=out)
    assert json.loads(out.getvalue()) == {"id": RegisteredIdentity.objects.get().pk,
                                          "id_number_tail": "002X", "has_photo": True}
    with pytest.raises(CommandError, match="checksum"):
        call_command("identity_register", "--name", "X", "--id-number", "110105194912310021",
                     stdout=StringIO())
    out = StringIO()
    call_command("identity_register", "--id-number", STANDARD_EXAMPLE, "--remove", stdout=out)
    assert json.loads(out.getvalue()) == {"removed": True}
    assert not RegisteredIdentity.objects.exists()


def test_the_admin_registers_without_showing_clear_values(client, db):
    user = get_user_model().objects.create_superuser("kyc", "kyc@example.com", "pw-12345678")
    client.force_login(user)
    response = client.post("/admin/identity/registeredidentity/add/", {
        "name": "Barack Obama", "id_number": STANDARD_EXAMPLE,
        "photo": SimpleUploadedFile("face.jpg", PHOTO, content_type="image/jpeg")}, follow=True)
    assert response.status_code == 200
    entry = RegisteredIdentity.objects.get()
    assert entry.has_photo
    page = client.get(f"/admin/identity/registeredidentity/{entry.pk}/change/").content.decode()
    assert "002X" in page and STANDARD_EXAMPLE not in page and "Obama" not in page
    refused = client.post("/admin/identity/registeredidentity/add/", {
        "name": "X", "id_number": "110105194912310021"})
    assert "checksum" in refused.content.decode() and RegisteredIdentity.objects.count() == 1


@pytest.mark.parametrize("photo, message", [
    ("missing.jpg", "--photo .*missing.jpg: No such file or directory"),
    (".", "--photo .*: Is a directory"),
    ("notes.txt", "photo: not an accepted picture: not a JPEG, PNG or BMP picture"),
])
def test_the_command_answers_a_bad_photo_with_a_message(db, tmp_path, photo, message):
    (tmp_path / "notes.txt").write_text("not a picture")
    with pytest.raises(CommandError, match=message):
        call_command("identity_register", "--name", "Barack Obama", "--id-number",
                     STANDARD_EXAMPLE, "--photo", str(tmp_path / photo), stdout=StringIO())
    assert not RegisteredIdentity.objects.exists()


def test_manage_py_prints_the_message_without_a_traceback(tmp_path):
    import subprocess
    import sys

    finished = subprocess.run(
        [sys.executable, "manage.py", "identity_register", "--name", "X", "--id-number",
         STANDARD_EXAMPLE, "--photo", str(tmp_path / "missing.jpg")],
        capture_output=True, text=True, timeout=120)
    assert finished.returncode == 1
    assert "Traceback" not in finished.stderr
    assert "CommandError: --photo" in finished.stderr and "No such file" in finished.stderr
