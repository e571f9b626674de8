"""Retention: delete what the hub no longer needs, in bounded batches (DESIGN §5 outbox).

Every prune deletes at most OCPI_RETENTION_BATCH_SIZE rows per statement, chosen by primary
key, each batch in its own transaction, and stops when nothing is left or after
OCPI_RETENTION_TIME_BUDGET_S (under the Celery soft time limit). A run cut short (budget, a
killed worker) has committed its batches; the next run resumes with what is left, so a large
backlog is worked off over several runs instead of one statement that never finishes.

What is kept whatever its age:
- deliveries not final (PENDING, HELD for a suspended receiver, IN_FLIGHT): still to be sent;
- DEAD deliveries: money (sessions, CDRs, command results) whose retry window passed stays a
  dead letter until staff resend it or discard it (then it is CANCELLED, and ages from there);
- an attempt always goes with its delivery (never before it): the outbox's evidence of what
  the receiver answered is complete for every delivery still listed;
- asynchronous requests still open (FORWARDED, WAITING) or whose result delivery is not final
  or DEAD (the result is built from the request at send time);
- proxied URLs until OCPI_RETENTION_PROXIED_URL_DAYS after they expired;
- the newest status change of each EVSE at or before the cutoff, whatever its age: it is the
  EVSE's status at the cutoff, which utilisation over a period after it starts from.
"""

import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from hub.models import (
    AsyncRequest,
    AuthorizationRecord,
    EvseStatusChange,
    OcpiExchange,
    ProxiedUrl,
    PushAttempt,
    PushDelivery,
)
from hub.models.commands import AsyncState
from hub.models.deliveries import DeliveryStatus
from hub.modules import ModuleID

__all__ = [
    "FINAL_DELIVERY_STATUSES",
    "PruneResult",
    "prune_all",
    "prune_async_requests",
    "prune_authorizations",
    "prune_deliveries",
    "prune_evse_status_history",
    "prune_exchange_log",
    "prune_in_batches",
    "prune_proxied_urls",
]

# DEAD is final for the outbox but not for retention: a dead letter waits for staff.
FINAL_DELIVERY_STATUSES = (
    DeliveryStatus.DELIVERED,
    DeliveryStatus.FAILED,
    DeliveryStatus.CANCELLED,
)
_KEPT_DELIVERY_STATUSES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.HELD,
    DeliveryStatus.IN_FLIGHT,
    DeliveryStatus.DEAD,
)
_FINAL_ASYNC_STATES = (
    AsyncState.REFUSED,
    AsyncState.RESULT_RECEIVED,
    AsyncState.TIMED_OUT,
    AsyncState.FAILED,
)
# Outbox modules of asynchronous results (hub.services.routing.async_results.MODULE_OF); their
# object keys are `{prefix}/{request id}/result/{n}`.
_ASYNC_RESULT_MODULES = (ModuleID.COMMANDS, ModuleID.CHARGING_PROFILES)


@dataclass
class PruneResult:
    """What one prune did: rows deleted, and whether it finished (False: budget spent)."""

    deleted: int = 0
    done: bool = True

    def __iadd__(self, other: "PruneResult") -> "PruneResult":
        self.deleted += other.deleted
        self.done = self.done and other.done
        return self


def _cutoff(days: float) -> Any:
    return timezone.now() - timedelta(days=days)


def _deadline(budget_s: float | None) -> float:
    budget = settings.OCPI_RETENTION_TIME_BUDGET_S if budget_s is None else budget_s
    return time.monotonic() + budget


def prune_in_batches(
    queryset: "models.QuerySet[Any]",
    *,
    deadline: float,
    batch_size: int | None = None,
) -> PruneResult:
    """Delete the rows of `queryset`, `batch_size` primary keys (lowest first) at a time, each
    batch committed on its own, until none is left or `deadline` (time.monotonic()) passes.

    The queryset is re-evaluated per batch (inside the batch's transaction), so rows that
    stopped matching meanwhile (a delivery resent) are not deleted.
    """
    size = batch_size or settings.OCPI_RETENTION_BATCH_SIZE
    model = queryset.model
    result = PruneResult()
    while True:
        if time.monotonic() >= deadline:
            result.done = not queryset.exists()
            return result
        with transaction.atomic():
            pks = list(queryset.order_by("pk").values_list("pk", flat=True)[:size])
            if not pks:
                return result
            # Django's delete: a DELETE ... WHERE pk IN (batch) for a table nothing points to,
            # and dependents (attempts) deleted by their foreign key in the same bounded way.
            _, per_model = model._default_manager.filter(pk__in=pks).delete()
            result.deleted += per_model.get(model._meta.label, 0)


def prune_exchange_log(*, budget_s: float | None = None) -> PruneResult:
    """Exchange-log entries older than OCPI_EXCHANGE_LOG_RETENTION_DAYS."""
    old = OcpiExchange.objects.filter(
        created_at__lt=_cutoff(settings.OCPI_EXCHANGE_LOG_RETENTION_DAYS)
    )
    return prune_in_batches(old, deadline=_deadline(budget_s))


def prune_deliveries(*, budget_s: float | None = None) -> PruneResult:
    """Final deliveries (DELIVERED, FAILED, CANCELLED) unchanged for
    OCPI_RETENTION_PUSH_DELIVERY_DAYS whose newest attempt is older than
    OCPI_RETENTION_PUSH_ATTEMPT_DAYS, each with its attempts in the same transaction.
    Never PENDING, IN_FLIGHT or DEAD ones, nor any of their attempts."""
    attempts_cutoff = _cutoff(settings.OCPI_RETENTION_PUSH_ATTEMPT_DAYS)
    old = (
        PushDelivery.objects.filter(
            status__in=FINAL_DELIVERY_STATUSES,
            updated_at__lt=_cutoff(settings.OCPI_RETENTION_PUSH_DELIVERY_DAYS),
        )
        # the attempts go with their delivery (FK cascade): wait for the newest one's age too
        .exclude(
            Exists(
                PushAttempt.objects.filter(delivery=OuterRef("pk"), started_at__gte=attempts_cutoff)
            )
        )
    )
    return prune_in_batches(old, deadline=_deadline(budget_s))


def _async_requests_with_kept_results() -> set[uuid.UUID]:
    """Ids of requests whose result delivery is still to be sent or a dead letter."""
    keys = PushDelivery.objects.filter(
        module__in=_ASYNC_RESULT_MODULES, status__in=_KEPT_DELIVERY_STATUSES
    ).values_list("object_key", flat=True)
    ids: set[uuid.UUID] = set()
    for key in keys:
        parts = str(key).split("/")
        try:
            ids.add(uuid.UUID(parts[1]))
        except (IndexError, ValueError):
            continue  # not a result key: it names no request
    return ids


def prune_async_requests(*, budget_s: float | None = None) -> PruneResult:
    """Finished commands / charging-profile requests unchanged for
    OCPI_RETENTION_ASYNC_REQUEST_DAYS, except those whose result delivery is kept."""
    old = AsyncRequest.objects.filter(
        state__in=_FINAL_ASYNC_STATES,
        updated_at__lt=_cutoff(settings.OCPI_RETENTION_ASYNC_REQUEST_DAYS),
    )
    kept = _async_requests_with_kept_results()
    if kept:
        old = old.exclude(pk__in=sorted(kept))
    return prune_in_batches(old, deadline=_deadline(budget_s))


def prune_proxied_urls(*, budget_s: float | None = None) -> PruneResult:
    """Proxied URLs expired more than OCPI_RETENTION_PROXIED_URL_DAYS ago (an expired one is
    already refused; the grace keeps it a while for diagnosing "why is my Link dead")."""
    old = ProxiedUrl.objects.filter(
        expires_at__lt=_cutoff(settings.OCPI_RETENTION_PROXIED_URL_DAYS)
    )
    return prune_in_batches(old, deadline=_deadline(budget_s))


def prune_evse_status_history(*, budget_s: float | None = None) -> PruneResult:
    """EVSE status changes older than OCPI_RETENTION_EVSE_STATUS_DAYS that a later change of
    the same EVSE, itself at or before the cutoff, replaced: the newest one at the cutoff is
    the status there, and stays."""
    cutoff = _cutoff(settings.OCPI_RETENTION_EVSE_STATUS_DAYS)
    replaced = EvseStatusChange.objects.filter(
        location=OuterRef("location"),
        evse_uid=OuterRef("evse_uid"),
        changed_at__lte=cutoff,
    ).filter(
        models.Q(changed_at__gt=OuterRef("changed_at"))
        | models.Q(changed_at=OuterRef("changed_at"), pk__gt=OuterRef("pk"))
    )
    old = EvseStatusChange.objects.filter(changed_at__lt=cutoff).filter(Exists(replaced))
    return prune_in_batches(old, deadline=_deadline(budget_s))


def prune_authorizations(*, budget_s: float | None = None) -> PruneResult:
    """Routed authorizations recorded more than OCPI_RETENTION_AUTHORIZATION_DAYS ago."""
    old = AuthorizationRecord.objects.filter(
        created_at__lt=_cutoff(settings.OCPI_RETENTION_AUTHORIZATION_DAYS)
    )
    return prune_in_batches(old, deadline=_deadline(budget_s))


def prune_all(*, budget_s: float | None = None) -> dict[str, dict[str, int | bool]]:
    """Every prune except the exchange log (its own task), sharing one time budget."""
    deadline = _deadline(budget_s)
    out: dict[str, dict[str, int | bool]] = {}
    for name, prune in (
        ("push_deliveries", prune_deliveries),
        ("async_requests", prune_async_requests),
        ("proxied_urls", prune_proxied_urls),
        ("evse_status_history", prune_evse_status_history),
        ("authorizations", prune_authorizations),
    ):
        result = prune(budget_s=max(0.0, deadline - time.monotonic()))
        out[name] = {"deleted": result.deleted, "done": result.done}
    return out
