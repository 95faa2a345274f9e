from django.db import models

from apps.tenants.models import ApiApp


class BizTokenRecord(models.Model):
    """The durable trace of every biz_token issued (the live session itself is in Redis).

    Holds no personal data in clear: ID number and name are keyed HMAC digests.
    """

    class LivenessType(models.TextChoices):
        MEGLIVE = "meglive"
        STILL = "still"
        FLASH = "flash"
        RAW_IMAGE = "raw_image"

    biz_token = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="biz_tokens")
    request_id = models.CharField(max_length=64)
    liveness_type = models.CharField(max_length=16, choices=LivenessType.choices)
    comparison_type = models.CharField(max_length=1)
    uuid = models.CharField(max_length=128, blank=True)
    biz_no = models.CharField(max_length=128, blank=True)
    idcard_number_digest = models.CharField(max_length=64, blank=True, db_index=True)
    idcard_name_digest = models.CharField(max_length=64, blank=True)
    options = models.JSONField(default=dict)
    reference_images = models.JSONField(default=dict)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "biz_token record"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]

    def __str__(self) -> str:
        return self.biz_token


class LiveSession(models.Model):
    """Not a table: gives the admin a page that lists the live sessions held in Redis."""

    class Meta:
        managed = False
        verbose_name = "live session (Redis)"
        verbose_name_plural = "live sessions (Redis)"

    def __str__(self) -> str:
        return "live session"
