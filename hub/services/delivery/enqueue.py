"""Enqueue in the writer's transaction: one open delivery per (receiver, object), folding a
newer update into the one still waiting; and the registry of push builders that turn a
delivery into a request at send time."""

from collections.abc import Callable, Iterable
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from hub.models import DeliveryStatus, Platform, PushDelivery
from hub.ocpi.routing import PartyRef, hub_party
from hub.services.delivery.circuit import hand_out_after_commit
from hub.services.delivery.receivers import receiver_held
from hub.services.delivery.rules import OPEN_STATUSES, merge_operation
from hub.services.delivery.types import PushRequest, Receiver

Builder = Callable[[PushDelivery], PushRequest | None]


_builders: dict[str, Builder] = {}


def register_push_builder(module: str, builder: Builder) -> None:
    """Declare how deliveries of `module` are turned into requests (from AppConfig.ready)."""
    _builders[module] = builder


def push_builder(module: str) -> Builder | None:
    """The builder registered for `module`, if any."""
    return _builders.get(module)


def receiver_endpoint(platform: Platform, module: str) -> str | None:
    """The receiver's RECEIVER endpoint URL for `module`, if it published one."""
    endpoint = platform.endpoints.filter(identifier=module, role="RECEIVER").first()
    return endpoint.url.rstrip("/") if endpoint else None


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
            held = receiver_held(receiver.platform)
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
    hand_out_after_commit(to_hand_out)
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
    merged = merge_operation(pending.operation, operation)
    if merged == "PATCH":
        pending.patch_fields = sorted(set(pending.patch_fields) | set(fields))
    else:
        pending.patch_fields = []
    pending.operation = merged
    pending.save(update_fields=["operation", "patch_fields", "updated_at"])
    return pending
