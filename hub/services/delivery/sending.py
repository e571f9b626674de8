"""Sending from workers: claim a due delivery (every rule that decides whether it may go
now), send the object's state at send time, record the attempt, and classify the answer.

Every outcome of an attempt, an exception or a soft time limit included, ends in
`give_up_or_retry` or a final status, with a PushAttempt row (docs/security.md, "The
outbox")."""

import logging
import zlib
from datetime import datetime, timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from hub.models import (
    CircuitState,
    ConnectionStatus,
    DeliveryStatus,
    PushAttempt,
    PushDelivery,
    ReceiverCircuit,
)
from hub.ocpi.client import OcpiClient, OcpiResult, OcpiTransportError, UrlNotAllowedError
from hub.ocpi.routing import PartyRef
from hub.selectors import delivery_refusal
from hub.services.delivery import broker
from hub.services.delivery.circuit import (
    NOT_THE_RECEIVER,
    RECEIVER_FAILED,
    RECEIVER_OK,
    circuit_admits,
    circuit_for_update,
    circuit_record,
    hand_out_after_commit,
    reserved,
)
from hub.services.delivery.enqueue import push_builder, receiver_endpoint
from hub.services.delivery.outcome import finish, give_up, give_up_or_retry
from hub.services.delivery.rules import HUB_ERROR, ORDERING_WAIT_S, STATE_MODULES, ordering_group
from hub.services.delivery.types import PushRequest

logger = logging.getLogger(__name__)

# Noted on an exception whose attempt `_attempt` already recorded.
_ATTEMPT_RECORDED = "outbox: attempt recorded"


def delivery_send(*, delivery_id: int) -> str:
    """Claim a due delivery, send the object's current state, record the attempt, and decide:
    delivered, retry later (transient failure), or failed. Returns the outcome.

    Whatever happens after the claim — a builder that raises, a URL httpx refuses, the task's
    soft time limit — ends in `give_up_or_retry` with an attempt recorded, never in a row
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
    circuit_record(delivery, outcome, error)
    return give_up_or_retry(delivery, error)


def _send(delivery: PushDelivery) -> str:
    receiver = delivery.receiver
    builder = push_builder(delivery.module)
    if builder is None:
        finish(delivery, DeliveryStatus.FAILED, f"no push builder for {delivery.module}")
        return "failed"
    request = builder(delivery)
    if request is None:
        finish(delivery, DeliveryStatus.CANCELLED, "nothing to send: the object is gone")
        return "cancelled"
    base = "" if request.url else receiver_endpoint(receiver, delivery.module)
    if base is None:
        finish(delivery, DeliveryStatus.FAILED, f"receiver has no {delivery.module} RECEIVER")
        return "failed"
    try:
        result, error = _attempt(delivery, base, request)
        if result is not None and request.fallback is not None and _is_unknown_object(result):
            result, error = _attempt(delivery, base, request.fallback)
    except UrlNotAllowedError as exc:
        circuit_record(delivery, NOT_THE_RECEIVER)
        finish(delivery, DeliveryStatus.FAILED, f"receiver URL refused: {exc}")
        return "failed"
    circuit_record(delivery, _receiver_outcome(result), error)
    if result is not None and result.ok:
        receipt = result.headers.get("Location", "")[:500]
        finish(delivery, DeliveryStatus.DELIVERED, delivered_at=timezone.now(), receipt=receipt)
        return "delivered"
    if _is_transient(result):
        return give_up_or_retry(delivery, error)
    finish(delivery, DeliveryStatus.FAILED, error)
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


def _claim(delivery_id: int) -> PushDelivery | str:
    """Take a due delivery for this worker, or say why not ("skipped", "waiting", "held",
    "cancelled", "failed", "dead", "not allowed").

    In order: the receiver's standing (unregistered ends it, suspended holds it, state to an
    absent receiver is dropped); whether a roaming agreement still allows it; the window and the
    attempt limit (given up); the ordering rules (the same object tree in flight; an older
    delivery released from a hold); the receiver's circuit breaker and in-flight cap. A delivery
    that must wait is left PENDING and due, without a task: whatever frees its turn hands it out
    (`hand_out`), and the sweeper is the safety net. A delivery handed out with a slot reserved
    for it (PENDING with a live `locked_until`) takes that slot; any other (a retry's or a
    waker's countdown task) needs a free one.
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
        refused = _not_allowed(delivery)
        if refused is not None:
            return refused
        if now >= delivery.expires_at:
            return give_up(delivery, "retry window passed")
        if delivery.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS:
            return give_up(delivery, f"{delivery.attempts} attempts made")
        group = ordering_group(delivery.object_key)
        _lock_group(delivery, group)
        if _group_busy(delivery, group, now):
            delivery.next_attempt_at = now + timedelta(seconds=ORDERING_WAIT_S)
            delivery.enqueued_at = now
            if reserved(delivery, now):  # keeps its slot while it waits for its turn
                delivery.locked_until = now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S)
            delivery.save(
                update_fields=["next_attempt_at", "enqueued_at", "locked_until", "updated_at"]
            )
            broker.dispatch_on_commit(delivery.pk, delivery.module, ORDERING_WAIT_S)
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
            return give_up(delivery, "retry window passed (receiver circuit open)")
        circuit = circuit_for_update(delivery.receiver_id)
        if not circuit_admits(circuit, delivery, now):
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
        finish(delivery, DeliveryStatus.CANCELLED, f"receiver is {receiver.status}")
        return "cancelled"
    return None


def _not_allowed(delivery: PushDelivery) -> str | None:
    """A delivery no roaming agreement allows any more (queued before its agreement was
    suspended or ended, DESIGN §6b) ends unsent instead of being retried for ever: state is
    cancelled (an agreement starting again re-sends the CPO's locations and tariffs), money
    becomes a dead letter staff may resend once an agreement allows it."""
    refusal = delivery_refusal(delivery)
    if refusal is None:
        return None
    if delivery.module in STATE_MODULES:
        finish(delivery, DeliveryStatus.CANCELLED, f"not allowed: {refusal}")
        return "not allowed"
    finish(delivery, DeliveryStatus.DEAD, f"not allowed: {refusal}; resend once one is in force")
    return "not allowed"


def _hold(delivery: PushDelivery) -> None:
    delivery.status = DeliveryStatus.HELD
    delivery.held_since = timezone.now()
    delivery.locked_until = None
    delivery.save(update_fields=["status", "held_since", "locked_until", "updated_at"])


def _end_for_unregistered(delivery: PushDelivery) -> str:
    if delivery.module in STATE_MODULES:
        finish(delivery, DeliveryStatus.CANCELLED, "receiver unregistered")
        return "cancelled"
    finish(delivery, DeliveryStatus.DEAD, "receiver unregistered; resend once it registers again")
    return "dead"


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
    may be sent (`hand_out` finds none while the circuit is open or the receiver full)."""
    released = delivery.locked_until is not None
    delivery.enqueued_at = timezone.now()
    delivery.locked_until = None
    delivery.save(update_fields=["enqueued_at", "locked_until", "updated_at"])
    if released:
        hand_out_after_commit([delivery.receiver_id])
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
    broker.dispatch_on_commit(delivery.pk, delivery.module, countdown)


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
