"""The sweeper, the outbox's safety net: leases that ran out are recorded and handed out
again, due deliveries the broker lost are handed out within each receiver's free slots, and
what is past its window is ended in bulk. Safe to run anywhere, any number of times."""

from datetime import datetime

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from hub.models import DeliveryStatus, Platform, PushAttempt, PushDelivery
from hub.services.delivery.circuit import hand_out
from hub.services.delivery.outcome import fold_into, pending_sibling
from hub.services.delivery.receivers import receiver_went_offline
from hub.services.delivery.rules import OPEN_STATUSES, STATE_MODULES

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
            sibling = pending_sibling(delivery) if delivery is not None else None
            if delivery is not None and sibling is not None:
                fold_into(sibling, delivery, now)
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
        handed += hand_out(receiver_id, limit=_SWEEP_BATCH - handed)
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
