import base64

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse
from django.utils.html import format_html

from apps.core.admin_base import ReadOnlyAdmin
from apps.core.crypto import DecryptionError, decrypt_bytes

from .models import BizTokenRecord, LiteToken, LiveSession, VerificationRecord
from .sessions import sessions_live


@admin.register(BizTokenRecord)
class BizTokenRecordAdmin(ReadOnlyAdmin):
    list_display = ("biz_token", "app", "liveness_type", "comparison_type", "uuid", "biz_no",
                    "created_at", "expires_at", "consumed_at")
    list_filter = ("liveness_type", "comparison_type", "app")
    search_fields = ("biz_token", "uuid", "biz_no", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("app",)


@admin.register(LiteToken)
class LiteTokenAdmin(ReadOnlyAdmin):
    list_display = ("biz_id", "app", "biz_no", "liveness_type", "created_at", "expires_at",
                    "token_used_at", "result_reads", "notify_state", "notify_attempts",
                    "notify_last_attempt_at", "notify_last_error")
    # notify_state: the callbacks that failed (or still wait their next attempt) at a glance
    list_filter = ("notify_state", "liveness_type", "app")
    search_fields = ("biz_id", "biz_no")
    date_hierarchy = "created_at"
    list_select_related = ("app",)
    exclude = ("token_digest",)


@admin.register(VerificationRecord)
class VerificationRecordAdmin(ReadOnlyAdmin):
    list_display = ("biz_token", "app", "liveness_type", "result_code", "result_message",
                    "best_confidence", "time_used_ms", "created_at")
    list_filter = ("result_code", "liveness_type", "comparison_type", "app")
    search_fields = ("biz_token", "biz_no", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("app",)
    search_help_text = "biz_token, biz_no, request_id, or the user's uuid (whole)."
    readonly_fields = ("best_frame", "biz_token", "app", "request_id", "liveness_type",
                       "comparison_type", "biz_no", "result_code", "result_message",
                       "security_level", "confidences", "attack", "liveness", "frames",
                       "time_used_ms", "model_ms", "created_at")
    exclude = ("best_frame_encrypted",)

    def get_search_results(self, request, queryset, search_term):
        """Also the verifications of the user's uuid: it is kept on the token record (the
        verification shares only the biz_token), so the term is looked up there, whole."""
        found, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        uuid = search_term.strip()
        if uuid:
            tokens = BizTokenRecord.objects.filter(uuid=uuid).values("biz_token")
            found |= queryset.filter(biz_token__in=tokens)
        return found, may_have_duplicates

    @admin.display(description="best confidence")
    def best_confidence(self, obj: VerificationRecord):
        values = [c.get("confidence") for c in obj.confidences.values()]
        return max(values) if values else None

    @admin.display(description="best frame")
    def best_frame(self, obj: VerificationRecord):
        if not obj.best_frame_encrypted:
            return "-"
        try:
            jpeg = decrypt_bytes(obj.best_frame_encrypted)
        except DecryptionError:
            return "(cannot be decrypted with this FIELD_ENCRYPTION_KEY)"
        return format_html('<img src="data:image/jpeg;base64,{}" style="max-width:320px">',
                           base64.b64encode(jpeg).decode())

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser


@admin.register(LiveSession)
class LiveSessionAdmin(ReadOnlyAdmin):
    """Lists what is in Redis right now; the page reads Redis, there is no table."""

    def changelist_view(self, request, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        sessions = list(sessions_live(limit=500))
        context = {
            **self.admin_site.each_context(request),
            "title": "Live sessions (Redis)",
            "opts": self.model._meta,
            "sessions": sessions,
            "limit": 500,
        }
        return TemplateResponse(request, "admin/faceid/live_sessions.html", context)
