from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.template.response import TemplateResponse

from .models import BizTokenRecord, LiveSession
from .sessions import sessions_live


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(BizTokenRecord)
class BizTokenRecordAdmin(ReadOnlyAdmin):
    list_display = ("biz_token", "app", "liveness_type", "comparison_type", "uuid", "biz_no",
                    "created_at", "expires_at", "consumed_at")
    list_filter = ("liveness_type", "comparison_type", "app")
    search_fields = ("biz_token", "uuid", "biz_no", "request_id")
    date_hierarchy = "created_at"
    list_select_related = ("app",)


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
