"""Issue 10, defect 6 (the rest): one receiver's backlog must not starve the others. A
receiver is handed tasks only for its free slots — at enqueue, when an attempt ends, and by
the sweeper — so its backlog waits in the database, not in the shared Celery queue ahead of
other receivers' deliveries (docs/security.md, "The outbox"). Broker dispatch (`broker.dispatch`)
is the one thing replaced: no worker runs."""

import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from hub.models import CircuitState, DeliveryStatus, Platform, PushDelivery, ReceiverCircuit
from hub.ocpi.routing import PartyRef
from hub.services.delivery import broker, sending
from hub.services.delivery.circuit import hand_out, hand_out_many, slots_taken
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.outcome import finish, give_up_or_retry
from hub.services.delivery.sweep import delivery_sweep
from hub.services.delivery.types import Receiver
from tests.factories import ReceiverCircuitFactory, registered_party

pytestmark = pytest.mark.django_db

K = 3  # the in-flight cap in these tests


@pytest.fixture(autouse=True)
def dispatched(settings: Any) -> Iterator[mock.MagicMock]:
    settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER = K
    with mock.patch.object(broker, "dispatch") as dispatch:
        yield dispatch


@pytest.fixture
def hanging() -> Platform:
    return registered_party("EMSP", "DE", "MS1")[0]


@pytest.fixture
def healthy() -> Platform:
    return registered_party("EMSP", "DE", "MS2")[0]


def receiver(platform: Platform) -> Receiver:
    party = platform.roles.first()
    return Receiver(platform, PartyRef(party.country_code, party.party_id))


def enqueue(platform: Platform, keys: list[str], module: str = "cdrs") -> list[int]:
    """Enqueue one delivery per key in one writer transaction, as a view does."""
    with transaction.atomic():
        return [
            push_enqueue(
                module=module, object_key=key, operation="POST", receivers=[receiver(platform)]
            )[0].pk
            for key in keys
        ]


def handed_ids(dispatch: mock.MagicMock) -> list[int]:
    return [c.args[0] for c in dispatch.call_args_list if len(c.args) < 3 or not c.args[2]]


def test_a_backlog_gets_k_tasks_at_enqueue_and_a_healthy_receiver_all_at_once(
    hanging: Platform,
    healthy: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        backlog = enqueue(hanging, [f"NL/CP1/C{n:04d}" for n in range(2000)])
    # only the K oldest got a task (and a slot reserved); the rest wait in the database
    assert handed_ids(dispatched) == backlog[:K]
    assert slots_taken(hanging.pk, timezone.now()) == K
    waiting = PushDelivery.objects.filter(receiver=hanging, locked_until__isnull=True)
    assert waiting.count() == 2000 - K
    assert set(waiting.values_list("status", flat=True)) == {DeliveryStatus.PENDING}
    # another receiver's deliveries are handed out at once: nothing of the backlog is ahead
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        others = enqueue(healthy, ["NL/CP1/A1", "NL/CP1/A2"])
    assert handed_ids(dispatched) == others


def test_an_ended_attempt_hands_out_the_next_waiting_delivery_in_order(
    hanging: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(10)])
    claimed = [sending._claim(pk) for pk in backlog[:K]]
    assert all(isinstance(c, PushDelivery) for c in claimed)  # the reserved slots are taken
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        finish(claimed[0], DeliveryStatus.DELIVERED)
    assert handed_ids(dispatched) == [backlog[K]]
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        finish(claimed[1], DeliveryStatus.FAILED, "no")
        finish(claimed[2], DeliveryStatus.DELIVERED)
    assert handed_ids(dispatched) == [backlog[K + 1], backlog[K + 2]]
    assert slots_taken(hanging.pk, timezone.now()) == K


def test_a_task_without_a_slot_waits_and_hands_out_nothing(
    hanging: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # a countdown task (a retry) arriving while the receiver's K slots are reserved
    with django_capture_on_commit_callbacks(execute=True):
        backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(K + 2)])
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        assert sending._claim(backlog[-1]) == "waiting"
    assert handed_ids(dispatched) == []
    # and the reserved ones are still admitted, up to the cap exactly
    assert all(isinstance(sending._claim(pk), PushDelivery) for pk in backlog[:K])
    assert sending._claim(backlog[K]) == "waiting"


def test_nothing_is_handed_out_while_the_circuit_is_open(
    hanging: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    ReceiverCircuitFactory(
        receiver=hanging,
        state=CircuitState.OPEN,
        retry_at=timezone.now() + timedelta(minutes=1),
    )
    with django_capture_on_commit_callbacks(execute=True):
        backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(20)])
    assert handed_ids(dispatched) == []
    # cool-down over: one probe, not K
    ReceiverCircuit.objects.filter(receiver=hanging).update(retry_at=timezone.now())
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep()["requeued"] == 1
    assert handed_ids(dispatched) == backlog[:1]


def test_the_sweeper_finds_waiting_rows_and_lost_tasks_within_the_slots(
    hanging: Platform,
    healthy: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # the writer's process died before its commit callback ran (not executed here): no task
    backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(10)])
    other = enqueue(healthy, ["NL/CP1/A1"])
    assert handed_ids(dispatched) == []
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep()["requeued"] == K + 1
    assert sorted(handed_ids(dispatched)) == sorted(backlog[:K] + other)
    # a second sweep hands out nothing: the reservations are live
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep()["requeued"] == 0
    # the broker lost those tasks: once their reservation runs out, the sweeper hands again
    PushDelivery.objects.filter(locked_until__isnull=False).update(
        locked_until=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        assert delivery_sweep()["requeued"] == K + 1
    assert sorted(handed_ids(dispatched)) == sorted(backlog[:K] + other)


def test_a_retry_frees_its_slot_for_the_next(
    hanging: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(K + 1)])
    first = sending._claim(backlog[0])
    assert isinstance(first, PushDelivery)
    dispatched.reset_mock()
    with django_capture_on_commit_callbacks(execute=True):
        assert give_up_or_retry(first, "timed out") == "retry"
    # the retry's countdown task, then the next waiting delivery in the freed slot
    assert dispatched.call_args_list[0].args[0] == backlog[0]
    assert handed_ids(dispatched)[-1] == backlog[K]
    first.refresh_from_db()
    assert (first.status, first.locked_until) == (DeliveryStatus.PENDING, None)


# ---- concurrency (PostgreSQL row locks) ---------------------------------------------------


def in_threads(count: int, work: Callable[[int], None]) -> None:
    start = threading.Barrier(count)
    errors: list[BaseException] = []

    def run(n: int) -> None:
        try:
            start.wait()
            work(n)
        except BaseException as exc:  # reported below: a thread's failure fails the test
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.fixture
def require_row_locks() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("row locks: SQLite has no SELECT ... FOR UPDATE")


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_row_locks")
def test_concurrent_hand_outs_never_exceed_the_free_slots(
    hanging: Platform, dispatched: mock.MagicMock
) -> None:
    backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(50)])
    # as if the writer died before its commit callback: no slot reserved, no task sent
    PushDelivery.objects.update(locked_until=None)
    dispatched.reset_mock()
    handed: list[int] = []
    in_threads(8, lambda n: handed.append(hand_out(hanging.pk)))
    assert sum(handed) == K
    assert sorted(handed_ids(dispatched)) == backlog[:K]
    assert slots_taken(hanging.pk, timezone.now()) == K


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_row_locks")
def test_two_workers_ending_attempts_at_once_hand_out_two_slots(
    hanging: Platform, dispatched: mock.MagicMock
) -> None:
    backlog = enqueue(hanging, [f"NL/CP1/C{n}" for n in range(20)])  # commits: K handed out
    claimed = [sending._claim(pk) for pk in backlog[:K]]
    dispatched.reset_mock()
    # two workers end their attempts to the same receiver at the same moment
    in_threads(2, lambda n: finish(claimed[n], DeliveryStatus.DELIVERED))
    ids = handed_ids(dispatched)
    assert sorted(ids) == backlog[K : K + 2]  # each freed slot handed once: none over, none lost
    assert slots_taken(hanging.pk, timezone.now()) == K


def test_one_write_to_several_receivers_hands_out_each_within_its_own_slots(
    hanging: Platform,
    healthy: Platform,
    dispatched: mock.MagicMock,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    # hanging: its K slots taken by a backlog; healthy: free; tripped: its circuit open
    with django_capture_on_commit_callbacks(execute=True):
        enqueue(hanging, [f"NL/CP1/C{n}" for n in range(K + 5)])
    tripped = registered_party("EMSP", "DE", "MS3")[0]
    ReceiverCircuitFactory(
        receiver=tripped, state=CircuitState.OPEN, retry_at=timezone.now() + timedelta(hours=1)
    )
    dispatched.reset_mock()

    # one write, fanned out to the three (hand_out_many)
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        rows = push_enqueue(
            module="cdrs",
            object_key="NL/CP1/NEW",
            operation="POST",
            receivers=[receiver(tripped), receiver(healthy), receiver(hanging)],
        )

    # one hand-out for the write, not one per receiver (then the healthy one's task dispatch)
    hand_outs = [c for c in callbacks if getattr(c, "func", None) is hand_out_many]
    assert len(hand_outs) == 1
    assert len(callbacks) == 2
    by_receiver = {row.receiver_id: row.pk for row in rows}
    assert handed_ids(dispatched) == [by_receiver[healthy.pk]]
    assert slots_taken(healthy.pk, timezone.now()) == 1
    assert slots_taken(hanging.pk, timezone.now()) == K  # still full: nothing more
    assert slots_taken(tripped.pk, timezone.now()) == 0
    # a receiver without a circuit row yet got one (CLOSED)
    assert ReceiverCircuit.objects.get(receiver=healthy).state == CircuitState.CLOSED


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("require_row_locks")
def test_concurrent_hand_outs_of_several_receivers_never_exceed_anyones_slots(
    hanging: Platform, healthy: Platform, dispatched: mock.MagicMock
) -> None:
    third = registered_party("EMSP", "DE", "MS3")[0]
    platforms = [hanging, healthy, third]
    backlogs = {p.pk: enqueue(p, [f"NL/CP1/C{n}" for n in range(30)]) for p in platforms}
    PushDelivery.objects.update(locked_until=None)  # as if no writer's hand-out ran
    dispatched.reset_mock()
    handed: list[int] = []
    # batches over overlapping receivers in any order, and single hand-outs, all at once
    work = [
        lambda: hand_out_many([third.pk, hanging.pk, healthy.pk]),
        lambda: hand_out_many([healthy.pk, hanging.pk]),
        lambda: hand_out_many([third.pk, healthy.pk]),
        lambda: hand_out(healthy.pk),
    ]
    in_threads(8, lambda n: handed.append(work[n % len(work)]()))

    assert sum(handed) == 3 * K
    ids = handed_ids(dispatched)
    for platform in platforms:
        mine = [pk for pk in ids if pk in backlogs[platform.pk]]
        assert sorted(mine) == backlogs[platform.pk][:K]  # the oldest K, once each
        assert slots_taken(platform.pk, timezone.now()) == K
