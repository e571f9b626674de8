"""Receivers answering deliveries with hostile bodies (issue 10, defect 3): a gzip bomb (1 MiB
on the wire, 1 GiB inflated) and a slow drip (one byte a second). The real prefork worker
must read at most OCPI_MAX_RESPONSE_BYTES of each answer and give up at OCPI_CALL_DEADLINE_S:
its memory stays bounded, no process is killed, every such attempt is a failed attempt that is
retried, and once the receiver behaves everything acknowledged arrives (lost = 0)."""

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from hub.models import PushAttempt
from tests.faults.scenario import settle
from tests.faults.servers import descendants
from tests.partners.hostile import bomb_bytes, drip, gzip_bomb
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

CAP = 2 * 1024 * 1024
BOMB = 1024**3
FAULT_S = 4.0
# What a worker process may grow by while it meets the fault: the cap, the JSON parse and
# slack for the interpreter. An unbounded reader inflates the bomb: a gigabyte.
RSS_GROWTH_LIMIT_MB = 150


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


class RssWatch:
    """How much any process of the worker (master, pool children) grew above its first
    sample, sampled every 50 ms; `baseline` is the largest first sample."""

    def __init__(self, root: int) -> None:
        self.root = root
        self._first: dict[int, float] = {}
        self.growth = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self.sample()

    @property
    def baseline(self) -> float:
        return max(self._first.values(), default=0.0)

    def sample(self) -> None:
        for pid in [self.root, *descendants(self.root)]:
            rss = rss_mb(pid)
            if rss:
                first = self._first.setdefault(pid, rss)
                self.growth = max(self.growth, rss - first)

    def _run(self) -> None:
        while not self._stop.wait(0.05):
            self.sample()

    def __enter__(self) -> "RssWatch":
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


@pytest.mark.parametrize(
    ("scenario", "writer", "error"),
    [
        ("eMSP answers a gzip bomb (1 GiB)", "bomb", "exceeded"),
        ("eMSP drips its answer (1 B/s)", "drip", "within"),
    ],
    ids=["gzip-bomb", "slow-drip"],
)
def test_hostile_answers_to_deliveries(
    stack_factory: Any, scenario: str, writer: str, error: str
) -> None:
    bomb_bytes(BOMB)  # compressed before the clock runs
    stack = stack_factory(OCPI_MAX_RESPONSE_BYTES=str(CAP), OCPI_CALL_DEADLINE_S="2")
    hostile = stack.ms1  # the CDR owner: CDRs (money) and locations (state) both meet it
    for module in ("locations", "cdrs"):
        hostile.set_hostile(
            f"/ocpi/2.2.1/{module}", gzip_bomb(BOMB) if writer == "bomb" else drip(1.0)
        )
    with RssWatch(stack.worker_pid) as watch:
        stack.driver.burst()
        # the fault is met: several failed attempts, each ended by the cap or the deadline
        assert wait_until(
            lambda: (
                PushAttempt.objects.filter(
                    url__startswith=hostile.base_url, error__contains=error
                ).count()
                >= 6
            ),
            timeout=60,
        )
        time.sleep(FAULT_S)
        stack.driver.burst(locations=4, patches=4, cdrs=1)
        hostile.reset_behaviour()
        growth = watch.growth
        note = f"worker RSS {watch.baseline:.0f} MB, largest growth of a process {growth:.0f} MB"
        settle(stack, scenario, note=note)
    assert growth < RSS_GROWTH_LIMIT_MB, f"worker RSS grew by {growth:.0f} MB"
    log = stack.worker.log_path.read_text(errors="replace")
    assert "WorkerLostError" not in log and "SIGKILL" not in log
