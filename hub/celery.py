"""The Celery app (cookiecutter `config/celery_app.py`, paperless `paperless/celery.py`)."""

import os

from celery import Celery, Task, current_app

from hub import broker_filesystem

# Before any connection: `filesystem://` writes each message whole (hub/broker_filesystem.py).
broker_filesystem.install()

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")

app = Celery("hub")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


def task_named(name: str) -> Task:
    """The task registered under its stable `name` (`hub.tasks`, STYLE §3.4).

    Services enqueue by name rather than importing `hub.tasks`: the tasks module imports the
    services (a task is an entry point, like a view), so an import back would be a cycle. The
    names are already a contract (beat schedule, CELERY_TASK_ROUTES, messages in the broker
    across deploys); `hub.apps` imports `hub.tasks` so that every process registers them.
    """
    return current_app.tasks[name]
