from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse

from apps.core.admin_base import CsvExportAdmin, ReadOnlyAdmin
from apps.core.net import client_ip

from . import review
from .models import (
    BizTokenRecord,
    FaceImageView,
    LiteToken,
    LiveSession,
    OperatorVerdict,
    VerificationRecord,
)
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
class VerificationRecordAdmin(CsvExportAdmin, ReadOnlyAdmin):
    """The record list and the review page (docs/ADMIN.md). The record's own fields stay
    read-only; the face picture is served by `face_image_view` (its own permission, an audit
    row per picture) and the operator's verdict is a row of its own (`verdict_view`)."""

    list_display = ("biz_token", "app", "liveness_type", "result_code", "result_message",
                    "best_confidence", "operator_verdict", "time_used_ms", "created_at")
    list_filter = ("result_code", "liveness_type", "comparison_type", "app")
    search_fields = ("biz_token", "biz_no", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("app",)
    search_help_text = "biz_token, biz_no, request_id, or the user's uuid (whole)."
    readonly_fields = ("biz_token", "app", "request_id", "liveness_type",
                       "comparison_type", "biz_no", "result_code", "result_message",
                       "security_level", "confidences", "attack_result", "passive",
                       "liveness", "frames",
                       "time_used_ms", "model_ms", "created_at")
    exclude = ("best_frame_encrypted",)
    change_form_template = "admin/faceid/verificationrecord/review.html"
    csv_columns = review.VERIFICATION_CSV_COLUMNS
    csv_name = "verification-records"

    def csv_queryset(self, queryset):
        return review.with_current_verdict(queryset)

    def get_queryset(self, request):
        return review.with_current_verdict(super().get_queryset(request))

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

    @admin.display(description="operator verdict")
    def operator_verdict(self, obj) -> str:
        return getattr(obj, "verdict_now", None) or "-"

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [
            path("<path:object_id>/face/<str:image>.jpg",
                 self.admin_site.admin_view(self.face_image_view),
                 name="{}_{}_face_image".format(*info)),
            path("<path:object_id>/verdict/", self.admin_site.admin_view(self.verdict_view),
                 name="{}_{}_verdict".format(*info)),
            *super().get_urls(),
        ]

    def _record_or_404(self, request, object_id) -> VerificationRecord:
        record = self.get_object(request, object_id)
        if record is None or not self.has_view_permission(request, record):
            raise Http404
        return record

    def change_view(self, request, object_id, form_url="", extra_context=None):
        record = self._record_or_404(request, object_id)
        context = {**(extra_context or {}), "review": review.review_of(record, user=request.user)}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def face_image_view(self, request, object_id, image):
        """The picture's bytes, only to staff holding faceid.view_face_images; each one served
        is written to the audit log first. Never cached: the next view is audited too."""
        record = self._record_or_404(request, object_id)
        try:
            jpeg = review.face_image_serve(user=request.user, record=record, image=image,
                                           client_ip=client_ip(request))
        except review.NoSuchImage:
            raise Http404 from None
        response = HttpResponse(jpeg, content_type="image/jpeg")
        response["Cache-Control"] = "no-store, private"
        return response

    def verdict_view(self, request, object_id):
        """POST: the operator's verdict and note, then back to the review page."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        record = self._record_or_404(request, object_id)
        try:
            given = review.verdict_set(user=request.user, record=record,
                                       verdict=request.POST.get("verdict", ""),
                                       note=request.POST.get("note", ""))
        except ValueError as error:
            self.message_user(request, str(error), messages.ERROR)
        else:
            self.message_user(request, f"Verdict saved: {given.get_verdict_display()}.",
                              messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:faceid_verificationrecord_change",
                                            args=[record.pk]))


@admin.register(OperatorVerdict)
class OperatorVerdictAdmin(ReadOnlyAdmin):
    """Every verdict given, the overturned ones too; given only from the review page."""

    list_display = ("record", "verdict", "username", "created_at", "note")
    list_filter = ("verdict",)
    search_fields = ("=record__biz_token", "username")
    date_hierarchy = "created_at"
    list_select_related = ("record",)


@admin.register(FaceImageView)
class FaceImageViewAdmin(ReadOnlyAdmin):
    """The audit log: who was served which face picture of which record, and when."""

    list_display = ("viewed_at", "username", "record", "image", "client_ip")
    list_filter = ("image",)
    search_fields = ("username", "=record__biz_token")
    date_hierarchy = "viewed_at"
    list_select_related = ("record",)


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
