"""Delivery health per receiver partner, from the outbox's own records
(`hub.models.PushDelivery`, `hub.models.PushAttempt`).

- attempts: every try whose `started_at` lies in the period; `failed_attempts` those that did
  not succeed (transport error, timeout, HTTP error or an OCPI error: the attempt's `error` is
  set); `attempt_ms`: the round trip of one try (`duration_ms`) as avg, p50, p95 and max;
- deliveries: those DELIVERED in the period (`delivered_at`), with `latency_ms`, the time from
  the delivery's creation (the object stored and enqueued) to its successful delivery, retries
  included, as avg, p50, p95 and max; `failed` and `dead`: deliveries whose final status is
  FAILED or DEAD and that last changed in the period.

Percentiles are PostgreSQL's `percentile_cont` (interpolated); on other databases (SQLite:
development only) they are computed the same way in Python.
"""

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

from django.db import connection
from django.db.models import (
    Aggregate,
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    FloatField,
    Max,
    Q,
    QuerySet,
)

from hub.models import DeliveryStatus, Platform, PushAttempt, PushDelivery
from hub.services.analytics.period import Period

__all__ = ["delivery_figures", "duration_stats"]


class _PercentileCont(Aggregate):
    """PostgreSQL's ordered-set aggregate: the interpolated `fraction` percentile."""

    function = "PERCENTILE_CONT"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"

    def __init__(self, expression: Any, fraction: float, **extra: Any) -> None:
        super().__init__(expression, fraction=float(fraction), **extra)


def _percentile(values: list[float], fraction: float) -> float | None:
    """percentile_cont over a sorted list (the same interpolation as PostgreSQL)."""
    if not values:
        return None
    position = fraction * (len(values) - 1)
    lower = int(position)
    upper = min(lower + 1, len(values) - 1)
    return values[lower] + (values[upper] - values[lower]) * (position - lower)


def _ms(value: Any) -> float | None:
    if value is None:
        return None
    if hasattr(value, "total_seconds"):
        value = value.total_seconds() * 1000
    return round(float(value), 1)


def duration_stats(
    queryset: QuerySet[Any], expression: Any, group: str, *, duration: bool
) -> dict[Any, dict[str, float | None]]:
    """avg, p50, p95, max of `expression` per `group` value (milliseconds)."""
    output: DurationField | FloatField = DurationField() if duration else FloatField()
    aggregates: dict[str, Any] = {"avg": Avg(expression), "max": Max(expression)}
    postgres = connection.vendor == "postgresql"
    if postgres:
        aggregates["p50"] = _PercentileCont(expression, 0.5, output_field=output)
        aggregates["p95"] = _PercentileCont(expression, 0.95, output_field=output)
    out: dict[Any, dict[str, float | None]] = {}
    for row in queryset.values(group).annotate(**aggregates).order_by(group):
        out[row[group]] = {k: _ms(row.get(k)) for k in ("avg", "p50", "p95", "max")}
    if not postgres:
        values: dict[Any, list[float]] = defaultdict(list)
        for key, value in queryset.annotate(v=expression).values_list(group, "v").order_by("v"):
            if value is not None:
                values[key].append(_ms(value) or 0.0)
        for key, stats in out.items():
            stats["p50"] = _percentile(values[key], 0.5)
            stats["p95"] = _percentile(values[key], 0.95)
    return out


def delivery_figures(
    period: Period, receivers: Iterable[int] | None = None
) -> list[dict[str, Any]]:
    """Per receiver platform (all, or the platform ids in `receivers`)."""
    attempts = PushAttempt.objects.filter(
        started_at__gte=period.start, started_at__lt=period.end
    ).order_by()
    delivered = PushDelivery.objects.filter(
        status=DeliveryStatus.DELIVERED,
        delivered_at__gte=period.start,
        delivered_at__lt=period.end,
    ).order_by()
    ended = PushDelivery.objects.filter(
        status__in=(DeliveryStatus.FAILED, DeliveryStatus.DEAD),
        updated_at__gte=period.start,
        updated_at__lt=period.end,
    ).order_by()
    if receivers is not None:
        ids = list(receivers)
        attempts = attempts.filter(delivery__receiver_id__in=ids)
        delivered = delivered.filter(receiver_id__in=ids)
        ended = ended.filter(receiver_id__in=ids)
    group = "delivery__receiver_id"
    attempt_counts = {
        row[group]: row
        for row in attempts.values(group).annotate(
            attempts=Count("pk"), failed_attempts=Count("pk", filter=~Q(error=""))
        )
    }
    attempt_ms = duration_stats(
        attempts.filter(duration_ms__isnull=False), F("duration_ms"), group, duration=False
    )
    latency = ExpressionWrapper(F("delivered_at") - F("created_at"), output_field=DurationField())
    delivered_counts = dict(
        delivered.values("receiver_id").annotate(n=Count("pk")).values_list("receiver_id", "n")
    )
    latency_ms = duration_stats(delivered, latency, "receiver_id", duration=True)
    ended_counts: dict[int, dict[str, int]] = defaultdict(dict)
    for receiver_id, status, n in (
        ended.values("receiver_id", "status")
        .annotate(n=Count("pk"))
        .values_list("receiver_id", "status", "n")
    ):
        ended_counts[receiver_id][status] = n
    platform_ids = set(attempt_counts) | set(delivered_counts) | set(ended_counts)
    names = dict(Platform.objects.filter(pk__in=platform_ids).values_list("pk", "name"))
    empty = {"avg": None, "p50": None, "p95": None, "max": None}
    rows = []
    for pk in sorted(platform_ids, key=lambda p: (names.get(p, ""), p)):
        counts = attempt_counts.get(pk, {})
        rows.append(
            {
                "receiver": names.get(pk, str(pk)),
                "receiver_id": pk,
                "attempts": counts.get("attempts", 0),
                "failed_attempts": counts.get("failed_attempts", 0),
                "attempt_ms": attempt_ms.get(pk, empty),
                "delivered": delivered_counts.get(pk, 0),
                "latency_ms": latency_ms.get(pk, empty),
                "failed": ended_counts[pk].get(DeliveryStatus.FAILED, 0),
                "dead": ended_counts[pk].get(DeliveryStatus.DEAD, 0),
            }
        )
    return rows
