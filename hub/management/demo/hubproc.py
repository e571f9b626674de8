"""The hub of the demo as `make run` starts it: `manage.py hub_run` (web server, Celery worker
and beat under honcho) in a process group of its own, its output in a log file, stopped with
SIGINT (honcho's Ctrl-C) and, if it does not go in time, killed."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path


class DemoError(Exception):
    """A step of the demo did not complete: the message says which and why."""


class HubProcess:
    """`manage.py hub_run --port PORT` with the demo's environment, logging to `log_path`."""

    def __init__(self, *, base_dir: Path, port: int, env: dict[str, str], log_path: Path) -> None:
        self.base_dir, self.port, self.env, self.log_path = base_dir, port, env, log_path
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        command = [sys.executable, str(self.base_dir / "manage.py"), "hub_run"]
        command += ["--port", str(self.port)]
        with self.log_path.open("ab") as log:
            # A session of its own: the demo stops it in order (partners first) on Ctrl-C.
            self.process = subprocess.Popen(  # noqa: S603 - our interpreter, our arguments
                command,
                cwd=self.base_dir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )

    def check_alive(self) -> None:
        """DemoError (with the log's tail) if the hub's processes have exited."""
        if self.process is not None and self.process.poll() is not None:
            raise DemoError(
                f"the hub exited (code {self.process.returncode}); its log "
                f"({self.log_path}) ends with:\n{self.log_tail()}"
            )

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def wait_ready(self, timeout: float) -> None:
        """Until the web server accepts connections and the Celery worker has said it is
        ready (its log line; the partners' registration then proves both work)."""
        deadline = time.monotonic() + timeout
        web = worker = False
        while time.monotonic() < deadline:
            self.check_alive()
            if not web:
                with (
                    contextlib.suppress(OSError),
                    socket.create_connection(("127.0.0.1", self.port), timeout=1),
                ):
                    web = True
            if not worker:
                worker = " ready." in self.log_tail(400)
            if web and worker:
                return
            time.sleep(0.2)
        missing = " and ".join(
            n for n, ok in (("the web server", web), ("the Celery worker", worker)) if not ok
        )
        raise DemoError(
            f"{missing} did not start within {timeout:.0f} s; the hub's log "
            f"({self.log_path}) ends with:\n{self.log_tail()}"
        )

    def stop(self, timeout: float = 20.0) -> int | None:
        """SIGINT to the whole group (what Ctrl-C does to honcho), then SIGKILL after
        `timeout`. Returns the exit code."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return process.returncode if process is not None else None
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGINT)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            return process.wait(timeout=5)
