from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

from apps.tenants.models import ApiApp

from .charts import ATTACK_COLOUR, OTHER_COLOUR, PASSED_COLOUR, stacked_bars_svg
from .dashboard import DEFAULT_DAYS, daily_totals, dashboard_figures, day_range

MAX_DAYS = 366


def _int_param(request: HttpRequest, name: str) -> int | None:
    try:
        return int(request.GET.get(name, ""))
    except ValueError:
        return None


def dashboard(request: HttpRequest) -> TemplateResponse:
    """/admin/dashboard/?days=N&app=ID (staff only: wrapped in admin_site.admin_view)."""
    days = min(max(_int_param(request, "days") or DEFAULT_DAYS, 1), MAX_DAYS)
    app_id = _int_param(request, "app")
    first, last = day_range(days)
    figures = dashboard_figures(first=first, last=last, app_id=app_id)
    charts = [(name, stacked_bars_svg(bars, title=name))
              for name, bars in daily_totals(figures, first=first, last=last).items()]
    context = {
        **admin.site.each_context(request),
        "title": "Dashboard",
        "figures": figures,
        "charts": charts,
        "days": days,
        "first": first,
        "last": last,
        "apps": ApiApp.objects.order_by("name").values_list("id", "name"),
        "app_id": app_id,
        "colours": {"passed": PASSED_COLOUR, "attack": ATTACK_COLOUR, "other": OTHER_COLOUR},
    }
    return TemplateResponse(request, "admin/console/dashboard.html", context)
