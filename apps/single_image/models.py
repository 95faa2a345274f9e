from django.db import models

from apps.tenants.models import ApiApp

from .failures import Kind


class SingleImageCall(models.Model):
    """One single-image call that got past authentication, whatever it ended in: the verdict,
    or why there was none. Scores, timings and ids only: the picture is never stored."""

    class Contract(models.TextChoices):
        SEED_000 = "000", "seed 000 bio-detection"
        SEED_001 = "001", "seed 001 face_liveness"
        SEED_002 = "002", "seed 002 image_liveness"

    # live and attack are verdicts; every other value is the failure kind that left the call
    # without one (apps/single_image/failures.py), no_face among them.
    VERDICTS = [("live", "live"), ("attack", "attack"),
                *((kind.value, kind.value.replace("_", " ")) for kind in Kind)]

    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="single_image_calls")
    contract = models.CharField(max_length=3, choices=Contract.choices)
    # Ours (the X-Request-Id header; seed 001's body); seed 000 answers with the client's own.
    request_id = models.CharField(max_length=64, db_index=True)
    client_request_id = models.CharField(max_length=128, blank=True, db_index=True)
    verdict = models.CharField(max_length=24, choices=VERDICTS)
    detail = models.CharField(max_length=200, blank=True)    # a failure's detail, as logged
    live_probability = models.FloatField(null=True, blank=True)
    threshold = models.FloatField(null=True, blank=True)
    attack_species = models.CharField(max_length=32, blank=True)
    duration_ms = models.PositiveIntegerField()
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "single-image call"
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.request_id} {self.verdict}"
