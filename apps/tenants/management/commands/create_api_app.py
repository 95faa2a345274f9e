import json

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from apps.core.commands import database_errors_said
from apps.tenants.services import api_app_create


class Command(BaseCommand):
    help = (
        "Create a tenant app and print its credentials once, as JSON on stdout. "
        "The api_secret is stored encrypted and the app_code only as a keyed digest: neither can be "
        "shown again (rotate them in the admin)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", required=True)
        parser.add_argument("--kyc", action="store_true", help="allow the KYC data source")
        parser.add_argument("--no-verify", action="store_true", help="deny face comparison")
        parser.add_argument("--quota", type=int, default=None, help="total calls allowed")
        parser.add_argument("--concurrency", type=int, default=None, help="requests in flight")
        parser.add_argument("--rate-limit", type=int, default=None,
                            help="single-image API calls per minute")
        parser.add_argument("--allowed-networks", default="", help="comma-separated CIDRs")

    def handle(self, *args, **options):
        try:
            with database_errors_said():
                app, credentials = api_app_create(
                    name=options["name"],
                    can_verify=not options["no_verify"],
                    can_use_data_source=options["kyc"],
                    call_quota=options["quota"],
                    concurrency_limit=options["concurrency"],
                    allowed_networks=options["allowed_networks"],
                    rate_limit_per_minute=options["rate_limit"],
                )
        except ValidationError as exc:
            raise CommandError("; ".join(f"{k}: {' '.join(v)}" for k, v in
                                         exc.message_dict.items())) from exc
        self.stdout.write(json.dumps({"api_key": app.api_key,
                                      "api_secret": credentials.api_secret,
                                      "app_code": credentials.app_code}))
