"""Enqueue in the writer's transaction: one open delivery per (receiver, object), folding a
newer update into the one still waiting; and the registry of push builders that turn a
delivery into a request at send time."""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

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
    transaction, so the deliveries commit with the object.

    Batched for N receivers (issue 14): one locked read of their open rows, one UPDATE per
    kind of fold, one INSERT of the new rows; a concurrent writer's row met on insert falls
    back to one receiver at a time (`_enqueue_one`)."""
    receivers = list(receivers)
    if not receivers:
        return []
    new = _NewDelivery(
        module=module,
        object_key=object_key,
        operation=operation,
        fields=sorted(set(patch_fields)),
        sender=from_party or hub_party(),
        window_s=retry_window_s
        if retry_window_s is not None
        else settings.OCPI_PUSH_RETRY_WINDOW_S,
        correlation_id=correlation_id,
        now=timezone.now(),
    )
    # Locked in receiver order, as one writer after another would lock them.
    open_rows = {
        row.receiver_id: row
        for row in PushDelivery.objects.select_for_update()
        .filter(
            receiver_id__in=[r.platform.pk for r in receivers],
            module=module,
            object_key=object_key,
            status__in=OPEN_STATUSES,
        )
        .order_by("receiver_id")
    }
    deliveries: list[PushDelivery] = []
    folded: dict[int, PushDelivery] = {}
    created: list[PushDelivery] = []
    for receiver in receivers:
        row = open_rows.get(receiver.platform.pk)
        if row is None:
            row = open_rows[receiver.platform.pk] = new.row_for(receiver)
            created.append(row)
        else:
            _merge(row, operation, new.fields)
            if row.pk is not None:
                folded[row.pk] = row
        deliveries.append(row)
    _save_folds(list(folded.values()), new.now)
    if created:
        try:
            with transaction.atomic():
                PushDelivery.objects.bulk_create(created)
        except IntegrityError:  # a concurrent writer created a pending row first
            for index, receiver in enumerate(receivers):
                if deliveries[index].pk is None:
                    deliveries[index] = _enqueue_one(receiver, new)
    # Receivers with a new or folded-into PENDING delivery: a fold holds the row locked until
    # the commit, so a hand-out meanwhile skips it; the one after the commit does not.
    hand_out_after_commit({d.receiver_id for d in deliveries if d.status == DeliveryStatus.PENDING})
    return deliveries


@dataclass(frozen=True)
class _NewDelivery:
    """What every delivery of one `push_enqueue` call is made of."""

    module: str
    object_key: str
    operation: str
    fields: list[str]
    sender: PartyRef
    window_s: float
    correlation_id: str
    now: datetime

    def row_for(self, receiver: Receiver) -> PushDelivery:
        # A suspended receiver's new deliveries wait with the others it has on hold.
        held = receiver_held(receiver.platform)
        return PushDelivery(
            receiver=receiver.platform,
            to_country_code=receiver.party.country_code,
            to_party_id=receiver.party.party_id,
            from_country_code=self.sender.country_code,
            from_party_id=self.sender.party_id,
            module=self.module,
            object_key=self.object_key,
            operation=self.operation,
            patch_fields=self.fields if self.operation == "PATCH" else [],
            next_attempt_at=self.now,
            enqueued_at=self.now,
            expires_at=self.now + timedelta(seconds=self.window_s),
            correlation_id=self.correlation_id,
            status=DeliveryStatus.HELD if held else DeliveryStatus.PENDING,
            held_since=self.now if held else None,
        )


def _merge(row: PushDelivery, operation: str, fields: list[str]) -> None:
    """Fold an update into an open row in memory (PATCH fields merged, PUT replaces)."""
    merged = merge_operation(row.operation, operation)
    row.patch_fields = sorted(set(row.patch_fields) | set(fields)) if merged == "PATCH" else []
    row.operation = merged


def _save_folds(rows: list[PushDelivery], now: datetime) -> None:
    """Store folded rows: one UPDATE per resulting (operation, fields)."""
    groups: dict[tuple[str, tuple[str, ...]], list[int]] = {}
    for row in rows:
        groups.setdefault((row.operation, tuple(row.patch_fields)), []).append(row.pk)
    for (operation, fields), pks in groups.items():
        PushDelivery.objects.filter(pk__in=pks).update(
            operation=operation, patch_fields=list(fields), updated_at=now
        )
        for row in rows:
            if row.pk in pks:
                row.updated_at = now


def _enqueue_one(receiver: Receiver, new: _NewDelivery) -> PushDelivery:
    """One receiver's delivery, folding into an open row a concurrent writer committed."""
    delivery = _fold_into_pending(receiver, new.module, new.object_key, new.operation, new.fields)
    if delivery is not None:
        return delivery
    try:
        with transaction.atomic():
            delivery = new.row_for(receiver)
            delivery.save(force_insert=True)
            return delivery
    except IntegrityError:
        delivery = _fold_into_pending(
            receiver, new.module, new.object_key, new.operation, new.fields
        )
        if delivery is None:
            raise
        return delivery


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
    _merge(pending, operation, fields)
    pending.save(update_fields=["operation", "patch_fields", "updated_at"])
    return pending
