import secrets

from django.core.exceptions import ValidationError
from django.db import models

from apps.core.net import parse_networks


def api_key_new() -> str:
    return secrets.token_urlsafe(24)  # 32 characters, like the vendor's keys


class ApiApp(models.Model):
    """A tenant application: the holder of one api_key / api_secret pair and its limits."""

    class Status(models.TextChoices):
        ACTIVE = "active", "active"
        DISCONTINUED = "discontinued", "discontinued"

    name = models.CharField(max_length=100, unique=True)
    api_key = models.CharField(max_length=64, unique=True, default=api_key_new, editable=False)
    # Fernet ciphertext (apps.core.crypto); the clear secret is shown once, at creation.
    api_secret_encrypted = models.TextField(editable=False)
    # Keyed digest (apps.core.crypto) of the APPCODE that the single-image APIs accept in
    # `Authorization: APPCODE <code>`; the code itself is shown once. Null: none issued yet.
    app_code_digest = models.CharField(max_length=64, unique=True, null=True, blank=True,
                                       editable=False)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    can_verify = models.BooleanField(
        default=True, help_text="May create face comparison sessions (get_biz_token / verify)."
    )
    can_use_data_source = models.BooleanField(
        default=False, help_text="May run KYC checks against the identity data source."
    )
    call_quota = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Total calls allowed; empty means unlimited."
    )
    calls_used = models.PositiveBigIntegerField(
        default=0,
        help_text="Calls counted, with or without a quota: biz_tokens issued, single-image calls "
                  "that reached the models (calls failed on our side are given back).",
    )
    concurrency_limit = models.PositiveIntegerField(
        null=True, blank=True, help_text="Requests in flight at once; empty means unlimited."
    )
    rate_limit_per_minute = models.PositiveIntegerField(
        null=True, blank=True,
        help_text="Single-image API calls per minute (fixed window); empty means unlimited.",
    )
    allowed_networks = models.TextField(
        blank=True,
        help_text="Caller IP networks (CIDR), one per line or comma-separated; empty allows all.",
    )
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "API app"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"{self.name} ({self.api_key[:8]}…)"

    def clean(self) -> None:
        try:
            parse_networks(self.allowed_networks)
        except ValueError as exc:
            raise ValidationError({"allowed_networks": str(exc)}) from exc

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class SpentSignature(models.Model):
    """A one-time FaceID sign or an x-ca signature that was accepted once, kept for as long as a
    replay of it could otherwise be accepted. Redis answers replays fast; this row is what
    still refuses them after Redis lost its keys (a restart without persistence: issue 12,
    item 3). Expired rows are purged hourly (tenants.spent_signatures_purge)."""

    digest = models.CharField(max_length=80, primary_key=True)   # "<kind>:<sha1 hex>"
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "spent signature"

    def __str__(self) -> str:
        return self.digest
