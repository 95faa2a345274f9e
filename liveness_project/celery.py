"""The Celery application: `celery -A liveness_project worker`."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveness_project.settings")

app = Celery("liveness_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
