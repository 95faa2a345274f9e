from django.apps import AppConfig


class FaceIdConfig(AppConfig):
    name = "apps.faceid"
    label = "faceid"
    verbose_name = "FaceID sessions"
