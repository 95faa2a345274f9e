from django.contrib import admin

from apps.core.admin_base import CsvExportAdmin, ReadOnlyAdmin

from .models import SingleImageCall
from .records import SINGLE_IMAGE_CSV_COLUMNS


@admin.register(SingleImageCall)
class SingleImageCallAdmin(CsvExportAdmin, ReadOnlyAdmin):
    """The records are what happened. Search is exact (request ids are copied
    whole from an answer or a log line), so it reads the indexes instead of scanning."""

    list_display = ("created_at", "app", "contract", "verdict", "live_probability", "threshold",
                    "attack_species", "duration_ms", "request_id", "client_request_id",
                    "client_ip")
    list_filter = ("contract", "verdict", "app", "created_at")
    search_fields = ("=request_id", "=client_request_id")
    search_help_text = "A request id, whole: ours (X-Request-Id) or seed 000's own."
    date_hierarchy = "created_at"
    list_select_related = ("app",)
    csv_columns = SINGLE_IMAGE_CSV_COLUMNS
    csv_name = "single-image-calls"

    def csv_queryset(self, queryset):
        return queryset.select_related("app")
