import json
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core.commands import database_errors_said
from apps.identity.services import identity_register, identity_remove


class Command(BaseCommand):
    help = ("Add a person to the built-in KYC registry (or replace the name and photo of the "
            "one with that ID number), or remove one with --remove. Nothing is stored in clear.")

    def add_arguments(self, parser):
        parser.add_argument("--id-number", required=True)
        parser.add_argument("--name")
        parser.add_argument("--photo", type=Path, help="JPEG, PNG or BMP of the face")
        parser.add_argument("--remove", action="store_true")

    def handle(self, *args, **options):
        with database_errors_said():
            self._handle(options)

    def _handle(self, options):
        if options["remove"]:
            removed = identity_remove(id_number=options["id_number"])
            self.stdout.write(json.dumps({"removed": removed}))
            return
        if not options["name"]:
            raise CommandError("--name is required")
        photo = self._photo(options["photo"]) if options["photo"] else None
        try:
            entry = identity_register(name=options["name"], id_number=options["id_number"],
                                      photo=photo)
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                         exc.message_dict.items())) from exc
        self.stdout.write(json.dumps({"id": entry.pk, "id_number_tail": entry.id_number_tail,
                                      "has_photo": entry.has_photo}))

    @staticmethod
    def _photo(path: Path) -> bytes:
        try:
            return path.read_bytes()
        except OSError as exc:      # missing, a folder, unreadable: the operator's typo
            raise CommandError(f"--photo {path}: {exc.strerror or exc}") from exc
