"""`manage.py hub_run`: what `make run` starts — migrate, collect the static files, an admin user
from the environment, then the web server (gunicorn, configured by settings/gunicorn.py), a
Celery worker and beat in the foreground (honcho, a Procfile runner: one Ctrl-C stops all
three)."""

import os
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandParser

from hub.services.registry.credentials import hub_versions_url
from settings import gunicorn as web_server


def prometheus_folder(port: int) -> Path:
    """Where the web workers write their request metrics (prometheus-client's multiprocess
    mode; /metrics sums the files): PROMETHEUS_MULTIPROC_DIR when set, otherwise one folder
    per port under .run/, so a `make run` and a `make demo` side by side never share one."""
    given = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    return Path(given) if given else Path(settings.BASE_DIR) / ".run" / f"prometheus-{port}"


def empty_prometheus_folder(folder: Path) -> None:
    """The files of a previous run's workers would be summed with this run's: gone at start.
    Only prometheus-client's own files (*.db), in case the folder was given and holds more."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.db"):
        stale.unlink(missing_ok=True)


class Command(BaseCommand):
    help = "Migrate, create the admin user from HUB_ADMIN_USER/HUB_ADMIN_PASSWORD, run everything."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
        parser.add_argument(
            "--no-start", action="store_true", help="Prepare only; do not start the processes"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        port: int = options["port"]
        call_command("migrate", interactive=False, verbosity=0)
        # WhiteNoise serves the admin's, the dashboard's and the API docs' files from
        # STATIC_ROOT when DEBUG is off (with DEBUG on it reads the apps' folders directly).
        call_command("collectstatic", interactive=False, verbosity=0)
        self._ensure_admin()
        broker_folder = getattr(settings, "CELERY_BROKER_FOLDER", "")
        if settings.CELERY_BROKER_URL.startswith("filesystem://") and broker_folder:
            Path(broker_folder).mkdir(parents=True, exist_ok=True)
            for suffix in ("-processed", "-control"):
                Path(broker_folder + suffix).mkdir(parents=True, exist_ok=True)
        Path(settings.CELERY_BEAT_SCHEDULE_FILENAME).parent.mkdir(parents=True, exist_ok=True)
        database = settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1]
        broker = settings.CELERY_BROKER_URL.split("://", 1)[0]
        self.stdout.write(f"OCPI hub {settings.OCPI_COUNTRY_CODE}*{settings.OCPI_PARTY_ID}")
        self.stdout.write(f"  database:     {database}")
        self.stdout.write(f"  broker:       {broker}")
        self.stdout.write(f"  versions URL: {hub_versions_url()}")
        self.stdout.write(f"  admin:        http://127.0.0.1:{port}/admin/")
        self.stdout.write(f"  API docs:     http://127.0.0.1:{port}/api/docs/")
        self.stdout.write(f"  health:       http://127.0.0.1:{port}/healthz")
        # The Procfile's web process reads the same module (WEB_CONCURRENCY, WEB_THREADS).
        self.stdout.write(
            f"  web server:   gunicorn, {web_server.workers} processes"
            f" x {web_server.threads} threads"
        )
        self.stdout.write("Invite a partner: python manage.py ocpi_invite --name NAME")
        sys.stdout.flush()
        if options["no_start"]:
            return
        metrics_folder = prometheus_folder(port)
        empty_prometheus_folder(metrics_folder)
        env = dict(os.environ, PORT=str(port), PYTHONUNBUFFERED="1")
        env["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_folder)
        env.setdefault("DJANGO_SETTINGS_MODULE", "settings.local")
        bin_dir = str(Path(sys.executable).parent)
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
        procfile = Path(settings.BASE_DIR) / "Procfile"
        honcho = [sys.executable, "-m", "honcho", "-f", str(procfile), "-d", str(settings.BASE_DIR)]
        os.execve(sys.executable, [*honcho, "start"], env)  # noqa: S606 - our interpreter

    def _ensure_admin(self) -> None:
        username = os.environ.get("HUB_ADMIN_USER")
        password = os.environ.get("HUB_ADMIN_PASSWORD")
        if not username or not password:
            return
        user_model = get_user_model()
        user, created = user_model.objects.get_or_create(
            username=username, defaults={"is_staff": True, "is_superuser": True}
        )
        user.is_staff = user.is_superuser = True
        user.set_password(password)
        user.save()
        self.stdout.write(f"  admin user:   {username} ({'created' if created else 'updated'})")
