"""`make run` as a production server would run it: `manage.py hub_run` on the embedded default
(SQLite, the filesystem broker) in a folder of its own, with gunicorn serving the web in
several worker processes next to the Celery worker and beat; one SIGINT (Ctrl-C) stops all."""

import base64
import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.payloads import connector
from tests.worker import ROOT, wait_until

# The party the test registers in the hub's database before it starts (by the factories).
REGISTER_CPO = """
import django
django.setup()
from hub.models import Role
from tests.factories import registered_party
_platform, token = registered_party(role=Role.CPO, country_code="NL", party_id="CP1")
print(token)
"""
# The hub's own identity (settings.ocpi defaults), the receiver of a CPO's pushes.
HUB = ("NL", "HUB")
WORKERS = 2


@dataclass
class RunningHub:
    process: subprocess.Popen[bytes]
    base_url: str
    token: str
    log_path: Path
    database: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def headers(self) -> dict[str, str]:
        return {
            "Authorization": "Token " + base64.b64encode(self.token.encode()).decode(),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
            "OCPI-from-country-code": "NL",
            "OCPI-from-party-id": "CP1",
            "OCPI-to-country-code": HUB[0],
            "OCPI-to-party-id": HUB[1],
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def embedded_env(folder: Path, port: int) -> dict[str, str]:
    """`make run`'s environment with every piece of state in `folder`: no PostgreSQL, no Redis,
    DEBUG off (so the static files come from `collectstatic`, as in production)."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL", "PROMETHEUS_MULTIPROC_DIR"}
    }
    env.update(
        DJANGO_SETTINGS_MODULE="settings.local",
        DJANGO_DEBUG="false",
        DATABASE_URL=f"sqlite:///{folder / 'db.sqlite3'}",
        CELERY_BROKER_FOLDER=str(folder / "broker"),
        CELERY_BEAT_SCHEDULE_FILENAME=str(folder / "celerybeat-schedule"),
        DJANGO_STATIC_ROOT=str(folder / "static"),
        PROMETHEUS_MULTIPROC_DIR=str(folder / "prometheus"),
        OCPI_BASE_URL=f"http://127.0.0.1:{port}",
        WEB_CONCURRENCY=str(WORKERS),
        # /healthz is up once beat's first heartbeat reached the worker: soon, not in 30 s.
        HUB_HEARTBEAT_INTERVAL_S="1",
        PYTHONUNBUFFERED="1",
    )
    return env


def process_table() -> dict[int, tuple[int, str]]:
    """Every live process: pid → (parent pid, command line)."""
    found: dict[int, tuple[int, str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        # After "(comm)": the state, then the parent pid.
        fields = stat.rsplit(")", 1)[1].split()
        if fields[0] != "Z":
            found[int(entry.name)] = (int(fields[1]), cmdline)
    return found


def descendants(root: int) -> dict[int, tuple[int, str]]:
    """Every process below `root` (honcho starts each Procfile process in a session of its
    own, so the session id would not find them)."""
    table = process_table()
    found: dict[int, tuple[int, str]] = {}
    parents = {root}
    while parents:
        children = {pid for pid, (parent, _) in table.items() if parent in parents}
        found.update({pid: table[pid] for pid in children})
        parents = children
    return found


def still_running(processes: dict[int, tuple[int, str]]) -> dict[int, str]:
    """Those of `processes` alive now (same pid, same command line: not a reused pid)."""
    table = process_table()
    return {pid: cmd for pid, (_, cmd) in processes.items() if table.get(pid, (0, ""))[1] == cmd}


def location(number: int) -> dict[str, Any]:
    stamp = "2024-05-01T10:00:00Z"
    return {
        "country_code": "NL",
        "party_id": "CP1",
        "id": f"LOC{number}",
        "publish": True,
        "address": f"Stationsplein {number}",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": "EVSE1",
                "evse_id": f"NL*CP1*E{number}",
                "status": "AVAILABLE",
                "connectors": [connector(stamp)],
                "last_updated": stamp,
            }
        ],
        "last_updated": stamp,
    }


@pytest.fixture
def running_hub(tmp_path: Path) -> Iterator[RunningHub]:
    port = free_port()
    env = embedded_env(tmp_path, port)
    manage = [sys.executable, str(ROOT / "manage.py"), "hub_run", "--port", str(port)]
    # Prepared (migrated, static files collected) first, so the CPO can be registered.
    subprocess.run(  # noqa: S603 - our interpreter and arguments
        [*manage, "--no-start"], cwd=ROOT, env=env, check=True, timeout=120, capture_output=True
    )
    token = subprocess.run(  # noqa: S603 - our interpreter and code
        [sys.executable, "-c", REGISTER_CPO],
        cwd=ROOT,
        env=env,
        check=True,
        timeout=60,
        capture_output=True,
        text=True,
    ).stdout.strip()
    log_path = tmp_path / "hub_run.log"
    with log_path.open("wb") as log:
        # A session of its own, as a terminal's foreground job: SIGINT to it is Ctrl-C.
        process = subprocess.Popen(  # noqa: S603 - our interpreter and arguments
            manage,
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    hub = RunningHub(process, f"http://127.0.0.1:{port}", token, log_path, tmp_path / "db.sqlite3")
    try:
        yield hub
    finally:
        # A failed test must leave nothing running: honcho's processes are in sessions (and
        # process groups) of their own, so each group is killed, then honcho's.
        if process.poll() is None:
            for pid in descendants(process.pid):
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(pid, signal.SIGKILL)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def healthy(hub: RunningHub) -> bool:
    assert hub.process.poll() is None, "hub_run exited:\n" + hub.log()
    try:
        return httpx.get(hub.base_url + "/healthz", timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def test_make_run_serves_through_gunicorn_and_stops_on_one_ctrl_c(running_hub: RunningHub) -> None:
    hub = running_hub
    # given: the hub up (database, broker, beat and worker all healthy)
    assert wait_until(lambda: healthy(hub), timeout=45, interval=0.3), hub.log()
    # then: the web is gunicorn with its worker processes, not Django's development server
    processes = descendants(hub.process.pid)
    # honcho runs each Procfile line through a shell, whose command line names gunicorn too.
    gunicorns = {
        pid for pid, (_, cmd) in processes.items() if "gunicorn" in cmd and "sh -c" not in cmd
    }
    masters = [pid for pid in gunicorns if processes[pid][0] not in gunicorns]
    assert len(masters) == 1, f"not one gunicorn master among {processes}"
    master = masters[0]
    workers = [pid for pid in gunicorns if processes[pid][0] == master]
    assert len(workers) == WORKERS, processes
    assert not [cmd for _, cmd in processes.values() if "runserver" in cmd], processes
    assert "development server" not in hub.log()
    text = hub.log()
    for url in ("/admin/", "/api/docs/", "/healthz"):
        assert f"http://127.0.0.1:{hub.base_url.rsplit(':', 1)[1]}{url}" in text, text

    # when: static files (DEBUG off: collected, served by WhiteNoise) and the versions
    # endpoint, many at once
    with httpx.Client(base_url=hub.base_url, timeout=10) as client:

        def get(path: str) -> httpx.Response:
            return client.get(path, headers=hub.headers())

        paths = ["/static/admin/css/base.css", "/ocpi/versions"] * 10 + [
            "/static/hub/vendor/chart.umd.js",
            "/static/drf_spectacular_sidecar/swagger-ui-dist/swagger-ui-bundle.js",
            "/static/drf_spectacular_sidecar/redoc/bundles/redoc.standalone.js",
        ]
        with ThreadPoolExecutor(max_workers=8) as pool:
            answers = list(pool.map(get, paths))
        # then: every one answered, by gunicorn
        for path, answer in zip(paths, answers, strict=True):
            assert answer.status_code == 200, (path, answer.text[:300])
            assert answer.headers["server"].startswith("gunicorn"), answer.headers
        assert "body" in answers[0].text
        assert answers[1].json()["data"][0]["version"] == "2.2.1"

        # when: the CPO pushes locations through its gateway, many at once (several web
        # processes writing one SQLite file)
        def put(number: int) -> httpx.Response:
            return client.put(
                f"/ocpi/2.2.1/cpo/locations/NL/CP1/LOC{number}",
                content=json.dumps(location(number)),
                headers={**hub.headers(), "Content-Type": "application/json"},
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            puts = list(pool.map(put, range(1, 17)))
        # then: every write is stored, none met a locked database
        for answer in puts:
            assert answer.status_code in (200, 201), answer.text[:500]
            assert answer.json()["status_code"] == 1000, answer.text[:500]
    assert "database is locked" not in hub.log()

    # when: Ctrl-C (SIGINT to the foreground process group)
    os.killpg(hub.process.pid, signal.SIGINT)
    # then: hub_run exits and takes every process it started with it
    assert hub.process.wait(timeout=30) is not None
    assert wait_until(lambda: not still_running(processes), timeout=10), still_running(processes)
    with sqlite3.connect(hub.database) as database:
        (stored,) = database.execute("SELECT count(*) FROM hub_location").fetchone()
    assert stored == 16
