from django.apps import AppConfig


class SingleImageConfig(AppConfig):
    name = "apps.single_image"
    label = "single_image"
    verbose_name = "Single-image liveness APIs (seeds 000, 001, 002)"
