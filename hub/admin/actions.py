"""Changelist actions that change state through the hub's services, and the registry's
operations staff run on platforms (as actions and as buttons).

Each action is bounded (one click touches at most `BULK_ACTION_LIMIT` rows; more is a job for
a narrower filter or a script), says what it did and did not do, and writes a LogEntry per
object it changed. Every one needs a permission of its own (staff roles, hub.services.staff).
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from hub.models import ConnectionStatus, DeliveryStatus, Platform, PushDelivery
from hub.modules import ModuleID
from hub.services.delivery.receivers import delivery_cancel, delivery_resend

# One click sends at most this many; more is a job for a narrower filter (or a script).
BULK_ACTION_LIMIT = 500

# What "Resend now" may touch: IN_FLIGHT is a worker's (resending would race it) and DELIVERED
# arrived (resending a POSTed CDR would duplicate it at the receiver).
RESENDABLE = frozenset(
    {
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
        DeliveryStatus.DEAD,
        DeliveryStatus.CANCELLED,
    }
)
# The outbox module of CDR deliveries (their object keys are the CDRs' `CC/PID/ID`).
CDR_MODULE = ModuleID.CDRS


@dataclass(frozen=True)
class PlatformOperation:
    """A registry operation staff can run on a platform: a changelist action and a button on
    the change page (which asks for confirmation first, since buttons are plain links)."""

    slug: str
    label: str
    consequence: str
    method: str
    applies_to: Callable[[Platform], bool]
    # The `has_<permission>_permission` of PlatformAdmin that allows it (staff roles).
    permission: str


OPERATIONS: dict[str, PlatformOperation] = {
    op.slug: op
    for op in (
        PlatformOperation(
            slug="invite",
            label="Issue new Token A",
            consequence=(
                "A new Token A is issued and shown once; any earlier Token A of this platform "
                "stops working. Hand it to the partner with the hub's versions URL over a "
                "secure channel."
            ),
            method="run_invite",
            applies_to=lambda p: not p.registered,
            permission="add",
        ),
        PlatformOperation(
            slug="rotate",
            label="Rotate credentials",
            consequence=(
                "The hub PUTs new credentials to the partner and re-reads its roles and "
                "endpoints. If the partner fails, the current tokens keep working."
            ),
            method="run_rotate",
            applies_to=lambda p: p.registered,
            permission="rotate",
        ),
        PlatformOperation(
            slug="suspend",
            label="Suspend",
            consequence=(
                "All traffic with this platform stops (its calls are refused) until it is "
                "reactivated. The registration is kept."
            ),
            method="run_suspend",
            applies_to=lambda p: p.status != ConnectionStatus.SUSPENDED,
            permission="suspend",
        ),
        PlatformOperation(
            slug="reactivate",
            label="Reactivate",
            consequence=("Lifts the suspension: CONNECTED when registered, PLANNED otherwise."),
            method="run_reactivate",
            applies_to=lambda p: p.status == ConnectionStatus.SUSPENDED,
            permission="suspend",
        ),
        PlatformOperation(
            slug="unregister",
            label="Unregister",
            consequence=(
                "The hub DELETEs its credentials at the partner, then forgets the "
                "registration: every token dies and all traffic stops. Even when the partner "
                "cannot be reached the hub unregisters locally. Connecting again needs a new "
                "Token A."
            ),
            method="run_unregister",
            applies_to=lambda p: p.registered,
            permission="unregister",
        ),
    )
}


def bounded_selection(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[Any],
    noun: str,
    hint: str,
) -> list[Any] | None:
    """The selected rows, or None (and an error saying to `hint`) when there are more than
    `BULK_ACTION_LIMIT`."""
    rows = list(queryset[: BULK_ACTION_LIMIT + 1])
    if len(rows) > BULK_ACTION_LIMIT:
        model_admin.message_user(
            request,
            f"More than {BULK_ACTION_LIMIT} {noun} selected; {hint}. Nothing was changed.",
            messages.ERROR,
        )
        return None
    return rows


def report_resent(
    model_admin: admin.ModelAdmin, request: HttpRequest, what: str, resent: int, folded: int
) -> None:
    if resent or folded:
        text = f"{resent} {what} queued to send now"
        if folded:
            text += f"; {folded} already had a pending delivery, which is sent now instead"
        model_admin.message_user(request, text + ".", messages.SUCCESS)


def _selected_deliveries(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[PushDelivery]
) -> list[PushDelivery] | None:
    return bounded_selection(
        model_admin,
        request,
        queryset.select_related("receiver"),
        "deliveries",
        "narrow the selection (by receiver, module or status)",
    )


@admin.action(description="Resend now", permissions=["resend"])
def resend_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[PushDelivery],
) -> None:
    """Through the outbox service, which keeps the one-pending-row rule: a delivery whose
    object has a pending one already is folded into it."""
    deliveries = _selected_deliveries(model_admin, request, queryset)
    if deliveries is None:
        return
    resent = folded = skipped = 0
    away: set[str] = set()
    for delivery in deliveries:
        if delivery.status not in RESENDABLE:
            skipped += 1
            continue
        target = delivery_resend(delivery=delivery)
        if target.pk == delivery.pk:
            resent += 1
            model_admin.log_change(request, delivery, "Resent now.")
        else:
            folded += 1
            model_admin.log_change(
                request, delivery, f"Resent as the pending delivery {target.pk}."
            )
        if delivery.receiver.status != ConnectionStatus.CONNECTED:
            away.add(f"{delivery.receiver.name} ({delivery.receiver.status})")
    report_resent(model_admin, request, "deliveries", resent, folded)
    if skipped:
        model_admin.message_user(
            request,
            f"{skipped} skipped: delivered or in flight (only pending, failed, dead or "
            "cancelled deliveries are resent).",
            messages.WARNING,
        )
    if away:
        model_admin.message_user(
            request,
            "Not connected, so state deliveries to them will be cancelled again: "
            + ", ".join(sorted(away))
            + ".",
            messages.WARNING,
        )


@admin.action(description="Cancel (pending only)", permissions=["cancel"])
def cancel_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[PushDelivery],
) -> None:
    deliveries = _selected_deliveries(model_admin, request, queryset)
    if deliveries is None:
        return
    pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
    for delivery in pending:
        delivery_cancel(delivery=delivery)
    # A worker may have claimed one in between: count what the service really cancelled.
    cancelled_ids = set(
        PushDelivery.objects.filter(
            pk__in=[d.pk for d in pending], status=DeliveryStatus.CANCELLED
        ).values_list("pk", flat=True)
    )
    for delivery in pending:
        if delivery.pk in cancelled_ids:
            model_admin.log_change(request, delivery, "Cancelled.")
    if cancelled_ids:
        model_admin.message_user(
            request, f"{len(cancelled_ids)} deliveries cancelled.", messages.SUCCESS
        )
    left = len(deliveries) - len(cancelled_ids)
    if left:
        model_admin.message_user(
            request,
            f"{left} not cancelled: only pending deliveries can be cancelled.",
            messages.WARNING,
        )


def cdr_object_key(cdr: Any) -> str:
    """`CC/PID/ID` as the CDR service keys its delivery (the columns are upper-cased)."""
    return f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}".upper()


@admin.action(description="Resend dead-lettered delivery", permissions=["resend"])
def resend_dead_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Any]
) -> None:
    """The CDRs' dead-lettered deliveries to their eMSPs, sent again (money is never dropped:
    DESIGN §5)."""
    cdrs = bounded_selection(
        model_admin,
        request,
        queryset,
        "CDRs",
        "narrow the selection (filter by delivery state DEAD)",
    )
    if cdrs is None:
        return
    by_key = {cdr_object_key(cdr): cdr for cdr in cdrs}
    dead = PushDelivery.objects.filter(
        module=CDR_MODULE, object_key__in=list(by_key), status=DeliveryStatus.DEAD
    ).select_related("receiver")
    resent = folded = 0
    touched: set[str] = set()
    for delivery in dead:
        target = delivery_resend(delivery=delivery)
        touched.add(delivery.object_key)
        if target.pk == delivery.pk:
            resent += 1
            note = f"Resent dead-lettered delivery {delivery.pk} to {delivery.receiver.name}."
        else:
            folded += 1
            note = (
                f"Dead-lettered delivery {delivery.pk}: the pending delivery {target.pk} is "
                "sent now instead."
            )
        model_admin.log_change(request, by_key[delivery.object_key], note)
    report_resent(model_admin, request, "dead-lettered deliveries", resent, folded)
    skipped = len(by_key) - len(touched)
    if skipped:
        model_admin.message_user(
            request,
            f"{skipped} selected CDRs had no dead-lettered delivery; nothing sent for them.",
            messages.WARNING,
        )
