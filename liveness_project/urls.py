from django.contrib import admin
from django.urls import include, path

from apps.console import views as console_views
from apps.core import views as core_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("readyz", core_views.readyz, name="readyz"),
    path("metrics", core_views.metrics, name="metrics"),
    path("openapi.yaml", core_views.openapi, name="openapi"),
    # Before admin.site.urls, whose catch-all would answer 404; admin_view sends anyone who is
    # not active staff to the admin's login page.
    path("admin/dashboard/", admin.site.admin_view(console_views.dashboard),
         name="admin-dashboard"),
    path("admin/", admin.site.urls),
    path("faceid/", include("apps.faceid.urls")),
    path("", include("apps.single_image.urls")),
]

handler400 = "apps.core.views.bad_request"
handler403 = "apps.core.views.permission_denied"
handler404 = "apps.core.views.page_not_found"
handler500 = "apps.core.views.server_error"
