"""A served hub for benchmarks: the hub as `make run` serves it in production, on a scratch
PostgreSQL database of its own, for scenarios that measure it over HTTP (S0, S1, ...).

    setup_django()                                  # before anything imports hub models
    with ServedHub(web_workers=1) as hub:           # scratch database created and migrated
        cpo = hub.register_party("CPO", "NL", "CP1", endpoints={("locations", "SENDER"): url})
        hub.start()                                 # gunicorn (settings/gunicorn.py) serving
        httpx.get(hub.url("/ocpi/2.2.1/emsp/locations"), headers=cpo.headers())
    # processes stopped, database dropped, whatever happened inside

What is as shipped: gunicorn with `settings/gunicorn.py` (gthread; WEB_CONCURRENCY workers,
WEB_THREADS threads each), `settings.local` with DEBUG off (production's code paths; the
private loopback URLs of stub partners allowed), the OCPI exchange log ON and the default
logging (INFO on stderr, into the hub's log file here; no access log), the Redis cache and
broker of REDIS_URL. Optionally a real Celery worker with the Procfile's options. What is not:
no TLS proxy in front, no beat (nothing periodic runs during a measurement), no
`collectstatic` (the OCPI API serves no static file).

Parties are registered directly in the scratch database (the factories of the test suite, as
tests/test_hub_run.py does), not through the credentials handshake: the benchmark measures
traffic, not registrations. Every wait is bounded; a process that exits or does not come up
fails with its log's tail; the processes are always stopped and the database dropped.
"""

from __future__ import annotations

import base64
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
# What `make run` uses (Makefile: DJANGO_SETTINGS_MODULE defaults to settings.local).
HUB_SETTINGS = "settings.local"
# The hub's own party (settings.ocpi defaults): TO for broadcasts and GET all via the hub.
HUB_PARTY = ("NL", "HUB")
READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Variables of the caller's environment that would change what is measured: the hub must run
# with its shipped defaults for these (exchange log on, INFO logging, no access log).
NOT_INHERITED = (
    "OCPI_LOG_EXCHANGES",
    "DJANGO_LOG_LEVEL",
    "WEB_ACCESS_LOG",
    "WEB_BIND",
    "WEB_CONCURRENCY",
    "WEB_THREADS",
    "PROMETHEUS_MULTIPROC_DIR",
    "CELERY_BROKER_URL",
    "DJANGO_SETTINGS_MODULE",
)


class ServedHubError(RuntimeError):
    """The served hub could not be prepared, started or reached: the message says why."""


def setup_django() -> None:
    """Django in the benchmark process with the hub's settings (for the factories and the
    scratch database), DEBUG off so that no query is kept in memory."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", HUB_SETTINGS)
    os.environ["DJANGO_DEBUG"] = "false"
    import logging
    import warnings

    import django

    django.setup()
    # This process only prepares data and counts a request's SQL (`database_work`): the
    # served hub's own log is in its log file; here its INFO lines and WhiteNoise's missing
    # static folder would only bury the figures.
    logging.getLogger("hub").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message="No directory at", module="django.core.handlers")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass(frozen=True)
class Party:
    """A party registered in the served hub and the token its platform calls with."""

    role: str
    country_code: str
    party_id: str
    token: str
    platform_id: int

    @property
    def authorization(self) -> str:
        """The value of the `Authorization` header (2.2.1: `Token base64(token)`)."""
        return "Token " + base64.b64encode(self.token.encode()).decode()

    @property
    def ref(self) -> tuple[str, str]:
        return (self.country_code, self.party_id)

    def headers(self, to: tuple[str, str] | None = None) -> dict[str, str]:
        """The headers of a functional-module request from this party: FROM always, TO when
        given (`HUB_PARTY` for broadcasts and GET all, another party for direct routing)."""
        headers = {
            "Authorization": self.authorization,
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
            "OCPI-from-country-code": self.country_code,
            "OCPI-from-party-id": self.party_id,
        }
        if to is not None:
            headers["OCPI-to-country-code"], headers["OCPI-to-party-id"] = to
        return headers


class ServedProcess:
    """A server subprocess in a session of its own (so that its children go with it), its
    output in `log_path`; `stop` sends SIGTERM to the group, then SIGKILL after a bound."""

    def __init__(self, name: str, command: list[str], env: Mapping[str, str], log_path: Path):
        self.name, self.command, self.env, self.log_path = name, command, dict(env), log_path
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self) -> None:
        self._log = self.log_path.open("ab")
        self.process = subprocess.Popen(  # noqa: S603 - our interpreter and arguments
            self.command,
            cwd=ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def check_alive(self) -> None:
        if self.process is None or self.process.poll() is not None:
            code = None if self.process is None else self.process.returncode
            raise ServedHubError(f"{self.name} exited (code {code}); its log:\n{self.log_tail()}")

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_for_log(self, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if marker in self.log_path.read_text(errors="replace"):
                return
            time.sleep(0.2)
        raise ServedHubError(
            f"{self.name} not ready within {timeout:.0f} s (no {marker!r} in its log):\n"
            f"{self.log_tail()}"
        )

    def stop(self, timeout: float = STOP_TIMEOUT_S) -> None:
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)
        if process is not None:
            # The workers are in the master's group: none may outlive it.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
        if self._log is not None:
            self._log.close()
            self._log = None


def gunicorn_process(
    name: str,
    app: str,
    port: int,
    env: Mapping[str, str],
    log_path: Path,
    *,
    workers: int = 1,
    threads: int | None = None,
) -> ServedProcess:
    """`gunicorn --config python:settings.gunicorn APP` (the Procfile's web line) on
    127.0.0.1:PORT with WEB_CONCURRENCY=`workers` (and WEB_THREADS when given)."""
    env = dict(env, PORT=str(port), WEB_CONCURRENCY=str(workers), PYTHONUNBUFFERED="1")
    if threads is not None:
        env["WEB_THREADS"] = str(threads)
    # A bounded stop: in-flight requests get 5 s on SIGTERM (nothing is in flight by then).
    env.setdefault("WEB_GRACEFUL_TIMEOUT", "5")
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    command = [sys.executable, "-m", "gunicorn", "--config", "python:settings.gunicorn", app]
    return ServedProcess(name, command, env, log_path)


def wait_http(base_url: str, process: ServedProcess, path: str, timeout: float) -> None:
    """Until the server answers `path` over HTTP (any status: a worker is serving)."""
    import httpx  # noqa: TID251 - a client of the hub, not the hub's outbound calls

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        process.check_alive()
        try:
            httpx.get(base_url + path, timeout=5)
            return
        except httpx.TransportError as exc:
            last = exc
            time.sleep(0.2)
    raise ServedHubError(
        f"{process.name} did not answer {path} within {timeout:.0f} s ({last!r}); its log:\n"
        f"{process.log_tail()}"
    )


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


class ServedHub:
    """The hub served by gunicorn (and optionally a Celery worker) on a scratch database.

    `with ServedHub(...) as hub:` creates and migrates the database and points this process's
    Django at it (register parties then); `hub.start()` starts the processes. On exit
    everything is stopped, Django pointed back and the database dropped.
    """

    def __init__(
        self,
        *,
        web_workers: int = 1,
        web_threads: int | None = None,
        celery_worker: bool = False,
        name: str = "served",
        database_url: str | None = None,
        redis_url: str | None = None,
        extra_env: Mapping[str, str] | None = None,
        ready_timeout: float = READY_TIMEOUT_S,
    ) -> None:
        self.web_workers = web_workers
        self.web_threads = web_threads
        self.with_worker = celery_worker
        self.database_url = database_url or os.environ.get("DATABASE_URL", "")
        self.redis_url = redis_url if redis_url is not None else os.environ.get("REDIS_URL", "")
        self.extra_env = dict(extra_env or {})
        self.ready_timeout = ready_timeout
        if not self.database_url.startswith(("postgres://", "postgresql://")):
            raise ServedHubError(
                "DATABASE_URL must be a PostgreSQL URL (the served hub creates a scratch "
                f"database next to it), not {self.database_url or 'unset'!r}"
            )
        base = urlsplit(self.database_url).path.lstrip("/") or "bench"
        # Its own name next to the given one (same prefix), unique per process.
        self.database_name = f"{base}_{name}_{os.getpid()}"[:63]
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix=f"served-hub-{name}-"))
        self.web: ServedProcess | None = None
        self.worker: ServedProcess | None = None
        self._old_name: str | None = None
        self._created = False

    # ---- what scenarios use --------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, path: str) -> str:
        return self.base_url + "/" + path.lstrip("/")

    def register_party(
        self,
        role: str,
        country_code: str,
        party_id: str,
        *,
        endpoints: Mapping[tuple[str, str], str] | None = None,
        name: str | None = None,
    ) -> Party:
        """A connected platform with one role, an access token and the given endpoints
        ({(module, "SENDER"|"RECEIVER"): url}), written straight into the scratch database."""
        from tests.factories import PlatformEndpointFactory, registered_party

        platform, token = registered_party(
            role,
            country_code,
            party_id,
            name=name or f"{role} {country_code}*{party_id}",
            versions_url=f"http://127.0.0.1:9/{country_code}{party_id}/versions",
        )
        for (identifier, interface), url in (endpoints or {}).items():
            PlatformEndpointFactory(
                platform=platform, identifier=identifier, role=interface, url=url
            )
        return Party(role, country_code, party_id, token, platform.pk)

    def log_tail(self, lines: int = 40) -> str:
        return self.web.log_tail(lines) if self.web else "(not started)"

    def database_work(
        self, method: str, path: str, headers: Mapping[str, str], body: str = ""
    ) -> str:
        """What one request costs the database: the same request run once in this process
        (Django's test client, the same code and database as the served hub), its SQL
        statements counted — e.g. "8 SQL statements, 2 writes, 2 commits". For the output
        of a scenario whose goal is not met: where a served request's time goes."""
        from django.db import connection
        from django.test import Client
        from django.test.utils import CaptureQueriesContext

        client = Client(SERVER_NAME="127.0.0.1")
        with CaptureQueriesContext(connection) as captured:
            answer = client.generic(
                method, path, data=body, content_type="application/json", headers=dict(headers)
            )
        statements = [q["sql"].lstrip().split(None, 1)[0].upper() for q in captured]
        writes = commits = 0
        in_transaction = False
        for verb in statements:
            if verb in {"BEGIN", "SAVEPOINT"}:
                in_transaction = in_transaction or verb == "BEGIN"
            elif verb == "COMMIT":
                commits += 1
                in_transaction = False
            elif verb in {"INSERT", "UPDATE", "DELETE"}:
                writes += 1
                commits += 0 if in_transaction else 1
        return (
            f"{len(statements)} SQL statements, {writes} writes, {commits} commits "
            f"(HTTP {answer.status_code})"
        )

    # ---- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> ServedHub:
        try:
            self._create_database()
            self._point_django()
            from django.core.management import call_command

            call_command("migrate", interactive=False, verbosity=0)
            self._forget_cache()
        except BaseException:
            self._teardown(keep_logs=True)
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._teardown(keep_logs=exc is not None)

    def start(self) -> ServedHub:
        """gunicorn serving the hub (and the Celery worker if asked), ready to answer."""
        env = self.process_env()
        self.web = gunicorn_process(
            "hub web server (gunicorn)",
            "hub.wsgi",
            self.port,
            env,
            self.folder / "hub-web.log",
            workers=self.web_workers,
            threads=self.web_threads,
        )
        self.web.start()
        wait_http(self.base_url, self.web, "/ocpi/versions", self.ready_timeout)
        if self.with_worker:
            from django.conf import settings

            command = [
                sys.executable, "-m", "celery", "-A", "hub", "worker",
                "-Q", ",".join(settings.HUB_WORKER_QUEUES), "--pool", "threads",
                "--concurrency", "8", "-l", "info", "-n", f"bench-{os.getpid()}@%h",
            ]  # fmt: skip
            self.worker = ServedProcess(
                "Celery worker", command, env, self.folder / "hub-worker.log"
            )
            self.worker.start()
            self.worker.wait_for_log(" ready.", self.ready_timeout)
        return self

    def process_env(self) -> dict[str, str]:
        """The environment of the hub's processes: `make run`'s, on the scratch database."""
        env = {k: v for k, v in os.environ.items() if k not in NOT_INHERITED}
        static = self.folder / "static"
        static.mkdir(exist_ok=True)
        env.update(
            DJANGO_SETTINGS_MODULE=HUB_SETTINGS,
            DJANGO_DEBUG="false",
            DATABASE_URL=_with_database(self.database_url, self.database_name),
            OCPI_BASE_URL=self.base_url,
            OCPI_LOG_EXCHANGES="true",
            DJANGO_STATIC_ROOT=str(static),
            PROMETHEUS_MULTIPROC_DIR=str(self.folder / "prometheus"),
            CELERY_BEAT_SCHEDULE_FILENAME=str(self.folder / "celerybeat-schedule"),
            PYTHONUNBUFFERED="1",
        )
        (self.folder / "prometheus").mkdir(exist_ok=True)
        if self.redis_url:
            env["REDIS_URL"] = self.redis_url
        else:
            env.pop("REDIS_URL", None)
            env["CELERY_BROKER_FOLDER"] = str(self.folder / "broker")
            for suffix in ("", "-processed", "-control"):
                (self.folder / f"broker{suffix}").mkdir(exist_ok=True)
        env.update(self.extra_env)
        return env

    # ---- the scratch database ------------------------------------------------------------

    def _admin_connection(self) -> Any:
        import psycopg

        url = _with_database(self.database_url, "postgres")
        return psycopg.connect(url.replace("postgresql://", "postgres://", 1), autocommit=True)

    def _create_database(self) -> None:
        with self._admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
            admin.execute(f'CREATE DATABASE "{self.database_name}"')
        self._created = True

    def _drop_database(self) -> None:
        if not self._created:
            return
        with self._admin_connection() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.database_name}" WITH (FORCE)')
        self._created = False

    def _point_django(self) -> None:
        """This process's Django on the scratch database (what Django's test runner does
        with its test database: both the settings and the connection's copy)."""
        from django.conf import settings
        from django.db import connection

        connection.close()
        self._old_name = settings.DATABASES["default"]["NAME"]
        settings.DATABASES["default"]["NAME"] = self.database_name
        connection.settings_dict["NAME"] = self.database_name

    def _restore_django(self) -> None:
        if self._old_name is None:
            return
        from django.conf import settings
        from django.db import connection

        connection.close()
        settings.DATABASES["default"]["NAME"] = self._old_name
        connection.settings_dict["NAME"] = self._old_name
        self._old_name = None

    def _forget_cache(self) -> None:
        """The hub's cache entries (KEY_PREFIX "hub") and queued tasks of an earlier served
        hub on the same Redis database would belong to another database's rows: gone at
        start and at the end. Only the hub's own keys and queues are touched."""
        if not self.redis_url:
            return
        import redis
        from django.conf import settings

        client = redis.Redis.from_url(self.redis_url)
        try:
            stale = list(client.scan_iter(match="hub:*", count=1000))
            if stale:
                client.delete(*stale)
            for queue in settings.HUB_WORKER_QUEUES:
                # kombu's list for the queue, and those of its priority steps.
                client.delete(queue, *client.scan_iter(match=f"{queue}\x06\x16*"))
        finally:
            client.close()

    def _teardown(self, *, keep_logs: bool = False) -> None:
        errors: list[BaseException] = []
        for stop in (
            lambda: self.worker and self.worker.stop(),
            lambda: self.web and self.web.stop(),
            self._restore_django,
            self._forget_cache,
            self._drop_database,
        ):
            try:
                stop()
            except Exception as exc:  # noqa: BLE001 - every step runs; the first error is raised
                errors.append(exc)
        if keep_logs:
            print(f"served hub: logs kept in {self.folder}", file=sys.stderr)
        else:
            shutil.rmtree(self.folder, ignore_errors=True)
        if errors:
            raise ServedHubError(f"stopping the served hub: {errors[0]!r}") from errors[0]
