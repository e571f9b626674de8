"""A receiver's capacity: its circuit breaker (`ReceiverCircuit`), its in-flight slots, and
handing its waiting deliveries to the broker within those slots (docs/security.md, "The
outbox"): a receiver never has more tasks out than it may run."""

import functools
import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from hub.models import CircuitState, DeliveryStatus, PushDelivery, ReceiverCircuit
from hub.services.delivery import broker

logger = logging.getLogger(__name__)


def hand_out_after_commit(receiver_ids: Iterable[int]) -> None:
    """Once the transaction commits, hand each receiver's waiting deliveries to the broker
    within its free slots (`hand_out_many`): a receiver with a backlog gets no more tasks than
    it may run, so its backlog never sits in the shared queue ahead of other receivers."""
    ids = sorted(set(receiver_ids))
    if ids:
        transaction.on_commit(functools.partial(hand_out_many, ids))


def reserved(delivery: PushDelivery, now: datetime) -> bool:
    """A PENDING delivery handed out with a slot kept for it until `locked_until`."""
    return (
        delivery.status == DeliveryStatus.PENDING
        and delivery.locked_until is not None
        and delivery.locked_until > now
    )


def slots_taken(receiver_id: int, now: datetime) -> int:
    """The receiver's slots in use: deliveries in flight (live lease) and deliveries handed
    out whose task has not claimed them yet (live reservation). A lost task's reservation
    runs out after OCPI_PUSH_LEASE_S, so a slot is never lost for good."""
    return _live_locks(now).filter(receiver_id=receiver_id).count()


def _live_locks(now: datetime) -> QuerySet[PushDelivery]:
    # A range of the `delivery_slots` index: as many rows as slots taken, whatever the backlog.
    return PushDelivery.objects.filter(
        status__in=(DeliveryStatus.IN_FLIGHT, DeliveryStatus.PENDING), locked_until__gt=now
    )


def circuit_for_update(receiver_id: int) -> ReceiverCircuit:
    """The receiver's circuit row, locked: claims of one receiver are serialised here, so the
    in-flight count they check cannot be raced past the cap."""
    circuit = ReceiverCircuit.objects.select_for_update().filter(receiver_id=receiver_id).first()
    if circuit is None:
        ReceiverCircuit.objects.bulk_create(
            [ReceiverCircuit(receiver_id=receiver_id)], ignore_conflicts=True
        )
        circuit = ReceiverCircuit.objects.select_for_update().get(receiver_id=receiver_id)
    return circuit


def circuit_admits(circuit: ReceiverCircuit, delivery: PushDelivery, now: datetime) -> bool:
    """May `delivery` be sent now? CLOSED: if the receiver has a free in-flight slot. OPEN:
    only once the cool-down has passed, as the half-open probe. HALF_OPEN: only if the probe's
    lease ran out (its worker died): this delivery takes over as the probe."""
    if circuit.state == CircuitState.CLOSED:
        if reserved(delivery, now):  # its slot was counted when it was handed out
            return True
        limit = settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER
        return slots_taken(delivery.receiver_id, now) < limit
    if circuit.retry_at is not None and now < circuit.retry_at:
        return False
    circuit.state = CircuitState.HALF_OPEN
    circuit.probe_delivery_id = delivery.pk
    circuit.retry_at = now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S)
    circuit.save(update_fields=["state", "probe_delivery_id", "retry_at", "updated_at"])
    logger.info("Receiver %s: circuit half-open, probe %s", circuit.receiver_id, delivery.pk)
    return True


# What an attempt says about the receiver, for its circuit.
RECEIVER_OK, RECEIVER_FAILED, NOT_THE_RECEIVER = "ok", "failed", "neutral"


def circuit_record(delivery: PushDelivery, outcome: str, error: str = "") -> None:
    """Count an attempt's outcome: a success closes the circuit, N transport failures in a row
    open it, a failed probe reopens it; the hub's own errors change nothing (but a probe that
    met one hands the probe to the next delivery)."""
    now = timezone.now()
    if outcome != RECEIVER_FAILED and _unchanged_by(delivery, outcome):
        return
    reopened = closed = False
    with transaction.atomic():
        circuit = circuit_for_update(delivery.receiver_id)
        was_probe = (
            circuit.state == CircuitState.HALF_OPEN and circuit.probe_delivery_id == delivery.pk
        )
        if outcome == RECEIVER_OK:
            closed = circuit.state != CircuitState.CLOSED
            if closed or circuit.consecutive_failures:
                circuit.state = CircuitState.CLOSED
                circuit.consecutive_failures = 0
                circuit.retry_at = circuit.probe_delivery_id = None
                circuit.save()
        elif outcome == RECEIVER_FAILED:
            circuit.consecutive_failures += 1
            circuit.last_failure = error[:500]
            threshold = settings.OCPI_PUSH_CIRCUIT_FAILURES
            if was_probe or (
                circuit.state == CircuitState.CLOSED and circuit.consecutive_failures >= threshold
            ):
                reopened = True
                circuit.state = CircuitState.OPEN
                circuit.opened_at = now
                circuit.retry_at = now + timedelta(seconds=settings.OCPI_PUSH_CIRCUIT_COOLDOWN_S)
                circuit.probe_delivery_id = None
            circuit.save()
        elif was_probe:
            circuit.state = CircuitState.OPEN
            circuit.retry_at = now
            circuit.probe_delivery_id = None
            circuit.save()
    if reopened:
        logger.warning(
            "Receiver %s: circuit open after %s failures (%s); deliveries wait %ss",
            delivery.receiver_id,
            circuit.consecutive_failures,
            error[:200],
            settings.OCPI_PUSH_CIRCUIT_COOLDOWN_S,
        )
    elif closed:
        logger.info("Receiver %s: circuit closed", delivery.receiver_id)


def _unchanged_by(delivery: PushDelivery, outcome: str) -> bool:
    """A success to a CLOSED circuit without failures, or a hub error of a delivery that is
    not the probe, changes nothing: read without the row lock (the common case of every
    delivery). A failure counted meanwhile by another worker is ordered after this success,
    as it would be had this one taken the lock first."""
    circuit = (
        ReceiverCircuit.objects.filter(receiver_id=delivery.receiver_id)
        .values("state", "consecutive_failures", "probe_delivery_id")
        .first()
    )
    if circuit is None:
        return outcome != RECEIVER_FAILED  # no row: CLOSED without failures
    if outcome == RECEIVER_OK:
        return circuit["state"] == CircuitState.CLOSED and not circuit["consecutive_failures"]
    # NOT_THE_RECEIVER: only the probe's own hub error changes the circuit
    return not (
        circuit["state"] == CircuitState.HALF_OPEN and circuit["probe_delivery_id"] == delivery.pk
    )


def _free_slots(circuit: ReceiverCircuit, now: datetime, taken: int | None = None) -> int:
    """How many more deliveries to this receiver may be handed out now (call with `circuit`
    locked: that lock serialises every hand-out and claim of the receiver); `taken`: its
    `slots_taken`, when counted already."""
    if taken is None:
        taken = slots_taken(circuit.receiver_id, now)
    if circuit.state == CircuitState.CLOSED:
        return max(0, settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER - taken)
    # OPEN or HALF_OPEN: one probe once retry_at has passed (and none is out), else nothing
    if circuit.retry_at is None or circuit.retry_at <= now:
        return max(0, 1 - taken)
    return 0


_older_release_waiting = PushDelivery.objects.filter(
    receiver_id=OuterRef("receiver_id"),
    module=OuterRef("module"),
    status__in=(DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT),
    held_since__isnull=False,
    pk__lt=OuterRef("pk"),
)


def hand_out(receiver_id: int, limit: int | None = None) -> int:
    """Give the receiver's waiting deliveries (PENDING, due, no task) a task each, oldest due
    first, as many as it has free slots (and at most `limit`); each one's slot is reserved
    (`locked_until`) until its task claims it. Returns how many were handed out.

    Runs in its own short transaction with the receiver's circuit row locked, so two workers
    ending attempts to one receiver at once hand out each free slot once: never more tasks
    than slots. Waiting rows locked by a claim or a writer are skipped (SKIP LOCKED: a claim
    holds its row and then waits for the circuit lock held here); that claim or the writer's
    commit hands out again. A delivery released from a hold whose older sibling has not had
    its try is not handed out (it would only wait: `_older_release_open`)."""
    now = timezone.now()
    with transaction.atomic():
        circuit = circuit_for_update(receiver_id)
        free = _free_slots(circuit, now)
        if limit is not None:
            free = min(free, limit)
        if free <= 0:
            return 0
        return _reserve(_waiting(receiver_id, now, free), now)


def hand_out_many(receiver_ids: list[int]) -> int:
    """`hand_out` for several receivers (a write that enqueued for each), in one transaction:
    their circuits locked in one statement, their slots counted in one, the reservations
    written in one; only the choice of each one's waiting deliveries is a query per receiver.
    A write fanned out to 10 eMSPs took 10 transactions of 4 to 6 statements each.

    The circuits are locked in receiver order, as every hand-out locks them, so two of these
    never wait on each other in a cycle; claims and attempt outcomes lock a single circuit."""
    ids = sorted(set(receiver_ids))
    if len(ids) == 1:
        return hand_out(ids[0])
    now = timezone.now()
    with transaction.atomic():
        circuits = _circuits_for_update(ids)
        taken: dict[int, int] = dict(
            _live_locks(now)
            .filter(receiver_id__in=ids)
            .order_by()
            .values("receiver_id")
            .annotate(n=Count("pk"))
            .values_list("receiver_id", "n")
        )
        waiting: list[PushDelivery] = []
        for receiver_id in ids:
            free = _free_slots(circuits[receiver_id], now, taken.get(receiver_id, 0))
            if free > 0:
                waiting += _waiting(receiver_id, now, free)
        return _reserve(waiting, now)


def _circuits_for_update(receiver_ids: list[int]) -> dict[int, ReceiverCircuit]:
    """The receivers' circuit rows, locked in receiver order (made first where missing)."""

    def locked() -> dict[int, ReceiverCircuit]:
        rows = (
            ReceiverCircuit.objects.select_for_update()
            .filter(receiver_id__in=receiver_ids)
            .order_by("receiver_id")
        )
        return {circuit.receiver_id: circuit for circuit in rows}

    circuits = locked()
    missing = [r for r in receiver_ids if r not in circuits]
    if missing:
        ReceiverCircuit.objects.bulk_create(
            [ReceiverCircuit(receiver_id=r) for r in missing], ignore_conflicts=True
        )
        circuits = locked()
    return circuits


def _waiting(receiver_id: int, now: datetime, free: int) -> list[PushDelivery]:
    """The receiver's next `free` deliveries waiting for a task (PENDING, due, no live
    reservation), oldest due first; rows locked by a claim or a writer are skipped."""
    return list(
        PushDelivery.objects.select_for_update(skip_locked=True)
        .filter(receiver_id=receiver_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
        .exclude(Q(held_since__isnull=False) & Exists(_older_release_waiting))
        .order_by("next_attempt_at", "pk")
        .only("pk", "module")[:free]
    )


def _reserve(waiting: list[PushDelivery], now: datetime) -> int:
    """Keep a slot for each of `waiting` until its task claims it, and send the tasks once
    the hand-out commits."""
    if not waiting:
        return 0
    PushDelivery.objects.filter(pk__in=[d.pk for d in waiting]).update(
        locked_until=now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S), enqueued_at=now
    )
    for delivery in waiting:
        broker.dispatch_on_commit(delivery.pk, delivery.module)
    return len(waiting)
