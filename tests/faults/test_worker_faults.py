"""Workers dying: a pool process SIGKILLed mid-delivery, the whole worker SIGKILLed and
restarted, and SIGTERM mid-batch (a deploy) then a new worker. acks_late +
reject_on_worker_lost put the message back; the outbox lease and the sweeper hand out what a
dead worker had claimed (DESIGN §5)."""

from typing import Any

import pytest

from tests.faults.scenario import settle
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

SLOW = 1.0  # each eMSP takes this long per request: deliveries are in flight when we strike


def slow_receivers(stack: Any) -> None:
    for partner in (stack.ms1, stack.ms2):
        partner.set_behaviour("/ocpi/2.2.1/locations", delay=SLOW)
        partner.set_behaviour("/ocpi/2.2.1/cdrs", delay=SLOW)


def heal(stack: Any) -> None:
    for partner in (stack.ms1, stack.ms2):
        partner.reset_behaviour()


def test_pool_process_sigkilled_mid_delivery(stack_factory: Any) -> None:
    stack = stack_factory()
    slow_receivers(stack)
    stack.driver.burst()
    # when: both pool processes are sending (two requests open at the eMSPs), one is SIGKILLed
    assert wait_until(lambda: stack.in_flight(stack.ms1, stack.ms2) >= 2, timeout=30)
    stack.kill_pool_child()
    heal(stack)
    # then: the worker replaces it and everything acknowledged arrives
    settle(stack, "worker pool process SIGKILL")
    # and the process killed was running a task (Celery reports the task's worker lost). The
    # master notices a dead child on its own timer, which may come after everything settled
    # (the lease handed the delivery out again): wait for the line, bounded, not read at once.
    assert wait_until(
        lambda: "WorkerLostError" in stack.worker.log_path.read_text(errors="replace"),
        timeout=30,
    ), stack.worker.log_tail()


def test_whole_worker_sigkilled_and_restarted(stack_factory: Any) -> None:
    stack = stack_factory()
    slow_receivers(stack)
    stack.driver.burst()
    assert wait_until(lambda: stack.in_flight(stack.ms1, stack.ms2) >= 2, timeout=30)
    # when: the worker and its pool die at once, mid-delivery, and a new one starts
    stack.kill_worker()
    heal(stack)
    stack.new_worker()
    settle(stack, "whole worker SIGKILL + restart")


def test_sigterm_mid_batch_then_new_worker(stack_factory: Any) -> None:
    stack = stack_factory()
    slow_receivers(stack)
    stack.driver.burst(locations=6, patches=24, cdrs=4)
    assert wait_until(lambda: stack.in_flight(stack.ms1, stack.ms2) >= 2, timeout=30)
    # when: a deploy stops the worker (warm shutdown) in the middle of the batch
    stack.terminate_worker()
    # and the CPO keeps sending while no worker runs
    stack.driver.burst(locations=6, patches=6, cdrs=2)
    heal(stack)
    stack.new_worker()
    settle(stack, "worker SIGTERM (deploy) + new worker")
