"""Admin base classes shared by the apps' admins."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, StreamingHttpResponse
from django.urls import path
from django.utils import timezone

from .csv_export import Column, csv_lines


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the operator reads but never adds, edits or deletes: verification outcomes and
    call records are evidence, written only by the flows that made them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class CsvExportAdmin(admin.ModelAdmin):
    """An "Export CSV" button on the list: `export.csv` with the list's own query string, so
    the file holds exactly the records the list shows under its filters, search and date
    (every page of them). The columns are the admin's `csv_columns` (docs/ADMIN.md)."""

    change_list_template = "admin/csv_export_change_list.html"
    csv_columns: list[Column] = []
    csv_name = "records"

    def csv_queryset(self, queryset):
        """The filtered records, before they are written (a subclass adds what its columns
        read, so that a row costs no query of its own)."""
        return queryset

    def get_urls(self):
        info = self.opts.app_label, self.opts.model_name
        return [path("export.csv", self.admin_site.admin_view(self.csv_export_view),
                     name="{}_{}_export_csv".format(*info)), *super().get_urls()]

    def csv_export_view(self, request: HttpRequest) -> StreamingHttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        changelist = self.get_changelist_instance(request)
        # the list's queryset with its filters, search and ordering, not only its page
        records = self.csv_queryset(changelist.get_queryset(request))
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response = StreamingHttpResponse(csv_lines(records.iterator(chunk_size=500),
                                                   self.csv_columns),
                                         content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="{self.csv_name}-{stamp}.csv"'
        response["Cache-Control"] = "no-store"
        return response
