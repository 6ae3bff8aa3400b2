"""The Celery app: `celery -A config worker` runs tasks with the web process's settings."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("tsunagi")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
