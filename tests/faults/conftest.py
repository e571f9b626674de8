"""The fault suite's stack: the hub's web process (gunicorn), Celery beat and a prefork
Celery worker, all subprocesses on the private PostgreSQL and Redis the launcher
(`python -m tests.faults`, `make faults`) started, and simulated partners around them.

Plain `pytest` / `make test` never collects these tests: they need those private servers
(they kill and restart them) and take minutes. The launcher sets HUB_FAULTS_RUN.
"""

import os
import signal
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import pytest

from tests.faults.ledger import CpoDriver, Ledger
from tests.faults.partners import TreeReceiver
from tests.faults.servers import (
    HubProcess,
    PgCluster,
    RedisServer,
    celery_beat,
    children,
    free_port,
    hub_web,
    kill_tree,
)
from tests.worker import CeleryWorkerProcess, hub_process_env

collect_ignore_glob = [] if os.environ.get("HUB_FAULTS_RUN") else ["test_*.py"]

# Short windows so that every scenario converges in seconds: backoff 0.2-1 s, a 1.5 s HTTP
# timeout, leases of 6 s (above the longest send: a PATCH and its fallback PUT), and a sweep
# every second re-enqueueing what was not handed out for 3 s.
FAULT_ENV = {
    "OCPI_PUSH_RETRY_BASE_S": "0.2",
    "OCPI_PUSH_RETRY_MAX_S": "1",
    "OCPI_PUSH_RETRY_WINDOW_S": "600",
    "OCPI_HTTP_TIMEOUT_S": "1.5",
    "OCPI_HTTP_CONNECT_TIMEOUT_S": "1",
    "OCPI_PUSH_LEASE_S": "6",
    "OCPI_PUSH_REQUEUE_AFTER_S": "3",
    "OCPI_SWEEP_INTERVAL_S": "1",
    # an open circuit probes again after 2 s (the sweeper hands out the probe)
    "OCPI_PUSH_CIRCUIT_COOLDOWN_S": "2",
}


def pg_cluster() -> PgCluster:
    return PgCluster(Path(os.environ["FAULTS_PG_DIR"]), int(os.environ["FAULTS_PG_PORT"]))


def redis_server() -> RedisServer:
    return RedisServer(Path(os.environ["FAULTS_REDIS_DIR"]), int(os.environ["FAULTS_REDIS_PORT"]))


class Stack:
    """One scenario's hub (web, beat, worker) and network: CPO NL*CP1, eMSPs DE*MS1 (owner of
    the CDRs' tokens) and DE*MS2, registered through the real handshake."""

    def __init__(self, log_dir: Path, settings: Any, overrides: dict[str, str]) -> None:
        self.log_dir = log_dir
        self.overrides = {**FAULT_ENV, **overrides}
        port = free_port()
        self.url = f"http://127.0.0.1:{port}"
        settings.OCPI_BASE_URL = self.url  # platform_invite in this process hands out this URL
        env = hub_process_env(self.url, self.overrides)
        self.env = env
        self._exit = ExitStack()
        try:
            self._start(port, log_dir, env)
        except BaseException:
            self._exit.close()  # no process of a half-started stack outlives the test
            raise
        self.ledger = Ledger()
        self.driver = CpoDriver(self.cpo, self.ledger)

    def _start(self, port: int, log_dir: Path, env: dict[str, str]) -> None:
        self.web: HubProcess = hub_web(port, log_dir, env)
        self._exit.callback(self.web.stop)
        self.beat: HubProcess = celery_beat(log_dir, env)
        self._exit.callback(self.beat.stop)
        self.workers: list[CeleryWorkerProcess] = []
        self.worker = self.new_worker()
        self._exit.callback(self._stop_workers)
        from partners.simulated import SimulatedPartner
        from tests.integration.hubnet import connect, role

        self.cpo = self._exit.enter_context(SimulatedPartner(roles=[role("CPO", "NL", "CP1")]))
        self.cpo_platform = connect(self.cpo, "CPO 1")
        self.ms1 = self._exit.enter_context(TreeReceiver(roles=[role("EMSP", "DE", "MS1")]))
        self.ms1_platform = connect(self.ms1, "eMSP 1")
        self.ms2 = self._exit.enter_context(TreeReceiver(roles=[role("EMSP", "DE", "MS2")]))
        self.ms2_platform = connect(self.ms2, "eMSP 2")

    # ---- the worker ----------------------------------------------------------------------

    def new_worker(self) -> CeleryWorkerProcess:
        log_dir = self.log_dir / f"worker-{len(self.workers)}"
        log_dir.mkdir()
        worker = CeleryWorkerProcess(log_dir, concurrency=2, pool="prefork", env=self.overrides)
        self.workers.append(worker.start())
        self.worker = worker
        return worker

    def _stop_workers(self) -> None:
        for worker in self.workers:
            worker.stop()

    @property
    def worker_pid(self) -> int:
        assert self.worker.process is not None
        return self.worker.process.pid

    def kill_pool_child(self) -> int:
        """SIGKILL one prefork child (the master forks a new one)."""
        (pid, *_) = children(self.worker_pid)
        os.kill(pid, signal.SIGKILL)
        return pid

    def kill_worker(self) -> None:
        """SIGKILL the worker and its pool at once (a node dying)."""
        kill_tree(self.worker_pid, signal.SIGKILL)
        assert self.worker.process is not None
        self.worker.process.wait(timeout=10)
        self.worker.stop()

    def terminate_worker(self, timeout: float = 60.0) -> None:
        """SIGTERM: Celery's warm shutdown (a deploy) — finish the running tasks, then exit."""
        assert self.worker.process is not None
        self.worker.process.send_signal(signal.SIGTERM)
        self.worker.process.wait(timeout=timeout)
        self.worker.stop()

    # ---- observing -------------------------------------------------------------------------

    def in_flight(self, *partners: Any) -> int:
        """Requests partners received and have not answered yet (a delivery mid-flight)."""
        return sum(1 for p in partners for r in p.received if r.response_status is None)

    def close(self) -> None:
        self._exit.close()


@pytest.fixture
def stack_factory(transactional_db: None, tmp_path: Path, settings: Any) -> Iterator[Any]:
    from django.conf import settings as django_settings

    from hub.celery import app

    with app.connection_for_write() as conn:
        for queue in django_settings.HUB_WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)
    made: list[Stack] = []

    def make(**overrides: str) -> Stack:
        made.append(Stack(tmp_path, settings, overrides))
        return made[-1]

    try:
        yield make
    finally:
        for stack in made:
            stack.close()
