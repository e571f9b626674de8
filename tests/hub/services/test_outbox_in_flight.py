"""A delivery that fails (or whose worker dies) while a newer update of the same object was
queued retires into that newer PENDING delivery: the outbox keeps one PENDING row per
(receiver, object), so putting the old one back to PENDING would break that rule."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from hub.models import DeliveryStatus, Platform, PushDelivery
from hub.services.delivery import broker, sending
from hub.services.delivery.outcome import give_up_or_retry
from hub.services.delivery.sweep import delivery_sweep
from tests.factories import PushDeliveryFactory, registered_party

pytestmark = pytest.mark.django_db


@pytest.fixture
def receiver() -> Platform:
    return registered_party("EMSP", "DE", "MS1")[0]


def delivery(receiver: Platform, status: str, operation: str, **fields: Any) -> PushDelivery:
    """A session delivery to `receiver`, due now."""
    values: dict[str, Any] = {"module": "sessions", "object_key": "NL/CP1/S1"}
    return PushDeliveryFactory(
        unrouted=True,
        receiver=receiver,
        status=status,
        operation=operation,
        **{**values, **fields},
    )


def test_failed_attempt_folds_into_the_newer_pending_delivery(receiver: Platform) -> None:
    # given: a PUT in flight (third try) and a PATCH queued meanwhile
    in_flight = delivery(receiver, DeliveryStatus.IN_FLIGHT, "PUT", attempts=3)
    pending = delivery(receiver, DeliveryStatus.PENDING, "PATCH", patch_fields=["kwh"])
    # when: the attempt fails transiently
    with mock.patch.object(broker, "dispatch") as schedule:
        assert give_up_or_retry(in_flight, "HTTP 503") == "retry"
    # then: the PUT retires into the pending row, which now sends a PUT, after the backoff
    in_flight.refresh_from_db()
    pending.refresh_from_db()
    assert in_flight.status == DeliveryStatus.CANCELLED
    assert "superseded" in in_flight.last_error
    assert (pending.status, pending.operation, pending.patch_fields) == ("PENDING", "PUT", [])
    assert pending.attempts == 3
    assert pending.next_attempt_at > timezone.now()
    schedule.assert_called_once()
    assert schedule.call_args.args[0] == pending.pk


def test_failed_attempt_without_newer_update_is_pending_again(receiver: Platform) -> None:
    in_flight = delivery(receiver, DeliveryStatus.IN_FLIGHT, "PATCH", patch_fields=["kwh"])
    with mock.patch.object(broker, "dispatch"):
        assert give_up_or_retry(in_flight, "HTTP 503") == "retry"
    in_flight.refresh_from_db()
    assert (in_flight.status, in_flight.operation) == ("PENDING", "PATCH")


def test_sweep_folds_an_expired_claim_into_the_newer_pending_delivery(receiver: Platform) -> None:
    past = timezone.now() - timedelta(minutes=5)
    stuck = delivery(
        receiver, DeliveryStatus.IN_FLIGHT, "PATCH", patch_fields=["status"], locked_until=past
    )
    pending = delivery(receiver, DeliveryStatus.PENDING, "PATCH", patch_fields=["kwh"])
    other = delivery(
        receiver, DeliveryStatus.IN_FLIGHT, "PUT", object_key="NL/CP1/S2", locked_until=past
    )
    with mock.patch.object(broker, "dispatch"):
        result = delivery_sweep()
    stuck.refresh_from_db()
    pending.refresh_from_db()
    other.refresh_from_db()
    assert stuck.status == DeliveryStatus.CANCELLED
    assert pending.patch_fields == ["kwh", "status"]
    assert other.status == DeliveryStatus.PENDING
    assert result["released"] == 1


@contextmanager
def held_in_another_transaction(work: Callable[[], Any], hold_s: float) -> Iterator[list[Any]]:
    """Run `work` in a transaction on another connection (a thread, as another worker or a
    writer would) and keep that transaction, and the row locks it took, open for `hold_s`
    seconds or until the block ends; yields what `work` returned."""
    locked, release = threading.Event(), threading.Event()
    results: list[Any] = []

    def run() -> None:
        try:
            with transaction.atomic():
                results.append(work())
                locked.set()
                release.wait(timeout=hold_s)
        finally:
            connection.close()  # this thread's own connection

    thread = threading.Thread(target=run)
    thread.start()
    try:
        assert locked.wait(timeout=30)
        yield results
    finally:
        release.set()
        thread.join(timeout=30)


def require_row_locks() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite has no SELECT ... FOR UPDATE")


@pytest.mark.django_db(transaction=True)
def test_a_delivery_is_claimed_while_its_receiver_row_is_locked(receiver: Platform) -> None:
    # Several worker threads claim deliveries to one receiver at once (a broadcast), and the
    # registry locks platform rows: neither may make a claim skip the delivery.
    require_row_locks()
    pending = delivery(receiver, DeliveryStatus.PENDING, "PUT")
    lock_receiver = Platform.objects.select_for_update().filter(pk=receiver.pk).get
    with held_in_another_transaction(lock_receiver, hold_s=30):
        claimed = sending._claim(pending.pk)
    assert claimed is not None
    assert claimed.status == DeliveryStatus.IN_FLIGHT


@pytest.mark.django_db(transaction=True)
def test_a_claim_waits_for_a_writer_folding_into_the_delivery(receiver: Platform) -> None:
    # A CPO's update folds into the PENDING delivery (row lock until its commit) just as the
    # worker's task for that delivery claims it; the fold sends no task of its own, so a claim
    # that skipped the locked row would leave the delivery waiting for the sweeper (found by a
    # burst of EVSE PATCHes to a fast eMSP on PostgreSQL).
    require_row_locks()
    pending = delivery(receiver, DeliveryStatus.PENDING, "PATCH", patch_fields=["status"])
    lock_delivery = PushDelivery.objects.select_for_update().filter(pk=pending.pk).get
    # the writer's transaction goes on for 0.5 s; the claim blocks until it commits
    with held_in_another_transaction(lock_delivery, hold_s=0.5):
        claimed = sending._claim(pending.pk)
    assert claimed is not None
    assert claimed.status == DeliveryStatus.IN_FLIGHT


@pytest.mark.django_db(transaction=True)
def test_a_delivery_claimed_meanwhile_is_not_claimed_twice(receiver: Platform) -> None:
    # Two tasks for one delivery (a kick and the sweeper): the second claim waits for the first
    # and then finds the row no longer PENDING.
    require_row_locks()
    pending = delivery(receiver, DeliveryStatus.PENDING, "PUT")
    with held_in_another_transaction(lambda: sending._claim(pending.pk), hold_s=0.5) as first:
        second = sending._claim(pending.pk)
    assert first[0] is not None
    assert second == "skipped"
    pending.refresh_from_db()
    assert pending.attempts == 1
