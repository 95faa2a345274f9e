import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.tenants.services import api_app_create


class Command(BaseCommand):
    help = (
        "Create a tenant app and print its credentials once, as JSON on stdout. "
        "The api_secret is stored encrypted and cannot be shown again (rotate it in the admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--kyc", action="store_true", help="allow the KYC data source")
        parser.add_argument("--no-verify", action="store_true", help="deny face comparison")
        parser.add_argument("--quota", type=int, default=None, help="total calls allowed")
        parser.add_argument("--concurrency", type=int, default=None, help="requests in flight")
        parser.add_argument("--allowed-networks", default="", help="comma-separated CIDRs")

    def handle(self, *args, **options):
        try:
            app, secret = api_app_create(
                name=options["name"],
                can_verify=not options["no_verify"],
                can_use_data_source=options["kyc"],
                call_quota=options["quota"],
                concurrency_limit=options["concurrency"],
                allowed_networks=options["allowed_networks"],
            )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                         exc.message_dict.items())) from exc
        self.stdout.write(json.dumps({"api_key": app.api_key, "api_secret": secret}))
