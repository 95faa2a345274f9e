from django.apps import AppConfig


class SingleImageConfig(AppConfig):
    name = "apps.single_image"
    label = "single_image"
    verbose_name = "Single-image liveness APIs (seeds 000, 001, 002)"

    def ready(self) -> None:
        from apps.core.api_errors import generic_body, register

        from .errors import error_format
        from .urls import CONTRACT_PREFIXES

        for prefix, contract in CONTRACT_PREFIXES.items():
            register(prefix, error_format(contract))
        register("/api/", lambda status, reason, request_id: (
            status, generic_body(status, reason, request_id)))
