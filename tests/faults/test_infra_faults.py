"""The broker and the database going away: Redis restarted without persistence while
deliveries are pending (the queue is gone; the outbox sweeper re-enqueues), PostgreSQL
restarted during ingest (the CPO gets an OCPI error, never a 1000 that is then lost) and
during delivery (the worker reconnects)."""

import threading
import time
from collections import Counter
from typing import Any

import pytest
import redis as redis_client
from django.db import connections

from tests.faults.conftest import pg_cluster, redis_server
from tests.faults.scenario import settle
from tests.faults.test_worker_faults import heal, slow_receivers
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_redis_restarted_without_persistence_while_deliveries_pend(stack_factory: Any) -> None:
    stack = stack_factory()
    redis = redis_server()
    # given: no worker consumes, so every delivery of the batch waits in Redis
    stack.terminate_worker()
    stack.driver.burst()
    # when: Redis dies and comes back empty, while the CPO keeps sending
    redis.kill()
    stack.driver.burst(locations=4, patches=4, cdrs=1)  # enqueue fails: the outbox keeps them
    redis.start()
    assert redis_client.Redis(port=redis.port).dbsize() == 0  # the queue is really gone
    stack.new_worker()
    # then: the sweeper hands out what the broker lost
    settle(stack, "Redis restart (no persistence), queue lost")


def test_redis_restarted_mid_delivery(stack_factory: Any) -> None:
    stack = stack_factory()
    redis = redis_server()
    slow_receivers(stack)
    stack.driver.burst()
    assert wait_until(lambda: stack.in_flight(stack.ms1, stack.ms2) >= 2, timeout=30)
    redis.kill()
    time.sleep(1)
    redis.start()
    heal(stack)
    settle(stack, "Redis restart mid-delivery")
    assert stack.worker.process is not None and stack.worker.process.poll() is None


def _reconnect_here() -> None:
    """This test process's own connection died with the server: drop it."""
    for conn in connections.all():
        try:
            conn.close()
        except Exception:  # noqa: S110 - a dead connection may fail to close
            pass


def test_postgres_restarted_during_ingest(stack_factory: Any) -> None:
    stack = stack_factory()
    pg = pg_cluster()
    stack.driver.burst(locations=4, patches=0, cdrs=0)
    stop = threading.Event()

    def keep_sending() -> None:
        n = 0
        while not stop.is_set():
            stack.driver.patch_status(f"LOC{n % 4 + 1}", ("CHARGING", "AVAILABLE")[n % 2])
            if n % 5 == 0:
                stack.driver.post_cdr()
            n += 1

    sender = threading.Thread(target=keep_sending)
    sender.start()
    try:
        time.sleep(1.5)
        # when: PostgreSQL crashes (immediate stop: connections cut) and is down for 3 s
        pg.stop("immediate")
        time.sleep(3)
        pg.start()
        time.sleep(1.5)
    finally:
        stop.set()
        sender.join(timeout=60)
    _reconnect_here()
    answers = Counter(u.answer for u in stack.ledger.refused)
    # then: requests during the outage were refused with an OCPI error (envelope checked),
    # and everything acknowledged before, during and after arrives
    settle(
        stack,
        "PostgreSQL restart during ingest",
        note=f"CPO requests refused during the outage: {dict(answers)}",
    )
    assert answers, "the outage was not seen by any request"
    # and the hub took updates again once PostgreSQL was back
    assert all(u.acked for u in stack.ledger.updates[-3:]), stack.ledger.updates[-3:]


def test_postgres_restarted_during_delivery(stack_factory: Any) -> None:
    stack = stack_factory()
    pg = pg_cluster()
    slow_receivers(stack)
    stack.driver.burst(locations=6, patches=18, cdrs=4)
    assert wait_until(lambda: stack.in_flight(stack.ms1, stack.ms2) >= 2, timeout=30)
    pg.stop("immediate")
    time.sleep(3)
    pg.start()
    _reconnect_here()
    heal(stack)
    settle(stack, "PostgreSQL restart during delivery")
    assert stack.worker.process is not None and stack.worker.process.poll() is None
