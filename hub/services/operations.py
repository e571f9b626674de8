"""The operations dashboard's figures (the admin index): per partner platform, how it stands
and how its last hour went; and the hub's exchanges per minute and delivery latency.

Definitions (the window is the last hour, [since, until)):
- pending: the receiver's deliveries PENDING now (a backlog, not a window figure);
- failed, dead: its deliveries whose status is FAILED or DEAD and that last changed in the
  window (`updated_at`: a delivery ends there and is not written again), as
  `hub.services.analytics.deliveries` counts them;
- exchanges, errors: its exchange-log rows in the window (`created_at`, inbound and outbound);
  an error is HTTP >= 400, or an OCPI status other than 1000, or no answer at all (transport
  error: no HTTP status);
- latency: deliveries DELIVERED in the window, creation to delivery (retries included), p50 and
  p95 per receiver.

Every figure is aggregated in the database: six queries (seven on SQLite, where percentiles
are computed in Python) whatever the number of partners.
"""

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db.models import Count, DurationField, ExpressionWrapper, F, Q
from django.db.models.functions import TruncMinute

from hub.models import (
    CircuitState,
    DeliveryStatus,
    OcpiExchange,
    Platform,
    PushDelivery,
)
from hub.services.analytics.deliveries import duration_stats

__all__ = [
    "WINDOW",
    "OperationsOverview",
    "PartnerFigures",
    "exchange_error_q",
    "operations_overview",
]

WINDOW = timedelta(hours=1)


def exchange_error_q() -> Q:
    """An exchange that did not succeed: HTTP >= 400, OCPI status not 1000, or no answer.
    (The negation of "HTTP < 400 and OCPI 1000": Django's negation counts NULLs as errors.)"""
    return ~Q(http_status__lt=400, ocpi_status=1000)


@dataclass(frozen=True)
class PartnerFigures:
    """One partner platform's row on the dashboard."""

    platform: Platform
    circuit: str
    pending: int = 0
    failed: int = 0
    dead: int = 0
    exchanges: int = 0
    errors: int = 0
    delivered: int = 0
    latency_p50_ms: float | None = None
    latency_p95_ms: float | None = None

    @property
    def error_rate(self) -> float | None:
        """Errors per exchange in the window (None: no exchange)."""
        return self.errors / self.exchanges if self.exchanges else None


@dataclass(frozen=True)
class OperationsOverview:
    since: datetime
    until: datetime
    partners: list[PartnerFigures]
    # The minute buckets of the window (UTC, oldest first) and per module the exchanges that
    # started in each ("" is a call of no module, e.g. versions).
    minutes: list[datetime] = field(default_factory=list)
    exchanges_per_minute: dict[str, list[int]] = field(default_factory=dict)


def _minutes(since: datetime, until: datetime) -> list[datetime]:
    first = since.astimezone(UTC).replace(second=0, microsecond=0)
    count = int((until - first).total_seconds() // 60) + 1
    return [
        first + timedelta(minutes=n) for n in range(count) if first + timedelta(minutes=n) < until
    ]


def operations_overview(now: datetime | None = None) -> OperationsOverview:
    until = now or datetime.now(UTC)
    since = until - WINDOW
    platforms = list(Platform.objects.select_related("circuit").order_by("name", "pk"))

    deliveries = {
        row["receiver_id"]: row
        for row in PushDelivery.objects.filter(
            Q(status=DeliveryStatus.PENDING)
            | Q(
                status__in=(DeliveryStatus.FAILED, DeliveryStatus.DEAD),
                updated_at__gte=since,
                updated_at__lt=until,
            )
        )
        .order_by()
        .values("receiver_id")
        .annotate(
            pending=Count("pk", filter=Q(status=DeliveryStatus.PENDING)),
            failed=Count("pk", filter=Q(status=DeliveryStatus.FAILED, updated_at__gte=since)),
            dead=Count("pk", filter=Q(status=DeliveryStatus.DEAD, updated_at__gte=since)),
        )
    }
    window = OcpiExchange.objects.filter(created_at__gte=since, created_at__lt=until).order_by()
    exchanges = {
        row["platform_id"]: row
        for row in window.filter(platform__isnull=False)
        .values("platform_id")
        .annotate(total=Count("pk"), errors=Count("pk", filter=exchange_error_q()))
    }
    delivered = PushDelivery.objects.filter(
        status=DeliveryStatus.DELIVERED, delivered_at__gte=since, delivered_at__lt=until
    ).order_by()
    latency = ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField())
    latency_ms = duration_stats(delivered, latency, "receiver_id", duration=True)
    delivered_counts: dict[int, int] = dict(
        delivered.values("receiver_id").annotate(n=Count("pk")).values_list("receiver_id", "n")
    )

    partners = []
    for platform in platforms:
        circuit = getattr(platform, "circuit", None)
        counts = deliveries.get(platform.pk, {})
        logged = exchanges.get(platform.pk, {})
        stats = latency_ms.get(platform.pk, {})
        partners.append(
            PartnerFigures(
                platform=platform,
                circuit=circuit.state if circuit is not None else CircuitState.CLOSED,
                pending=counts.get("pending", 0),
                failed=counts.get("failed", 0),
                dead=counts.get("dead", 0),
                exchanges=logged.get("total", 0),
                errors=logged.get("errors", 0),
                delivered=delivered_counts.get(platform.pk, 0),
                latency_p50_ms=stats.get("p50"),
                latency_p95_ms=stats.get("p95"),
            )
        )

    minutes = _minutes(since, until)
    index = {minute: n for n, minute in enumerate(minutes)}
    per_module: dict[str, list[int]] = {}
    for row in (
        window.annotate(minute=TruncMinute("created_at", tzinfo=UTC))
        .values("minute", "module")
        .annotate(n=Count("pk"))
        .order_by("module", "minute")
    ):
        slot = index.get(row["minute"].astimezone(UTC))
        if slot is not None:
            per_module.setdefault(row["module"], [0] * len(minutes))[slot] = row["n"]
    return OperationsOverview(
        since=since,
        until=until,
        partners=partners,
        minutes=minutes,
        exchanges_per_minute=per_module,
    )
