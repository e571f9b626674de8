"""The fault suite's own servers: a private PostgreSQL cluster, a private Redis, the hub's web
process (gunicorn) and Celery beat, all on free loopback ports and all killable at will.

Why private servers: the suite stops, kills and restarts PostgreSQL and Redis. The machine's
shared ones (5432, 6379) serve other test runs, so the suite never touches them.
"""

import glob
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.worker import LoggedProcess

ROOT = Path(__file__).resolve().parent.parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            sock.settimeout(0.5)
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


def children(pid: int) -> list[int]:
    """Direct children of `pid` (Linux /proc; no psutil needed)."""
    found: list[int] = []
    for path in glob.glob(f"/proc/{pid}/task/*/children"):
        try:
            found += [int(p) for p in Path(path).read_text().split()]
        except OSError:
            continue
    return found


def descendants(pid: int) -> list[int]:
    out: list[int] = []
    for child in children(pid):
        out += [child, *descendants(child)]
    return out


def kill_tree(pid: int, sig: int = signal.SIGKILL) -> None:
    """Signal `pid` and every process under it (a worker and its pool), children first
    collected so none is re-parented out of reach."""
    for target in [pid, *descendants(pid)]:
        try:
            os.kill(target, sig)
        except ProcessLookupError:
            pass


def pg_bindir() -> Path:
    """PostgreSQL's server binaries: pg_config's bindir, else the newest /usr/lib/postgresql."""
    candidates: list[Path] = []
    if shutil.which("pg_config"):
        out = subprocess.run(["pg_config", "--bindir"], capture_output=True, text=True)  # noqa: S607
        candidates.append(Path(out.stdout.strip()))
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for path in candidates:
        if (path / "initdb").exists() and (path / "pg_ctl").exists():
            return path
    raise RuntimeError("no PostgreSQL server binaries (initdb, pg_ctl) found")


def _reachable_by_others(path: Path) -> bool:
    """Every directory from / down to `path` lets other users in (o+x): the `postgres` user
    can then reach a directory created below it."""
    return all(p.stat().st_mode & stat.S_IXOTH for p in [path, *path.parents])


def private_cluster_root() -> Path:
    """A fresh 0755 directory, under the system temp dir, for a PgCluster.

    The cluster must not live in the checkout: a clone in a home folder or in `mktemp -d`
    (0700) cannot be entered by `postgres`, which initdb and the server run as when the suite
    runs as root. The caller removes the directory when done (shutil.rmtree).
    """
    bases = [Path(tempfile.gettempdir()), Path("/tmp"), Path("/var/tmp")]  # noqa: S108
    for base in bases:
        # TMPDIR itself may be private (a per-user temp dir): fall back to the shared ones.
        if base.is_dir() and (os.geteuid() != 0 or _reachable_by_others(base.resolve())):
            root = Path(tempfile.mkdtemp(prefix="hub-faults-pg-", dir=base))
            os.chmod(root, 0o755)  # mkdtemp makes it 0700
            return root
    raise RuntimeError(f"no temp directory the postgres user can enter among {bases}")


class PgCluster:
    """A throw-away cluster (trust auth) the suite may stop, crash and start.

    PostgreSQL refuses to run as root; as root the cluster belongs to the `postgres` user, so
    `directory` must be reachable by that user (see private_cluster_root).
    """

    def __init__(self, directory: Path, port: int, bindir: Path | None = None) -> None:
        self.directory = directory
        self.port = port
        self.bindir = bindir or pg_bindir()
        self.data = directory / "data"
        self.log = directory / "postgres.log"

    @property
    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/postgres"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        prefix = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        # cwd: the cluster's own directory, not the checkout the postgres user may not enter.
        done = subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
            [*prefix, *args],
            capture_output=True,
            text=True,
            timeout=120,
            cwd=self.directory if self.directory.is_dir() else None,
        )
        if check and done.returncode != 0:
            # say why (initdb's stderr), not only the exit status
            raise RuntimeError(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr}")
        return done

    def init(self) -> "PgCluster":
        self.directory.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run(
            str(self.bindir / "initdb"), "-D", str(self.data), "-U", "postgres",
            "--auth=trust", "-E", "UTF8", "--no-sync",
        )  # fmt: skip
        return self

    def start(self) -> None:
        # fsync off: a PostgreSQL crash (immediate stop) keeps what was written to the OS, only
        # a machine crash would not. synchronous_commit stays on: with it off, a crash loses
        # commits the hub already acknowledged (the suite found exactly that).
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-o", options,
            "-l", str(self.log), "-w", "-t", "60", "start",
        )  # fmt: skip

    def stop(self, mode: str = "fast") -> None:
        """`immediate` is a crash (no checkpoint, clients cut); `fast` a clean restart."""
        self._run(
            str(self.bindir / "pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop",
            check=False,
        )  # fmt: skip


class RedisServer:
    """redis-server without persistence: a restart starts with an empty broker. Daemonized, so
    whichever process (the launcher, a scenario) started it, any can kill it by its pidfile."""

    def __init__(self, directory: Path, port: int) -> None:
        self.directory = directory
        self.port = port
        self.pidfile = directory / "redis.pid"

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        subprocess.run(  # noqa: S603
            [
                "redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
                "--save", "", "--appendonly", "no", "--dir", str(self.directory),
                "--daemonize", "yes", "--pidfile", str(self.pidfile),
                "--logfile", str(self.directory / "redis.log"),
            ],
            check=True, timeout=30,
        )  # fmt: skip
        if not wait_for_port(self.port):
            raise RuntimeError("redis-server did not start")

    def kill(self) -> None:
        """SIGKILL the server: its queues are gone (no persistence)."""
        try:
            os.kill(int(self.pidfile.read_text().strip()), signal.SIGKILL)
        except (FileNotFoundError, ValueError, ProcessLookupError):
            pass
        self.pidfile.unlink(missing_ok=True)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and wait_for_port(self.port, timeout=0.1):
            time.sleep(0.1)


class HubProcess(LoggedProcess):
    """A long-running hub process (gunicorn web or celery beat) with a log file; the test
    settings and database come from the environment given."""

    def __init__(self, name: str, command: list[str], log_dir: Path, env: dict[str, str]):
        super().__init__()
        self.name = name
        self.command = command
        self.log_path = log_dir / f"{name}.log"
        self.env = env

    def start(self) -> "HubProcess":
        self._spawn(self.command, self.env, mode="ab")
        return self

    def _force_kill(self) -> None:
        # gunicorn's workers must not outlive their master
        assert self.process is not None
        kill_tree(self.process.pid)


def hub_web(port: int, log_dir: Path, env: dict[str, str]) -> HubProcess:
    """The hub behind gunicorn, as deployed: its own process, so a database restart is met by
    Django's connection handling (CONN_HEALTH_CHECKS), not by the test's."""
    command = [
        sys.executable, "-m", "gunicorn", "hub.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", "2", "--threads", "4",
        "--timeout", "60", "--graceful-timeout", "5",
    ]  # fmt: skip
    web = HubProcess("web", command, log_dir, env).start()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(f"http://127.0.0.1:{port}/ocpi/versions", timeout=2)
            return web
        except httpx.TransportError:
            if web.process is not None and web.process.poll() is not None:
                break
            time.sleep(0.2)
    web.stop()
    raise RuntimeError(f"hub web process did not start:\n{web.log_tail()}")


def celery_beat(log_dir: Path, env: dict[str, str]) -> HubProcess:
    """Celery beat as deployed (its own process): it runs the outbox sweeper."""
    command = [
        sys.executable, "-m", "celery", "-A", "hub", "beat", "-l", "info",
        "-s", str(log_dir / "celerybeat-schedule"),
    ]  # fmt: skip
    return HubProcess("beat", command, log_dir, env).start()
