from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "apps.core"
    label = "core"
    verbose_name = "Platform core"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the system checks
        from .logging import install_request_id_record_factory

        install_request_id_record_factory()
