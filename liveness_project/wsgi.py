import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveness_project.settings")

django_application = get_wsgi_application()

from apps.core.transport import BodyGuard  # noqa: E402  (after Django is set up)

application = BodyGuard(django_application)
