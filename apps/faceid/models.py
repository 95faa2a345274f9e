from django.conf import settings
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
    # {name: base64 JPEG} of each reference's face crop (at most 240 px; ml/review_images.py),
    # as JSON, Fernet-encrypted: the operator's review shows it beside the best frame. The
    # photos themselves are not kept.
    reference_faces_encrypted = models.BinaryField(null=True, blank=True, editable=False)
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


class VerificationRecord(models.Model):
    """Every verify that ran (one per biz_token: the unique key makes a doubled write fail).

    Codes, scores, thresholds and timings; no clear personal data. The best frame is a face
    picture, so it is kept Fernet-encrypted and shown only in the admin.
    """

    biz_token = models.CharField(max_length=64, unique=True)
    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="verifications")
    request_id = models.CharField(max_length=64)
    liveness_type = models.CharField(max_length=16)
    comparison_type = models.CharField(max_length=1)
    biz_no = models.CharField(max_length=128, blank=True)
    result_code = models.PositiveIntegerField(db_index=True)
    result_message = models.CharField(max_length=64)
    security_level = models.CharField(max_length=1, default="2")
    confidences = models.JSONField(default=dict)   # {"ref1": {"confidence", "thresholds"}}
    # The answer's attack_result as it was given (apps/faceid/results.py attack_result_of):
    # which liveness checks ran, which failed. One meaning in the API, the record and the admin.
    attack_result = models.JSONField(null=True, blank=True)
    # The passive decision's report (score, threshold, passed, members, frames): it decides a
    # still capture; a meglive or flash clip keeps it for the operator, and it decides nothing.
    passive = models.JSONField(null=True, blank=True)
    liveness = models.JSONField(default=dict)
    frames = models.PositiveIntegerField(default=0)
    time_used_ms = models.PositiveIntegerField(default=0)
    model_ms = models.FloatField(default=0)
    best_frame_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    # The capture's strip (ml/review_images.py frame_strip): one JPEG of up to 8 frames, 120 px
    # high, Fernet-encrypted like the best frame; and, in clear, which frames it holds:
    # [[index, time_ms, width_px], ...] in its order.
    frame_strip_encrypted = models.BinaryField(null=True, blank=True, editable=False)
    frame_strip = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["app", "-created_at"])]
        # Seeing the record's scores is not seeing the person: the face picture needs its own
        # grant (docs/ADMIN.md), and every picture served is written to FaceImageView.
        permissions = [("view_face_images", "Can view the face images of verification records")]

    def __str__(self) -> str:
        return f"{self.biz_token} {self.result_code} {self.result_message}"


class OperatorVerdict(models.Model):
    """An operator's reading of a verification, kept beside it: the record's own fields are the
    machine's and never change. Each verdict is a new row (the latest one stands), so a
    verdict changed later keeps the earlier one and who gave it."""

    class Verdict(models.TextChoices):
        CONFIRMED = "confirmed", "confirmed (the machine's result stands)"
        FRAUD = "fraud", "overturned as fraud"

    record = models.ForeignKey(VerificationRecord, on_delete=models.CASCADE,
                               related_name="operator_verdicts")
    verdict = models.CharField(max_length=16, choices=Verdict.choices)
    note = models.TextField(blank=True)
    # The user may be deleted later; the name given at the time stays with the verdict.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             related_name="+")
    username = models.CharField(max_length=150)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.verdict} by {self.username}"


class FaceImageView(models.Model):
    """The audit log of face pictures served to staff: one row per picture sent, written by
    the view that sends it (apps/faceid/review.py), before the bytes leave."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                             related_name="+")
    username = models.CharField(max_length=150)
    # PROTECT: a record whose face was seen cannot be deleted from under its audit trail.
    record = models.ForeignKey(VerificationRecord, on_delete=models.PROTECT,
                               related_name="face_image_views")
    image = models.CharField(max_length=32)      # which picture: "best_frame"
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    viewed_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = "face image view (audit)"
        verbose_name_plural = "face image views (audit)"
        ordering = ["-viewed_at", "-id"]

    def __str__(self) -> str:
        return f"{self.username} saw {self.image} of {self.record_id}"


class LivenessMedia(models.Model):
    """get_liveness_video: the capture's frames, encrypted with the video_key that verify
    returned to the client (only a digest of the key is kept), purged after retention."""

    verification = models.OneToOneField(VerificationRecord, on_delete=models.CASCADE,
                                        related_name="media")
    video_key_digest = models.CharField(max_length=64, db_index=True)
    kind = models.CharField(max_length=1)   # get_liveness_video: 1 both, 2 video, 3 images
    ciphertext = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)
    purge_after = models.DateTimeField(db_index=True)

    def __str__(self) -> str:
        return f"media of {self.verification_id}"


class LiveSession(models.Model):
    """Not a table: gives the admin a page that lists the live sessions held in Redis."""

    class Meta:
        managed = False
        verbose_name = "live session (Redis)"
        verbose_name_plural = "live sessions (Redis)"

    def __str__(self) -> str:
        return "live session"


class LiteToken(models.Model):
    """A FaceID Lite (web / H5) verification: what get_token was asked, for whom, and the
    biz_token session its capture page runs. The session is an ordinary biz_token's (same
    record, same Redis session, same challenge and verify), so the verification it ends in is
    the VerificationRecord of `biz_token_record.biz_token`; get_result reads its state there
    rather than from a copy kept here.

    The token is the capture page's bearer credential (single use): only its keyed digest is
    kept, like a password's.
    """

    app = models.ForeignKey(ApiApp, on_delete=models.PROTECT, related_name="lite_tokens")
    biz_token_record = models.OneToOneField(BizTokenRecord, on_delete=models.PROTECT,
                                            related_name="lite_token")
    token_digest = models.CharField(max_length=64, unique=True)
    biz_id = models.CharField(max_length=64, unique=True)
    biz_no = models.CharField(max_length=128)
    biz_extra_data = models.TextField(blank=True)
    web_title = models.CharField(max_length=32, blank=True)
    return_url = models.TextField()
    notify_url = models.TextField()
    # How the capture page sends the browser to return_url: "GET" or "POST" (a form).
    action_http_method = models.CharField(max_length=4, default="GET")
    liveness_type = models.CharField(max_length=16)
    created_at = models.DateTimeField(db_index=True)
    expires_at = models.DateTimeField()
    # When the capture page took the token (its single use; the page's slice sets it).
    token_used_at = models.DateTimeField(null=True, blank=True)
    # The page's own credential for its start and verify calls, made when the token is taken
    # and written only into the page served: the token's URL (in history, logs, a Referer)
    # opens nothing once used, and grants no capture either. Its keyed digest only.
    page_key_digest = models.CharField(max_length=64, blank=True, db_index=True)
    # get_result answers that carried a final status (OK / FAILED); refused past the limit.
    result_reads = models.PositiveSmallIntegerField(default=0)

    class NotifyState(models.TextChoices):
        WAITING = "waiting"       # no final result yet: nothing to deliver
        PENDING = "pending"       # due: an attempt is queued, running, or waits its backoff
        DELIVERED = "delivered"   # notify_url answered 2xx
        FAILED = "failed"         # every attempt failed, or the address was refused

    # The notify_url callback's delivery (lite.py, lite_notify.py): its state, the attempts
    # made, the last one's time and error (an HTTP status or the failure, short), and when the
    # next is due (also set while an attempt runs: if its worker is lost, the sweep sends
    # another once that time has passed).
    notify_state = models.CharField(max_length=16, choices=NotifyState.choices,
                                    default=NotifyState.WAITING, db_index=True)
    notify_attempts = models.PositiveSmallIntegerField(default=0)
    notify_last_attempt_at = models.DateTimeField(null=True, blank=True)
    notify_last_error = models.CharField(max_length=200, blank=True)
    notify_next_attempt_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "FaceID Lite token"
        ordering = ["-created_at"]
        constraints = [models.UniqueConstraint(fields=["app", "biz_no"],
                                               name="lite_token_biz_no_once_per_app")]

    def __str__(self) -> str:
        return self.biz_id
