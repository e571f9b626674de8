"""The outbox: enqueue deliveries in the writer's transaction, send them from workers.

DESIGN §5 and STYLE §3.4. A 1000 to a sender means the object and its delivery rows are
committed together; Celery carries only delivery ids, and the periodic sweeper re-enqueues
whatever is due, so losing the broker loses nothing. State deliveries (locations, tariffs,
tokens, ClientInfo) fold: one PENDING row per (receiver, object), sent with the object's
state at send time.

Poison and starvation (docs/security.md, "The outbox"): every outcome of an attempt, an
exception or a soft time limit included, ends in `_give_up_or_retry` or a final status, with a
PushAttempt row; the window (`expires_at`) and OCPI_PUSH_MAX_ATTEMPTS are enforced at claim
(and by the sweeper); a receiver has at most OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER deliveries in
flight and a circuit breaker (`ReceiverCircuit`); money and state travel on separate queues.

Suspension holds a receiver's deliveries (HELD: never sent, window paused), reactivation
releases them in their original order, unregistration cancels state and turns money into dead
letters (`receiver_hold`, `receiver_release`, `receiver_unregistered`).
"""

import functools
import logging
import random
import zlib
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from hub.models import (
    CircuitState,
    ConnectionStatus,
    DeliveryStatus,
    Platform,
    PushAttempt,
    PushDelivery,
    ReceiverCircuit,
)
from hub.ocpi.client import OcpiClient, OcpiResult, OcpiTransportError, UrlNotAllowedError
from hub.ocpi.routing import PartyRef, hub_party
from hub.services.delivery.types import PushRequest, Receiver

logger = logging.getLogger(__name__)

# Modules whose deliveries are state: dropped when the receiver goes OFFLINE (it re-syncs by
# GET, 2.2.1 transport_and_format "Offline behaviour"). Sessions and CDRs are never dropped.
STATE_MODULES = frozenset({"locations", "tariffs", "tokens", "hubclientinfo"})
# Everything else is money or a message that no GET can replay (sessions, CDRs, command and
# charging-profile results): its own queue, never cancelled, dead letter when given up.

# A delivery is open while it may still be sent: one open row per (receiver, object).
OPEN_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.HELD)

# Errors of the hub's own making (a builder that raises, a bug): they count as attempts but
# say nothing about the receiver (no circuit failure, no OFFLINE when given up).
HUB_ERROR = "hub error: "

# How long a delivery waits for an earlier one of the same object tree still in flight.
_ORDERING_WAIT_S = 0.3

# Noted on an exception whose attempt `_attempt` already recorded.
_ATTEMPT_RECORDED = "outbox: attempt recorded"

_OPERATION_RANK = {"PATCH": 0, "PUT": 1, "POST": 1, "DELETE": 2}


Builder = Callable[[PushDelivery], PushRequest | None]
_builders: dict[str, Builder] = {}


def register_push_builder(module: str, builder: Builder) -> None:
    """Declare how deliveries of `module` are turned into requests (from AppConfig.ready)."""
    _builders[module] = builder


def _merge_operation(current: str, new: str) -> str:
    return new if _OPERATION_RANK.get(new, 1) >= _OPERATION_RANK.get(current, 1) else current


def is_money(module: str) -> bool:
    """Deliveries of `module` are money (or messages): never dropped, own queue."""
    return module not in STATE_MODULES


def delivery_task(module: str) -> Any:
    """The Celery task that sends deliveries of `module`: state on `ocpi_push`, money on
    `ocpi_money` (CELERY_TASK_ROUTES)."""
    from hub.tasks import deliver_money_task, deliver_push_task

    return deliver_money_task if is_money(module) else deliver_push_task


def _dispatch(delivery_id: int, module: str, countdown: float = 0.0) -> None:
    try:  # prompt; the sweeper is the safety net if the broker loses it
        task = delivery_task(module)
        if countdown > 0:
            task.apply_async((delivery_id,), countdown=countdown)
        else:
            task.delay(delivery_id)
    except Exception:
        logger.exception("Could not enqueue delivery %s; the sweeper will", delivery_id)


def _hand_out_after_commit(receiver_ids: Iterable[int]) -> None:
    """Once the transaction commits, hand each receiver's waiting deliveries to the broker
    within its free slots (`_hand_out`): a receiver with a backlog gets no more tasks than it
    may run, so its backlog never sits in the shared queue ahead of other receivers."""
    for receiver_id in sorted(set(receiver_ids)):
        transaction.on_commit(functools.partial(_hand_out, receiver_id))


def _receiver_held(platform: Platform) -> bool:
    return platform.registered and platform.status == ConnectionStatus.SUSPENDED


def push_enqueue(
    *,
    module: str,
    object_key: str,
    operation: str,
    receivers: Iterable[Receiver],
    correlation_id: str = "",
    patch_fields: Iterable[str] = (),
    from_party: PartyRef | None = None,
    retry_window_s: float | None = None,
) -> list[PushDelivery]:
    """Add (or fold into) one PENDING delivery per receiver; run inside the writer's
    transaction, so the deliveries commit with the object."""
    now = timezone.now()
    sender = from_party or hub_party()
    window = retry_window_s if retry_window_s is not None else settings.OCPI_PUSH_RETRY_WINDOW_S
    fields = sorted(set(patch_fields))
    deliveries: list[PushDelivery] = []
    # Receivers with a new or folded-into PENDING delivery: a fold holds the row locked until
    # the commit, so a hand-out meanwhile skips it; the one after the commit does not.
    to_hand_out: set[int] = set()
    for receiver in receivers:
        delivery = _fold_into_pending(receiver, module, object_key, operation, fields)
        if delivery is None:
            # A suspended receiver's new deliveries wait with the others it has on hold.
            held = _receiver_held(receiver.platform)
            try:
                with transaction.atomic():
                    delivery = PushDelivery.objects.create(
                        receiver=receiver.platform,
                        to_country_code=receiver.party.country_code,
                        to_party_id=receiver.party.party_id,
                        from_country_code=sender.country_code,
                        from_party_id=sender.party_id,
                        module=module,
                        object_key=object_key,
                        operation=operation,
                        patch_fields=fields if operation == "PATCH" else [],
                        next_attempt_at=now,
                        enqueued_at=now,
                        expires_at=now + timedelta(seconds=window),
                        correlation_id=correlation_id,
                        status=DeliveryStatus.HELD if held else DeliveryStatus.PENDING,
                        held_since=now if held else None,
                    )
            except IntegrityError:  # a concurrent writer created the pending row first
                delivery = _fold_into_pending(receiver, module, object_key, operation, fields)
                if delivery is None:
                    raise
        if delivery.status == DeliveryStatus.PENDING:
            to_hand_out.add(receiver.platform.pk)
        deliveries.append(delivery)
    _hand_out_after_commit(to_hand_out)
    return deliveries


def _fold_into_pending(
    receiver: Receiver, module: str, object_key: str, operation: str, fields: list[str]
) -> PushDelivery | None:
    pending = (
        PushDelivery.objects.select_for_update()
        .filter(
            receiver=receiver.platform,
            module=module,
            object_key=object_key,
            status__in=OPEN_STATUSES,
        )
        .first()
    )
    if pending is None:
        return None
    merged = _merge_operation(pending.operation, operation)
    if merged == "PATCH":
        pending.patch_fields = sorted(set(pending.patch_fields) | set(fields))
    else:
        pending.patch_fields = []
    pending.operation = merged
    pending.save(update_fields=["operation", "patch_fields", "updated_at"])
    return pending


def _backoff(attempts: int) -> float:
    base = settings.OCPI_PUSH_RETRY_BASE_S * (2 ** max(attempts - 1, 0))
    delay = min(settings.OCPI_PUSH_RETRY_MAX_S, base)
    return delay * random.uniform(0.5, 1.0)  # jitter: receivers recovering are not stampeded  # noqa: S311


def receiver_endpoint(platform: Platform, module: str) -> str | None:
    """The receiver's RECEIVER endpoint URL for `module`, if it published one."""
    endpoint = platform.endpoints.filter(identifier=module, role="RECEIVER").first()
    return endpoint.url.rstrip("/") if endpoint else None


def ordering_group(object_key: str) -> str:
    """Deliveries of one object tree (a location and its EVSEs and connectors; a tariff; a
    session) reach a receiver in order: they share this group."""
    return "/".join(object_key.split("/")[:3])


def _lock_group(delivery: PushDelivery, group: str) -> None:
    # Serialise claims within a (receiver, module, group) on PostgreSQL; SQLite's IMMEDIATE
    # transactions already serialise every writer.
    if connection.vendor == "postgresql":
        key = zlib.crc32(f"{delivery.receiver_id}:{delivery.module}:{group}".encode())
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [0x0C91, key - 2**31])


def _group_busy(delivery: PushDelivery, group: str, now: datetime) -> bool:
    return (
        PushDelivery.objects.filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            status=DeliveryStatus.IN_FLIGHT,
            locked_until__gt=now,
        )
        .filter(Q(object_key=group) | Q(object_key__startswith=group + "/"))
        .exclude(pk=delivery.pk)
        .exists()
    )


# ---- claim: every rule that decides whether a delivery may be sent now -------------------


def _claim(delivery_id: int) -> PushDelivery | str:
    """Take a due delivery for this worker, or say why not ("skipped", "waiting", "held",
    "cancelled", "failed", "dead").

    In order: the receiver's standing (unregistered ends it, suspended holds it, state to an
    absent receiver is dropped); the window and the attempt limit (given up); the ordering
    rules (the same object tree in flight; an older delivery released from a hold); the
    receiver's circuit breaker and in-flight cap. A delivery that must wait is left PENDING
    and due, without a task: whatever frees its turn hands it out (`_hand_out`), and the
    sweeper is the safety net. A delivery handed out with a slot reserved for it (PENDING with
    a live `locked_until`) takes that slot; any other (a retry's or a waker's countdown task)
    needs a free one.
    """
    now = timezone.now()
    with transaction.atomic():
        delivery = (
            # of=self: lock the delivery row only (not the joined receiver, which registry
            # updates hold). No SKIP LOCKED: a writer folding a newer update into this row holds
            # it until its commit and sends no new task, so a skipped claim would leave the row
            # PENDING until the sweeper. Waiting is short (the writer's transaction, or another
            # claim's), and READ COMMITTED re-checks status=PENDING once the lock is granted.
            PushDelivery.objects.select_for_update(of=("self",))
            .select_related("receiver")
            .filter(pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if delivery is None:
            return "skipped"
        standing = _receiver_standing(delivery)
        if standing is not None:
            return standing
        if now >= delivery.expires_at:
            return _give_up(delivery, "retry window passed")
        if delivery.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS:
            return _give_up(delivery, f"{delivery.attempts} attempts made")
        group = ordering_group(delivery.object_key)
        _lock_group(delivery, group)
        if _group_busy(delivery, group, now):
            delivery.next_attempt_at = now + timedelta(seconds=_ORDERING_WAIT_S)
            delivery.enqueued_at = now
            if _reserved(delivery, now):  # keeps its slot while it waits for its turn
                delivery.locked_until = now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S)
            delivery.save(
                update_fields=["next_attempt_at", "enqueued_at", "locked_until", "updated_at"]
            )
            transaction.on_commit(lambda: _schedule(delivery.pk, _ORDERING_WAIT_S))
            return "waiting"
        if _older_release_open(delivery):
            return _wait(delivery)
        if ReceiverCircuit.objects.filter(
            receiver_id=delivery.receiver_id,
            state=CircuitState.OPEN,
            retry_at__gte=delivery.expires_at,
        ).exists():
            # No try can happen in the window: end it now rather than at the cool-down (a state
            # receiver goes OFFLINE and re-syncs by GET sooner). Read without the circuit's row
            # lock: giving up updates other deliveries of the receiver, and holding the circuit
            # meanwhile could deadlock with a claim that holds one of them.
            return _give_up(delivery, "retry window passed (receiver circuit open)")
        circuit = _circuit_for_update(delivery.receiver_id)
        if not _circuit_admits(circuit, delivery, now):
            if circuit.state == CircuitState.OPEN and circuit.retry_at is not None:
                _appoint_waker(delivery, circuit.retry_at, now)
            return _wait(delivery)
        delivery.status = DeliveryStatus.IN_FLIGHT
        delivery.locked_until = now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S)
        delivery.attempts += 1
        delivery.save(update_fields=["status", "locked_until", "attempts", "updated_at"])
    return delivery


def _receiver_standing(delivery: PushDelivery) -> str | None:
    """What the receiver's registration and status mean for this delivery (None: go on)."""
    receiver = delivery.receiver
    if not receiver.registered:
        return _end_for_unregistered(delivery)
    if receiver.status == ConnectionStatus.SUSPENDED:
        _hold(delivery)
        return "held"
    if receiver.status != ConnectionStatus.CONNECTED and delivery.module in STATE_MODULES:
        # State is dropped for an absent receiver (it re-syncs by GET); money keeps trying.
        _finish(delivery, DeliveryStatus.CANCELLED, f"receiver is {receiver.status}")
        return "cancelled"
    return None


def _hold(delivery: PushDelivery) -> None:
    delivery.status = DeliveryStatus.HELD
    delivery.held_since = timezone.now()
    delivery.locked_until = None
    delivery.save(update_fields=["status", "held_since", "locked_until", "updated_at"])


def _end_for_unregistered(delivery: PushDelivery) -> str:
    if delivery.module in STATE_MODULES:
        _finish(delivery, DeliveryStatus.CANCELLED, "receiver unregistered")
        return "cancelled"
    _finish(delivery, DeliveryStatus.DEAD, "receiver unregistered; resend once it registers again")
    return "dead"


def _give_up(delivery: PushDelivery, reason: str) -> str:
    """End a delivery the outbox will not try again: money becomes a dead letter (DEAD, for
    staff to resend), state FAILED; a receiver that kept failing is marked OFFLINE (it
    re-syncs by GET), one that met the hub's own errors is not."""
    last = f": {delivery.last_error}" if delivery.last_error else ""
    error = f"gave up ({reason}){last}"
    if is_money(delivery.module):
        _finish(delivery, DeliveryStatus.DEAD, error)
        return "dead"
    _finish(delivery, DeliveryStatus.FAILED, error)
    if not delivery.last_error.startswith(HUB_ERROR):
        receiver_went_offline(delivery.receiver)
    return "failed"


def _older_release_open(delivery: PushDelivery) -> bool:
    """Deliveries released from a hold go out in their original order: this one waits while
    an older released delivery to the same receiver and module has not had its first try
    since the release (`held_since` is cleared when that try ends)."""
    return (
        PushDelivery.objects.filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT),
            held_since__isnull=False,
            pk__lt=delivery.pk,
        )
        .order_by()
        .exists()
    )


def _wait(delivery: PushDelivery) -> str:
    """Leave a due delivery PENDING without a task and without a slot (its turn comes from a
    hand-out or the sweeper). A slot it had reserved goes to the next waiting delivery that
    may be sent (`_hand_out` finds none while the circuit is open or the receiver full)."""
    released = delivery.locked_until is not None
    delivery.enqueued_at = timezone.now()
    delivery.locked_until = None
    delivery.save(update_fields=["enqueued_at", "locked_until", "updated_at"])
    if released:
        _hand_out_after_commit([delivery.receiver_id])
    return "waiting"


def _appoint_waker(delivery: PushDelivery, retry_at: datetime, now: datetime) -> None:
    """One waiting delivery per cool-down is scheduled for the moment the circuit may probe
    again (the others stay without a task: no herd of tasks at every cool-down); the sweeper
    hands out the probe too, this only makes it prompt."""
    if PushDelivery.objects.filter(
        receiver_id=delivery.receiver_id, status=DeliveryStatus.PENDING, next_attempt_at=retry_at
    ).exists():
        return
    delivery.next_attempt_at = retry_at
    delivery.save(update_fields=["next_attempt_at", "updated_at"])
    countdown = (retry_at - now).total_seconds()
    transaction.on_commit(functools.partial(_dispatch, delivery.pk, delivery.module, countdown))


def _reserved(delivery: PushDelivery, now: datetime) -> bool:
    """A PENDING delivery handed out with a slot kept for it until `locked_until`."""
    return (
        delivery.status == DeliveryStatus.PENDING
        and delivery.locked_until is not None
        and delivery.locked_until > now
    )


def _slots_taken(receiver_id: int, now: datetime) -> int:
    """The receiver's slots in use: deliveries in flight (live lease) and deliveries handed
    out whose task has not claimed them yet (live reservation). A lost task's reservation
    runs out after OCPI_PUSH_LEASE_S, so a slot is never lost for good."""
    return PushDelivery.objects.filter(
        receiver_id=receiver_id,
        status__in=(DeliveryStatus.IN_FLIGHT, DeliveryStatus.PENDING),
        locked_until__gt=now,
    ).count()


# ---- the circuit breaker and the in-flight cap -------------------------------------------


def _circuit_for_update(receiver_id: int) -> ReceiverCircuit:
    """The receiver's circuit row, locked: claims of one receiver are serialised here, so the
    in-flight count they check cannot be raced past the cap."""
    circuit = ReceiverCircuit.objects.select_for_update().filter(receiver_id=receiver_id).first()
    if circuit is None:
        ReceiverCircuit.objects.bulk_create(
            [ReceiverCircuit(receiver_id=receiver_id)], ignore_conflicts=True
        )
        circuit = ReceiverCircuit.objects.select_for_update().get(receiver_id=receiver_id)
    return circuit


def _circuit_admits(circuit: ReceiverCircuit, delivery: PushDelivery, now: datetime) -> bool:
    """May `delivery` be sent now? CLOSED: if the receiver has a free in-flight slot. OPEN:
    only once the cool-down has passed, as the half-open probe. HALF_OPEN: only if the probe's
    lease ran out (its worker died): this delivery takes over as the probe."""
    if circuit.state == CircuitState.CLOSED:
        if _reserved(delivery, now):  # its slot was counted when it was handed out
            return True
        limit = settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER
        return _slots_taken(delivery.receiver_id, now) < limit
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


def _circuit_record(delivery: PushDelivery, outcome: str, error: str = "") -> None:
    """Count an attempt's outcome: a success closes the circuit, N transport failures in a row
    open it, a failed probe reopens it; the hub's own errors change nothing (but a probe that
    met one hands the probe to the next delivery)."""
    now = timezone.now()
    reopened = closed = False
    with transaction.atomic():
        circuit = _circuit_for_update(delivery.receiver_id)
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


def _free_slots(circuit: ReceiverCircuit, now: datetime) -> int:
    """How many more deliveries to this receiver may be handed out now (call with `circuit`
    locked: that lock serialises every hand-out and claim of the receiver)."""
    taken = _slots_taken(circuit.receiver_id, now)
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


def _hand_out(receiver_id: int, limit: int | None = None) -> int:
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
        circuit = _circuit_for_update(receiver_id)
        free = _free_slots(circuit, now)
        if limit is not None:
            free = min(free, limit)
        if free <= 0:
            return 0
        waiting = list(
            PushDelivery.objects.select_for_update(skip_locked=True)
            .filter(
                receiver_id=receiver_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
            )
            .filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
            .exclude(Q(held_since__isnull=False) & Exists(_older_release_waiting))
            .order_by("next_attempt_at", "pk")
            .only("pk", "module")[:free]
        )
        if not waiting:
            return 0
        PushDelivery.objects.filter(pk__in=[d.pk for d in waiting]).update(
            locked_until=now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S), enqueued_at=now
        )
        for delivery in waiting:
            transaction.on_commit(functools.partial(_dispatch, delivery.pk, delivery.module))
    return len(waiting)


def _schedule(delivery_id: int, countdown: float) -> None:
    module = PushDelivery.objects.filter(pk=delivery_id).values_list("module", flat=True).first()
    if module is not None:
        _dispatch(delivery_id, module, countdown)


def _is_transient(result: OcpiResult | None) -> bool:
    if result is None:
        return True
    if result.http_status >= 500 or result.http_status == 429:
        return True
    # A redirect is never followed (partner URLs are attacker-controlled, DESIGN §7), but it
    # refuses nothing: the receiver moved or is being migrated. Like a 5xx, retry within the
    # window (until it answers again or updates its endpoints), then OFFLINE and GET resync;
    # failing at once would lose the update silently.
    if 300 <= result.http_status < 400:
        return True
    # HTTP 2xx carrying an OCPI server error: the receiver failed, not the request.
    return 200 <= result.http_status < 300 and (result.ocpi_status or 0) // 1000 == 3


def _receiver_outcome(result: OcpiResult | None) -> str:
    """For the circuit: unreachable, timed out, 5xx and 429 are the receiver failing; any
    other answer shows it is there."""
    if result is None or result.http_status >= 500 or result.http_status == 429:
        return RECEIVER_FAILED
    return RECEIVER_OK


def _is_unknown_object(result: OcpiResult) -> bool:
    return result.http_status == 404 or result.ocpi_status in (2003, 2004)


def _finish(delivery: PushDelivery, status: str, error: str = "", **fields: Any) -> None:
    delivery.status = status
    delivery.last_error = error[:500]
    delivery.locked_until = None
    # The first try since a release has ended (whatever its outcome): the next released
    # delivery may go; a delivery put on hold again records when.
    delivery.held_since = timezone.now() if status == DeliveryStatus.HELD else None
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save()
    _kick_group(delivery)
    # Its slot is free (and the next delivery released from a hold may go): the receiver's
    # next waiting delivery gets it, in its own transaction once this one commits.
    _hand_out_after_commit([delivery.receiver_id])


def _kick_group(delivery: PushDelivery) -> None:
    """Hand out the deliveries of the same object tree that waited for this one (ordering)."""
    group = ordering_group(delivery.object_key)
    waiting = list(
        PushDelivery.objects.filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=timezone.now() + timedelta(seconds=_ORDERING_WAIT_S),
        )
        .filter(Q(object_key=group) | Q(object_key__startswith=group + "/"))
        .exclude(pk=delivery.pk)
        .values_list("pk", flat=True)[:20]
    )
    if waiting:
        PushDelivery.objects.filter(pk__in=waiting).update(next_attempt_at=timezone.now())
    for delivery_id in waiting:
        transaction.on_commit(functools.partial(_dispatch, delivery_id, delivery.module))


def _give_up_or_retry(delivery: PushDelivery, error: str) -> str:
    """After a failed attempt: give up (window passed, attempts used up) or try again after
    the backoff; a receiver suspended meanwhile gets the delivery on hold instead."""
    now = timezone.now()
    delivery.last_error = error[:500]
    if now >= delivery.expires_at:
        return _give_up(delivery, "retry window passed")
    if delivery.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS:
        return _give_up(delivery, f"{delivery.attempts} attempts made")
    held = Platform.objects.filter(
        pk=delivery.receiver_id, registered=True, status=ConnectionStatus.SUSPENDED
    ).exists()
    delay = _backoff(delivery.attempts)
    due = now + timedelta(seconds=delay)
    retried = delivery
    for last_try in (False, True):
        try:
            with transaction.atomic():
                sibling = _pending_sibling(delivery)
                if sibling is None:
                    _finish(
                        delivery,
                        DeliveryStatus.HELD if held else DeliveryStatus.PENDING,
                        error,
                        next_attempt_at=due,
                        enqueued_at=now,
                    )
                else:
                    # A newer update was queued while this one was in flight: that one sends
                    # the current state, so this row retires into it (one PENDING row per
                    # object), keeping the backoff.
                    _fold_into(sibling, delivery, due)
                    _finish(delivery, DeliveryStatus.CANCELLED, f"superseded: {error}")
                    retried = sibling
            break
        except IntegrityError:  # a writer added the PENDING row just now: fold into it
            if last_try:
                raise
    if held:
        return "held"
    _dispatch(retried.pk, retried.module, delay)
    return "retry"


def _pending_sibling(delivery: PushDelivery) -> PushDelivery | None:
    """The open (PENDING or HELD) delivery of the same object to the same receiver, other
    than `delivery`."""
    return (
        PushDelivery.objects.select_for_update()
        .filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            object_key=delivery.object_key,
            status__in=OPEN_STATUSES,
        )
        .exclude(pk=delivery.pk)
        .first()
    )


def _fold_into(sibling: PushDelivery, delivery: PushDelivery, due: datetime) -> None:
    """Merge what an in-flight `delivery` was sending into its open `sibling`."""
    sibling.operation = _merge_operation(delivery.operation, sibling.operation)
    if sibling.operation == "PATCH":
        sibling.patch_fields = sorted(set(sibling.patch_fields) | set(delivery.patch_fields))
    else:
        sibling.patch_fields = []
    sibling.next_attempt_at = max(sibling.next_attempt_at, due)
    sibling.attempts = max(sibling.attempts, delivery.attempts)
    # not due before `due`: a task handed out for it would find it not due, so it keeps no
    # slot (the retry's countdown task, or a hand-out once due, sends it)
    sibling.locked_until = None
    sibling.save(
        update_fields=[
            "operation",
            "patch_fields",
            "next_attempt_at",
            "attempts",
            "locked_until",
            "updated_at",
        ]
    )


def receiver_went_offline(platform: Platform) -> None:
    """The receiver stayed unreachable past the retry window: OFFLINE, and its pending state
    deliveries are dropped (it re-syncs by GET when it is back)."""
    from hub.services.registry.credentials import platform_set_status

    if platform.status == ConnectionStatus.CONNECTED:
        platform_set_status(platform=platform, status=ConnectionStatus.OFFLINE)
    PushDelivery.objects.filter(
        receiver=platform, status=DeliveryStatus.PENDING, module__in=STATE_MODULES
    ).update(status=DeliveryStatus.CANCELLED, last_error="receiver OFFLINE; it re-syncs by GET")


# ---- suspension, reactivation, unregistration ---------------------------------------------


def receiver_hold(*, platform: Platform) -> int:
    """Suspension: every pending delivery to the platform is HELD — kept, never sent, its
    window paused (`receiver_release` adds the time held to `expires_at`). Deliveries in
    flight finish their attempt; one that must be retried is held then. Returns the count."""
    return PushDelivery.objects.filter(receiver=platform, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.HELD, held_since=timezone.now(), locked_until=None
    )


def receiver_release(*, platform: Platform) -> int:
    """Reactivation: the held deliveries are PENDING again, in their original order (each
    waits for the older ones' first try, `_older_release_open`), with their window extended by
    the time they were held: a hold never makes a delivery expire. Returns the count."""
    now = timezone.now()
    released: list[PushDelivery] = []
    with transaction.atomic():
        held = (
            PushDelivery.objects.select_for_update()
            .filter(receiver=platform, status=DeliveryStatus.HELD)
            .order_by("pk")
        )
        for delivery in held:
            since = delivery.held_since or now
            delivery.expires_at += max(now - since, timedelta(0))
            delivery.status = DeliveryStatus.PENDING
            delivery.held_since = since  # the release-order marker until its first try ends
            delivery.next_attempt_at = now
            delivery.enqueued_at = now
            released.append(delivery)
        PushDelivery.objects.bulk_update(
            released,
            ["expires_at", "status", "held_since", "next_attempt_at", "enqueued_at"],
            batch_size=500,
        )
        # The oldest of each module goes first (within the free slots); each one's end hands
        # out the next.
        if released:
            _hand_out_after_commit([platform.pk])
    return len(released)


def receiver_unregistered(*, platform: Platform) -> dict[str, int]:
    """Unregistration ends what was open: state deliveries are CANCELLED (a new registration
    starts with a GET), money (sessions, CDRs, command results) becomes DEAD — dead letters
    staff can resend — never dropped."""
    open_deliveries = PushDelivery.objects.filter(receiver=platform, status__in=OPEN_STATUSES)
    cancelled = open_deliveries.filter(module__in=STATE_MODULES).update(
        status=DeliveryStatus.CANCELLED, last_error="receiver unregistered", held_since=None
    )
    dead = open_deliveries.exclude(module__in=STATE_MODULES).update(
        status=DeliveryStatus.DEAD,
        last_error="receiver unregistered; resend once it registers again",
        held_since=None,
    )
    return {"cancelled": cancelled, "dead": dead}


# ---- sending -------------------------------------------------------------------------------


def delivery_send(*, delivery_id: int) -> str:
    """Claim a due delivery, send the object's current state, record the attempt, and decide:
    delivered, retry later (transient failure), or failed. Returns the outcome.

    Whatever happens after the claim — a builder that raises, a URL httpx refuses, the task's
    soft time limit — ends in `_give_up_or_retry` with an attempt recorded, never in a row
    left IN_FLIGHT for the sweeper to hand out for ever."""
    claimed = _claim(delivery_id)
    if isinstance(claimed, str):
        return claimed
    delivery = claimed
    try:
        return _send(delivery)
    except Exception as exc:  # SoftTimeLimitExceeded is an Exception too
        return _attempt_raised(delivery, exc)


def _attempt_raised(delivery: PushDelivery, exc: Exception) -> str:
    from celery.exceptions import SoftTimeLimitExceeded

    if not PushDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.IN_FLIGHT, attempts=delivery.attempts
    ).exists():
        # the attempt had already ended (the exception came after): nothing to undo
        logger.error("Delivery %s: error after its attempt ended", delivery.pk, exc_info=exc)
        return "error"
    if isinstance(exc, SoftTimeLimitExceeded):
        # the receiver held the worker past the task's time limit: a receiver failure
        error = "timed out: the task's soft time limit passed mid-send"
        outcome = RECEIVER_FAILED
    else:
        logger.error("Delivery %s: attempt raised", delivery.pk, exc_info=exc)
        error = f"{HUB_ERROR}{type(exc).__name__}: {exc}"
        outcome = NOT_THE_RECEIVER
    if _ATTEMPT_RECORDED not in getattr(exc, "__notes__", ()):
        PushAttempt.objects.create(
            delivery=delivery, method=delivery.operation, url="", error=error[:500]
        )
    _circuit_record(delivery, outcome, error)
    return _give_up_or_retry(delivery, error)


def _send(delivery: PushDelivery) -> str:
    receiver = delivery.receiver
    builder = _builders.get(delivery.module)
    if builder is None:
        _finish(delivery, DeliveryStatus.FAILED, f"no push builder for {delivery.module}")
        return "failed"
    request = builder(delivery)
    if request is None:
        _finish(delivery, DeliveryStatus.CANCELLED, "nothing to send: the object is gone")
        return "cancelled"
    base = "" if request.url else receiver_endpoint(receiver, delivery.module)
    if base is None:
        _finish(delivery, DeliveryStatus.FAILED, f"receiver has no {delivery.module} RECEIVER")
        return "failed"
    try:
        result, error = _attempt(delivery, base, request)
        if result is not None and request.fallback is not None and _is_unknown_object(result):
            result, error = _attempt(delivery, base, request.fallback)
    except UrlNotAllowedError as exc:
        _circuit_record(delivery, NOT_THE_RECEIVER)
        _finish(delivery, DeliveryStatus.FAILED, f"receiver URL refused: {exc}")
        return "failed"
    _circuit_record(delivery, _receiver_outcome(result), error)
    if result is not None and result.ok:
        receipt = result.headers.get("Location", "")[:500]
        _finish(delivery, DeliveryStatus.DELIVERED, delivered_at=timezone.now(), receipt=receipt)
        return "delivered"
    if _is_transient(result):
        return _give_up_or_retry(delivery, error)
    _finish(delivery, DeliveryStatus.FAILED, error)
    return "failed"


def _attempt(
    delivery: PushDelivery, base: str, request: PushRequest
) -> tuple[OcpiResult | None, str]:
    url = request.url or base + request.path
    client = OcpiClient.for_platform(delivery.receiver)
    from_party = to_party = None
    if request.routed:  # configuration modules (hubclientinfo) carry no routing headers
        from_party = PartyRef(delivery.from_country_code, delivery.from_party_id)
        to_party = PartyRef(delivery.to_country_code, delivery.to_party_id)
    attempt = PushAttempt(delivery=delivery, method=request.method, url=url[:1000])
    result: OcpiResult | None = None
    error = ""
    started = timezone.now()
    try:
        result = client.request(
            request.method,
            url,
            json=request.body,
            params=request.query or None,
            correlation_id=delivery.correlation_id or None,
            module=delivery.module,
            require_success=False,
            from_party=from_party,
            to_party=to_party,
        )
        attempt.http_status = result.http_status
        attempt.ocpi_status = (
            result.ocpi_status if result.ocpi_status and result.ocpi_status < 32768 else None
        )
        attempt.request_id = result.request_id
        if not result.ok and result.ocpi_status is None:  # e.g. 403 {"detail": ...}
            error = f"HTTP {result.http_status} without an OCPI envelope"
        elif not result.ok:
            error = f"HTTP {result.http_status}, OCPI {result.ocpi_status}: {result.message}"
    except OcpiTransportError as exc:
        error = str(exc)
    except UrlNotAllowedError as exc:
        attempt.error = f"URL refused: {exc}"[:500]
        attempt.save()
        raise
    except Exception as exc:  # a soft time limit, a URL httpx refuses, a bug: still an attempt
        attempt.duration_ms = (timezone.now() - started).total_seconds() * 1000
        attempt.error = f"{type(exc).__name__}: {exc}"[:500]
        attempt.save()
        exc.add_note(_ATTEMPT_RECORDED)
        raise
    attempt.duration_ms = (timezone.now() - started).total_seconds() * 1000
    attempt.error = error[:500]
    attempt.save()
    return result, error


_pending_of_same_object = PushDelivery.objects.filter(
    receiver_id=OuterRef("receiver_id"),
    module=OuterRef("module"),
    object_key=OuterRef("object_key"),
    status__in=OPEN_STATUSES,
)

# How many due deliveries one sweep hands out at most (the next sweep takes the rest).
_SWEEP_BATCH = 5000


def delivery_sweep() -> dict[str, int]:
    """Hand out again what the broker may have lost: expired leases and due deliveries that
    were not enqueued recently, within each receiver's free slots (a receiver with a backlog
    or an open circuit gets no more tasks than it may run). End what is past its window.
    Safe to run anywhere, any number of times."""
    now = timezone.now()
    expired = PushDelivery.objects.filter(status=DeliveryStatus.IN_FLIGHT, locked_until__lt=now)
    # A lease that ran out is an attempt that never reported (the worker died, or its hard time
    # limit killed it): recorded, so such a delivery is counted towards the attempt limit.
    PushAttempt.objects.bulk_create(
        [
            PushAttempt(
                delivery_id=pk,
                method=operation,
                url="",
                error="lease expired: the worker died or hit its hard time limit mid-send",
            )
            for pk, operation in expired.values_list("pk", "operation")[:_SWEEP_BATCH]
        ]
    )
    # An expired claim whose object got a newer open delivery meanwhile folds into it (one
    # open row per object); the others go back to PENDING.
    for delivery_id in expired.filter(Exists(_pending_of_same_object)).values_list("pk", flat=True):
        with transaction.atomic():
            delivery = expired.select_for_update().filter(pk=delivery_id).first()
            sibling = _pending_sibling(delivery) if delivery is not None else None
            if delivery is not None and sibling is not None:
                _fold_into(sibling, delivery, now)
                delivery.status = DeliveryStatus.CANCELLED
                delivery.locked_until = None
                delivery.last_error = f"lease expired; superseded by delivery {sibling.pk}"
                delivery.save(update_fields=["status", "locked_until", "last_error", "updated_at"])
    released = expired.exclude(Exists(_pending_of_same_object)).update(
        status=DeliveryStatus.PENDING, locked_until=None, next_attempt_at=now
    )
    ended = _end_expired(now)
    # Waiting: due, and no task out for it (never handed out, or its reservation ran out: the
    # broker lost the task).
    waiting = PushDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=now
    ).filter(Q(locked_until__isnull=True) | Q(locked_until__lte=now))
    receivers = sorted(set(waiting.order_by().values_list("receiver_id", flat=True).distinct()))
    handed = 0
    for receiver_id in receivers:
        if handed >= _SWEEP_BATCH:
            break
        handed += _hand_out(receiver_id, limit=_SWEEP_BATCH - handed)
    return {"released": released, "requeued": handed, "ended": ended}


def _end_expired(now: datetime) -> int:
    """Give up on PENDING deliveries past their window in bulk (one waiting behind an open
    circuit or a full receiver is never claimed to find out): money DEAD, state FAILED, and
    a receiver whose state expired is OFFLINE (it re-syncs by GET). HELD deliveries are not
    touched: their window is paused."""
    expired = PushDelivery.objects.filter(status=DeliveryStatus.PENDING, expires_at__lte=now)
    state_receivers = set(
        expired.filter(module__in=STATE_MODULES)
        .order_by()
        .values_list("receiver_id", flat=True)
        .distinct()
    )
    dead = expired.exclude(module__in=STATE_MODULES).update(
        status=DeliveryStatus.DEAD,
        last_error="gave up (retry window passed while waiting)",
        held_since=None,
    )
    failed = expired.filter(module__in=STATE_MODULES).update(
        status=DeliveryStatus.FAILED,
        last_error="gave up (retry window passed while waiting)",
        held_since=None,
    )
    for platform in Platform.objects.filter(pk__in=state_receivers):
        receiver_went_offline(platform)
    return dead + failed


def delivery_resend(*, delivery: PushDelivery) -> PushDelivery:
    """Staff: send a failed, dead or cancelled delivery again, now, with a fresh window (held
    instead while its receiver is suspended)."""
    now = timezone.now()
    with transaction.atomic():
        pending = PushDelivery.objects.filter(
            receiver=delivery.receiver,
            module=delivery.module,
            object_key=delivery.object_key,
            status__in=OPEN_STATUSES,
        ).first()
        if pending is not None:
            if pending.status == DeliveryStatus.PENDING:
                pending.next_attempt_at = now
                pending.save(update_fields=["next_attempt_at", "updated_at"])
                _hand_out_after_commit([pending.receiver_id])
            return pending
        held = _receiver_held(delivery.receiver)
        delivery.status = DeliveryStatus.HELD if held else DeliveryStatus.PENDING
        delivery.held_since = now if held else None
        delivery.next_attempt_at = now
        delivery.enqueued_at = now
        delivery.expires_at = now + (delivery.expires_at - delivery.created_at)
        delivery.last_error = ""
        # a fresh start: the attempt limit counts from here (the old tries stay recorded)
        delivery.attempts = 0
        delivery.locked_until = None
        delivery.save()
        if not held:
            _hand_out_after_commit([delivery.receiver_id])
    return delivery


def delivery_cancel(*, delivery: PushDelivery) -> None:
    """Staff: stop a pending (or held) delivery (a slot it had reserved goes to the next)."""
    with transaction.atomic():
        PushDelivery.objects.filter(pk=delivery.pk, status__in=OPEN_STATUSES).update(
            status=DeliveryStatus.CANCELLED, last_error="cancelled by staff", held_since=None
        )
        _hand_out_after_commit([delivery.receiver_id])
