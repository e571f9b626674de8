"""The outbox: enqueue deliveries in the writer's transaction, send them from workers.

DESIGN §5 and STYLE §3.4. A 1000 to a sender means the object and its delivery rows are
committed together; Celery carries only delivery ids, and the periodic sweeper re-enqueues
whatever is due, so losing the broker loses nothing. State deliveries (locations, tariffs,
tokens, ClientInfo) fold: one PENDING row per (receiver, object), sent with the object's
state at send time.
"""

import functools
import logging
import random
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from hub.models import (
    ConnectionStatus,
    DeliveryStatus,
    Platform,
    PushAttempt,
    PushDelivery,
)
from hub.ocpi.client import OcpiClient, OcpiResult, OcpiTransportError, UrlNotAllowedError
from hub.ocpi.routing import PartyRef, hub_party

logger = logging.getLogger(__name__)

# Modules whose deliveries are state: dropped when the receiver goes OFFLINE (it re-syncs by
# GET, 2.2.1 transport_and_format "Offline behaviour"). Sessions and CDRs are never dropped.
STATE_MODULES = frozenset({"locations", "tariffs", "tokens", "hubclientinfo"})

# How long a delivery waits for an earlier one of the same object tree still in flight.
_ORDERING_WAIT_S = 0.3

_OPERATION_RANK = {"PATCH": 0, "PUT": 1, "POST": 1, "DELETE": 2}


@dataclass(frozen=True)
class Receiver:
    """A platform to deliver to, and the party named in the TO header."""

    platform: Platform
    party: PartyRef


@dataclass
class PushRequest:
    """What a module's builder says to send for a delivery, built at send time."""

    method: str
    path: str
    body: Any = None
    routed: bool = True
    # Sent instead when the receiver does not know the object a PATCH addresses (2.2.1: "if a
    # PATCH fails, the client is expected to ... PUT it").
    fallback: "PushRequest | None" = None
    query: dict[str, str] = field(default_factory=dict)
    # An absolute URL instead of `endpoint + path`: results relayed to an eMSP's response_url.
    url: str | None = None


Builder = Callable[[PushDelivery], PushRequest | None]
_builders: dict[str, Builder] = {}


def register_push_builder(module: str, builder: Builder) -> None:
    """Declare how deliveries of `module` are turned into requests (from AppConfig.ready)."""
    _builders[module] = builder


def _merge_operation(current: str, new: str) -> str:
    return new if _OPERATION_RANK.get(new, 1) >= _OPERATION_RANK.get(current, 1) else current


def _enqueue_after_commit(delivery_ids: list[int]) -> None:
    if not delivery_ids:
        return
    from hub.tasks import deliver_push_task

    def send() -> None:
        for delivery_id in delivery_ids:
            try:
                deliver_push_task.delay(delivery_id)
            except Exception:  # the sweeper re-enqueues what the broker did not take
                logger.exception("Could not enqueue delivery %s; the sweeper will", delivery_id)

    transaction.on_commit(send)


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
    to_enqueue: list[int] = []
    for receiver in receivers:
        delivery = _fold_into_pending(receiver, module, object_key, operation, fields)
        if delivery is None:
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
                    )
            except IntegrityError:  # a concurrent writer created the pending row first
                delivery = _fold_into_pending(receiver, module, object_key, operation, fields)
                if delivery is None:
                    raise
            else:
                to_enqueue.append(delivery.pk)
        deliveries.append(delivery)
    _enqueue_after_commit(to_enqueue)
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
            status=DeliveryStatus.PENDING,
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


def _claim(delivery_id: int) -> PushDelivery | None:
    """Take a due delivery for this worker; None if it is not due, taken, or must wait for an
    earlier delivery of the same object tree to the same receiver (which would otherwise be
    overtaken: an older snapshot arriving last)."""
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
            return None
        group = ordering_group(delivery.object_key)
        _lock_group(delivery, group)
        if _group_busy(delivery, group, now):
            delivery.next_attempt_at = now + timedelta(seconds=_ORDERING_WAIT_S)
            delivery.enqueued_at = now
            delivery.save(update_fields=["next_attempt_at", "enqueued_at", "updated_at"])
            transaction.on_commit(lambda: _schedule(delivery.pk, _ORDERING_WAIT_S))
            return None
        delivery.status = DeliveryStatus.IN_FLIGHT
        delivery.locked_until = now + timedelta(seconds=settings.OCPI_PUSH_LEASE_S)
        delivery.attempts += 1
        delivery.save(update_fields=["status", "locked_until", "attempts", "updated_at"])
    return delivery


def _schedule(delivery_id: int, countdown: float) -> None:
    from hub.tasks import deliver_push_task

    try:  # prompt; the sweeper is the safety net if the broker loses it
        deliver_push_task.apply_async((delivery_id,), countdown=countdown)
    except Exception:
        logger.exception("Could not schedule delivery %s; the sweeper will", delivery_id)


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


def _is_unknown_object(result: OcpiResult) -> bool:
    return result.http_status == 404 or result.ocpi_status in (2003, 2004)


def _finish(delivery: PushDelivery, status: str, error: str = "", **fields: Any) -> None:
    delivery.status = status
    delivery.last_error = error[:500]
    delivery.locked_until = None
    for name, value in fields.items():
        setattr(delivery, name, value)
    delivery.save()
    _kick_group(delivery)


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
        transaction.on_commit(functools.partial(_schedule, delivery_id, 0))


def _give_up_or_retry(delivery: PushDelivery, error: str) -> str:
    now = timezone.now()
    if now >= delivery.expires_at:
        if delivery.module in STATE_MODULES:
            _finish(delivery, DeliveryStatus.FAILED, f"retry window passed: {error}")
            receiver_went_offline(delivery.receiver)
            return "failed"
        _finish(delivery, DeliveryStatus.DEAD, f"retry window passed: {error}")
        return "dead"
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
                        DeliveryStatus.PENDING,
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
    _schedule(retried.pk, delay)
    return "retry"


def _pending_sibling(delivery: PushDelivery) -> PushDelivery | None:
    """The PENDING delivery of the same object to the same receiver, other than `delivery`."""
    return (
        PushDelivery.objects.select_for_update()
        .filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            object_key=delivery.object_key,
            status=DeliveryStatus.PENDING,
        )
        .exclude(pk=delivery.pk)
        .first()
    )


def _fold_into(sibling: PushDelivery, delivery: PushDelivery, due: datetime) -> None:
    """Merge what an in-flight `delivery` was sending into its PENDING `sibling`."""
    sibling.operation = _merge_operation(delivery.operation, sibling.operation)
    if sibling.operation == "PATCH":
        sibling.patch_fields = sorted(set(sibling.patch_fields) | set(delivery.patch_fields))
    else:
        sibling.patch_fields = []
    sibling.next_attempt_at = max(sibling.next_attempt_at, due)
    sibling.attempts = max(sibling.attempts, delivery.attempts)
    sibling.save(
        update_fields=["operation", "patch_fields", "next_attempt_at", "attempts", "updated_at"]
    )


def receiver_went_offline(platform: Platform) -> None:
    """The receiver stayed unreachable past the retry window: OFFLINE, and its pending state
    deliveries are dropped (it re-syncs by GET when it is back)."""
    from hub.services.registry import platform_set_status

    if platform.status == ConnectionStatus.CONNECTED:
        platform_set_status(platform=platform, status=ConnectionStatus.OFFLINE)
    PushDelivery.objects.filter(
        receiver=platform, status=DeliveryStatus.PENDING, module__in=STATE_MODULES
    ).update(status=DeliveryStatus.CANCELLED, last_error="receiver OFFLINE; it re-syncs by GET")


def delivery_send(*, delivery_id: int) -> str:
    """Claim a due delivery, send the object's current state, record the attempt, and decide:
    delivered, retry later (transient failure), or failed. Returns the outcome."""
    delivery = _claim(delivery_id)
    if delivery is None:
        return "skipped"
    receiver = delivery.receiver
    receiver_away = not receiver.registered or receiver.status != ConnectionStatus.CONNECTED
    # State is dropped for an absent receiver (it re-syncs by GET); money is kept trying
    # unless the platform is gone for good.
    if receiver_away and (
        delivery.module in STATE_MODULES or receiver.status == ConnectionStatus.SUSPENDED
    ):
        _finish(delivery, DeliveryStatus.CANCELLED, f"receiver is {receiver.status}")
        return "cancelled"
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
        _finish(delivery, DeliveryStatus.FAILED, f"receiver URL refused: {exc}")
        return "failed"
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
    attempt.duration_ms = (timezone.now() - started).total_seconds() * 1000
    attempt.error = error[:500]
    attempt.save()
    return result, error


_pending_of_same_object = PushDelivery.objects.filter(
    receiver_id=OuterRef("receiver_id"),
    module=OuterRef("module"),
    object_key=OuterRef("object_key"),
    status=DeliveryStatus.PENDING,
)


def delivery_sweep() -> dict[str, int]:
    """Hand out again what the broker may have lost: expired leases and due deliveries that
    were not enqueued recently. Safe to run anywhere, any number of times."""
    now = timezone.now()
    expired = PushDelivery.objects.filter(status=DeliveryStatus.IN_FLIGHT, locked_until__lt=now)
    # An expired claim whose object got a newer PENDING delivery meanwhile folds into it (one
    # PENDING row per object); the others go back to PENDING.
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
    stale = now - timedelta(seconds=settings.OCPI_PUSH_REQUEUE_AFTER_S)
    due = list(
        PushDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .exclude(enqueued_at__gt=stale)
        .values_list("pk", flat=True)[:5000]
    )
    if due:
        PushDelivery.objects.filter(pk__in=due).update(enqueued_at=now)
        from hub.tasks import deliver_push_task

        for delivery_id in due:
            deliver_push_task.delay(delivery_id)
    return {"released": released, "requeued": len(due)}


def delivery_resend(*, delivery: PushDelivery) -> PushDelivery:
    """Staff: send a failed, dead or cancelled delivery again, now, with a fresh window."""
    now = timezone.now()
    with transaction.atomic():
        pending = PushDelivery.objects.filter(
            receiver=delivery.receiver,
            module=delivery.module,
            object_key=delivery.object_key,
            status=DeliveryStatus.PENDING,
        ).first()
        if pending is not None:
            pending.next_attempt_at = now
            pending.save(update_fields=["next_attempt_at", "updated_at"])
            target = pending
        else:
            delivery.status = DeliveryStatus.PENDING
            delivery.next_attempt_at = now
            delivery.enqueued_at = now
            delivery.expires_at = now + (delivery.expires_at - delivery.created_at)
            delivery.last_error = ""
            delivery.save()
            target = delivery
        _enqueue_after_commit([target.pk])
    return target


def delivery_cancel(*, delivery: PushDelivery) -> None:
    """Staff: stop a pending delivery."""
    PushDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, last_error="cancelled by staff"
    )
