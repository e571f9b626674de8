"""The hub's state as the metrics show it, read from the database at scrape time: one
aggregate query per figure, every label bounded. Process-independent: any web process reads
the same numbers, so these need no multiprocess bookkeeping."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db.models import Count, Min
from django.utils import timezone

from hub.models import CircuitState, DeliveryStatus, Heartbeat, PushDelivery, ReceiverCircuit
from hub.services.delivery.rules import is_money

# The deliveries worth watching: open ones and dead letters waiting for staff. The final states
# (DELIVERED, FAILED, CANCELLED) are left out: their count is whatever retention has not pruned
# yet, and counting them would scan the largest part of the table on every scrape.
WATCHED_STATES = (
    DeliveryStatus.PENDING,
    DeliveryStatus.HELD,
    DeliveryStatus.IN_FLIGHT,
    DeliveryStatus.DEAD,
)
OTHER_RECEIVERS = "other"


@dataclass(frozen=True)
class DeliveryCount:
    state: str
    receiver: str  # the platform id, or "other"
    receiver_name: str
    count: int


@dataclass(frozen=True)
class HubState:
    """What one scrape reports from the database."""

    deliveries: list[DeliveryCount]
    oldest_due_age_s: dict[str, float]  # queue -> seconds
    circuits: dict[str, int]  # state -> receivers
    heartbeat_age_s: dict[str, float]  # stamp name -> seconds


def _deliveries() -> list[DeliveryCount]:
    rows = list(
        PushDelivery.objects.filter(status__in=WATCHED_STATES)
        .values("receiver_id", "receiver__name", "status")
        .annotate(n=Count("pk"))
        .order_by()
    )
    totals: dict[int, int] = {}
    for row in rows:
        totals[row["receiver_id"]] = totals.get(row["receiver_id"], 0) + row["n"]
    # The largest backlogs keep their own series; the tail is summed into "other".
    kept = set(sorted(totals, key=lambda r: (-totals[r], r))[: settings.HUB_METRICS_MAX_RECEIVERS])
    counts: dict[tuple[str, str, str], int] = {}
    for row in rows:
        key = (
            (row["status"], str(row["receiver_id"]), row["receiver__name"])
            if row["receiver_id"] in kept
            else (row["status"], OTHER_RECEIVERS, "")
        )
        counts[key] = counts.get(key, 0) + row["n"]
    return [DeliveryCount(s, r, name, n) for (s, r, name), n in sorted(counts.items())]


def _oldest_due_age(now: datetime) -> dict[str, float]:
    """Per queue (ocpi_push for state, ocpi_money for money): how long the oldest PENDING
    delivery that is due has been due; 0 when none is waiting."""
    oldest: dict[str, datetime] = {}
    rows = (
        PushDelivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        .values("module")
        .annotate(oldest=Min("next_attempt_at"))
        .order_by()
    )
    for row in rows:
        queue = "ocpi_money" if is_money(row["module"]) else "ocpi_push"
        if queue not in oldest or row["oldest"] < oldest[queue]:
            oldest[queue] = row["oldest"]
    return {
        queue: max(0.0, (now - oldest[queue]).total_seconds()) if queue in oldest else 0.0
        for queue in ("ocpi_push", "ocpi_money")
    }


def _circuits() -> dict[str, int]:
    counts = dict.fromkeys(CircuitState.values, 0)
    for row in ReceiverCircuit.objects.values("state").annotate(n=Count("pk")).order_by():
        counts[row["state"]] = row["n"]
    return counts


def hub_state() -> HubState:
    """Read every figure; raises the database's error when it cannot be read."""
    now = timezone.now()
    return HubState(
        deliveries=_deliveries(),
        oldest_due_age_s=_oldest_due_age(now),
        circuits=_circuits(),
        heartbeat_age_s={
            name: max(0.0, (now - at).total_seconds())
            for name, at in Heartbeat.objects.values_list("name", "at")
        },
    )
