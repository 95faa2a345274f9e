"""Admin base classes shared by the apps' admins."""

from django.contrib import admin


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record the operator reads but never adds, edits or deletes: verification outcomes and
    call records are evidence, written only by the flows that made them."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
