"""How a delivery ends or waits after an attempt: a final status (its slot handed on), a
retry after the backoff, giving up (money DEAD, state FAILED and the receiver OFFLINE), or
retiring into a newer delivery of the same object."""

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from hub.models import ConnectionStatus, DeliveryStatus, Platform, PushDelivery
from hub.modules import ModuleID
from hub.services.delivery import broker
from hub.services.delivery.circuit import hand_out_after_commit
from hub.services.delivery.receivers import receiver_went_offline
from hub.services.delivery.rules import (
    HUB_ERROR,
    OPEN_STATUSES,
    ORDERING_WAIT_S,
    backoff,
    is_money,
    merge_operation,
    ordering_group,
)
from hub.services.reconciliation.facts import delivered


def finish(delivery: PushDelivery, status: str, error: str = "", **fields: Any) -> None:
    if status == DeliveryStatus.DELIVERED and delivery.module == ModuleID.CDRS:
        # The CDR's proof of delivery (reconciliation.facts) commits with the status.
        with transaction.atomic():
            _finish(delivery, status, error, **fields)
            delivered(delivery)
        return
    _finish(delivery, status, error, **fields)


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
    hand_out_after_commit([delivery.receiver_id])


def _kick_group(delivery: PushDelivery) -> None:
    """Hand out the next delivery of the same object tree that waited for this one (ordering).

    Only the oldest one: one delivery of a group is in flight at a time, so kicking more only
    made the others claim, find the group busy and wait again (tasks for nothing). The others
    keep the countdown task their wait scheduled (and the sweeper); each finish kicks the next.
    """
    group = ordering_group(delivery.object_key)
    now = timezone.now()
    waiting = (
        PushDelivery.objects.filter(
            receiver_id=delivery.receiver_id,
            module=delivery.module,
            status=DeliveryStatus.PENDING,
            next_attempt_at__lte=now + timedelta(seconds=ORDERING_WAIT_S),
        )
        .filter(Q(object_key=group) | Q(object_key__startswith=group + "/"))
        .exclude(pk=delivery.pk)
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)
        .first()
    )
    if waiting is None:
        return
    PushDelivery.objects.filter(pk=waiting).update(next_attempt_at=now)
    broker.dispatch_on_commit(waiting, delivery.module)


def give_up(delivery: PushDelivery, reason: str) -> str:
    """End a delivery the outbox will not try again: money becomes a dead letter (DEAD, for
    staff to resend), state FAILED; a receiver that kept failing is marked OFFLINE (it
    re-syncs by GET), one that met the hub's own errors is not."""
    last = f": {delivery.last_error}" if delivery.last_error else ""
    error = f"gave up ({reason}){last}"
    if is_money(delivery.module):
        finish(delivery, DeliveryStatus.DEAD, error)
        return "dead"
    finish(delivery, DeliveryStatus.FAILED, error)
    if not delivery.last_error.startswith(HUB_ERROR):
        receiver_went_offline(delivery.receiver)
    return "failed"


def give_up_or_retry(delivery: PushDelivery, error: str) -> str:
    """After a failed attempt: give up (window passed, attempts used up) or try again after
    the backoff; a receiver suspended meanwhile gets the delivery on hold instead."""
    now = timezone.now()
    delivery.last_error = error[:500]
    if now >= delivery.expires_at:
        return give_up(delivery, "retry window passed")
    if delivery.attempts >= settings.OCPI_PUSH_MAX_ATTEMPTS:
        return give_up(delivery, f"{delivery.attempts} attempts made")
    held = Platform.objects.filter(
        pk=delivery.receiver_id, registered=True, status=ConnectionStatus.SUSPENDED
    ).exists()
    delay = backoff(delivery.attempts)
    due = now + timedelta(seconds=delay)
    retried = delivery
    for last_try in (False, True):
        try:
            with transaction.atomic():
                sibling = pending_sibling(delivery)
                if sibling is None:
                    finish(
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
                    fold_into(sibling, delivery, due)
                    finish(delivery, DeliveryStatus.CANCELLED, f"superseded: {error}")
                    retried = sibling
            break
        except IntegrityError:  # a writer added the PENDING row just now: fold into it
            if last_try:
                raise
    if held:
        return "held"
    broker.dispatch(retried.pk, retried.module, delay)
    return "retry"


def pending_sibling(delivery: PushDelivery) -> PushDelivery | None:
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


def fold_into(sibling: PushDelivery, delivery: PushDelivery, due: datetime) -> None:
    """Merge what an in-flight `delivery` was sending into its open `sibling`."""
    sibling.operation = merge_operation(delivery.operation, sibling.operation)
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
