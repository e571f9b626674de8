"""What a receiver's standing does to its deliveries: suspension holds them (HELD: never
sent, window paused), reactivation releases them in their original order, OFFLINE and
unregistration end state deliveries and turn money into dead letters; and staff's resend and
cancel."""

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from hub.models import ConnectionStatus, DeliveryStatus, Platform, PushDelivery
from hub.services.delivery.circuit import hand_out_after_commit
from hub.services.delivery.rules import OPEN_STATUSES, STATE_MODULES
from hub.services.registry.status import platform_set_status


def receiver_held(platform: Platform) -> bool:
    return platform.registered and platform.status == ConnectionStatus.SUSPENDED


def receiver_went_offline(platform: Platform) -> None:
    """The receiver stayed unreachable past the retry window: OFFLINE, and its pending state
    deliveries are dropped (it re-syncs by GET when it is back)."""
    if platform.status == ConnectionStatus.CONNECTED:
        platform_set_status(platform=platform, status=ConnectionStatus.OFFLINE)
    PushDelivery.objects.filter(
        receiver=platform, status=DeliveryStatus.PENDING, module__in=STATE_MODULES
    ).update(status=DeliveryStatus.CANCELLED, last_error="receiver OFFLINE; it re-syncs by GET")


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
            hand_out_after_commit([platform.pk])
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
                hand_out_after_commit([pending.receiver_id])
            return pending
        held = receiver_held(delivery.receiver)
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
            hand_out_after_commit([delivery.receiver_id])
    return delivery


def delivery_cancel(*, delivery: PushDelivery) -> None:
    """Staff: stop a pending (or held) delivery (a slot it had reserved goes to the next)."""
    with transaction.atomic():
        PushDelivery.objects.filter(pk=delivery.pk, status__in=OPEN_STATUSES).update(
            status=DeliveryStatus.CANCELLED, last_error="cancelled by staff", held_since=None
        )
        hand_out_after_commit([delivery.receiver_id])
