from django.contrib import admin, messages
from django.utils.html import format_html

from .models import ApiApp
from .services import (
    api_app_code_assign,
    api_app_code_rotate,
    api_app_secret_assign,
    api_app_secret_rotate,
)


@admin.register(ApiApp)
class ApiAppAdmin(admin.ModelAdmin):
    list_display = ("name", "api_key", "status", "can_verify", "can_use_data_source",
                    "usage", "concurrency_limit", "rate_limit_per_minute", "created_at")
    list_filter = ("status", "can_verify", "can_use_data_source")
    search_fields = ("name", "api_key")
    readonly_fields = ("api_key", "calls_used", "created_at", "updated_at", "secret_note")
    fields = ("name", "api_key", "secret_note", "status", "can_verify", "can_use_data_source",
              "call_quota", "calls_used", "concurrency_limit", "rate_limit_per_minute",
              "allowed_networks", "notes",
              "created_at", "updated_at")
    actions = ("rotate_secret", "rotate_app_code", "discontinue", "reactivate")

    @admin.display(description="calls used / quota", ordering="calls_used")
    def usage(self, obj: ApiApp) -> str:
        quota = "no quota" if obj.call_quota is None else f"{obj.call_quota:,}"
        return f"{obj.calls_used:,} / {quota}"

    @admin.display(description="api_secret")
    def secret_note(self, obj: ApiApp) -> str:
        return ("stored encrypted (the app_code as a keyed digest); both shown once, when the "
                "app is created or they are rotated")

    def save_model(self, request, obj: ApiApp, form, change: bool) -> None:
        if not change:
            secret = api_app_secret_assign(app=obj)
            code = api_app_code_assign(app=obj)
            super().save_model(request, obj, form, change)
            self._show_secret(request, obj, secret)
            self._show_app_code(request, code)
        else:
            super().save_model(request, obj, form, change)

    def _show_secret(self, request, obj: ApiApp, secret: str) -> None:
        messages.warning(
            request,
            format_html("api_key <code>{}</code> api_secret <code>{}</code> — copy it now, it "
                        "will not be shown again.", obj.api_key, secret),
        )

    def _show_app_code(self, request, code: str) -> None:
        messages.warning(request, format_html(
            "app_code <code>{}</code> (Authorization: APPCODE …) — copy it now, it will not be "
            "shown again.", code))

    @admin.action(description="Rotate app_code (shows the new one once)")
    def rotate_app_code(self, request, queryset) -> None:
        for app in queryset:
            self._show_app_code(request, api_app_code_rotate(app=app))

    @admin.action(description="Rotate api_secret (shows the new one once)")
    def rotate_secret(self, request, queryset) -> None:
        for app in queryset:
            self._show_secret(request, app, api_app_secret_rotate(app=app))

    @admin.action(description="Discontinue (API_KEY_BE_DISCONTINUED)")
    def discontinue(self, request, queryset) -> None:
        for app in queryset:
            app.status = ApiApp.Status.DISCONTINUED
            app.save(update_fields=["status", "updated_at"])

    @admin.action(description="Reactivate")
    def reactivate(self, request, queryset) -> None:
        for app in queryset:
            app.status = ApiApp.Status.ACTIVE
            app.save(update_fields=["status", "updated_at"])
