"""A real Celery worker in a subprocess, on the real broker and the test database.

Eager mode hides exactly the bugs delivery tests exist to find (serialization, commit
visibility, redelivery), so these tests run `celery worker` as the deployment does.
"""

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from django.conf import settings
from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def test_database_url() -> str:
    """A URL for the database this test process uses (the test database, not the dev one)."""
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    user = db.get("USER") or ""
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    auth = f"{user}{password}@" if user else ""
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{auth}{host}{port}/{db['NAME']}"


def hub_process_env(
    base_url: str, extra: Mapping[str, str] | None = None, *, inherit: bool = True
) -> dict[str, str]:
    """The environment of a hub subprocess (worker, beat, web) on this test's database."""
    env = dict(os.environ) if inherit else {}
    env.update(
        DJANGO_SETTINGS_MODULE="settings.test",
        DATABASE_URL=test_database_url(),
        OCPI_BASE_URL=base_url,
        PYTHONUNBUFFERED="1",
    )
    env.update(extra or {})
    return env


class LoggedProcess:
    """A subprocess writing to `log_path`; `stop` terminates it, killing it if it lingers."""

    log_path: Path

    def __init__(self) -> None:
        self.process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def _spawn(self, command: list[str], env: Mapping[str, str], mode: str = "wb") -> None:
        self._log = self.log_path.open(mode)
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            command, cwd=ROOT, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT
        )

    def _force_kill(self) -> None:
        assert self.process is not None
        self.process.kill()

    def stop(self, timeout: float = 15.0) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                self._force_kill()
                self.process.wait(timeout=5)
        if self._log is not None:
            self._log.close()
            self._log = None

    def _wait_ready(self, name: str, marker: bytes, timeout: float) -> None:
        """Until `marker` shows in the log; a process that exits or is not ready in `timeout`
        fails the test with its log's tail."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{name} exited early:\n{self.log_tail()}")
            if marker in self.log_path.read_bytes():
                return
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"{name} not ready in {timeout}s:\n{self.log_tail()}")

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except FileNotFoundError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])


class CeleryWorkerProcess(LoggedProcess):
    """`celery -A hub worker` with the test settings; stopped (and killed if need be) on exit."""

    def __init__(
        self,
        log_dir: Path,
        *,
        concurrency: int = 4,
        pool: str = "threads",
        env: dict[str, str] | None = None,
    ) -> None:
        super().__init__()
        self.log_path = log_dir / "celery-worker.log"
        self.extra_env = dict(env or {})
        self.concurrency = concurrency
        self.pool = pool

    def start(self, timeout: float = 60.0) -> "CeleryWorkerProcess":
        env = hub_process_env(settings.OCPI_BASE_URL, self.extra_env)
        command = [
            sys.executable, "-m", "celery", "-A", "hub", "worker",
            "-Q", ",".join(settings.HUB_WORKER_QUEUES), "--pool", self.pool,
            "--concurrency", str(self.concurrency), "-l", "info",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "-n", f"test-{os.getpid()}@%h",
        ]  # fmt: skip
        self._spawn(command, env)
        self._wait_ready("celery worker", b" ready.", timeout)
        return self


def wait_until(condition: "object", timeout: float = 20.0, interval: float = 0.1) -> bool:
    """Poll `condition()` until it is true or `timeout` passes; return its last value."""
    deadline = time.monotonic() + timeout
    while True:
        if condition():  # type: ignore[operator]
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


class CeleryBeatProcess(LoggedProcess):
    """`celery -A hub beat` with the test settings, its schedule file and pid file in
    `log_dir` (never the checkout's); `env` overrides settings such as the heartbeat interval."""

    def __init__(self, log_dir: Path, *, env: dict[str, str] | None = None) -> None:
        super().__init__()
        self.log_dir = log_dir
        self.log_path = log_dir / "celery-beat.log"
        self.extra_env = dict(env or {})

    def start(self, timeout: float = 60.0) -> "CeleryBeatProcess":
        env = hub_process_env(settings.OCPI_BASE_URL, self.extra_env)
        command = [
            sys.executable, "-m", "celery", "-A", "hub", "beat", "-l", "info",
            "--schedule", str(self.log_dir / "celerybeat-schedule"),
            "--pidfile", str(self.log_dir / "celerybeat.pid"),
        ]  # fmt: skip
        self._spawn(command, env)
        self._wait_ready("celery beat", b"beat: Starting", timeout)
        return self
