from django.apps import AppConfig


class ConsoleConfig(AppConfig):
    """The operator's console: admin pages that read every surface's records (issue 15). It sits
    above the surfaces (it imports their models; none of them imports it)."""

    name = "apps.console"
    label = "console"
    verbose_name = "Operator's console"

    def ready(self) -> None:
        from django.contrib import admin

        # The admin index gains a link to the dashboard; the template extends Django's own.
        admin.site.index_template = "admin/console/index.html"
