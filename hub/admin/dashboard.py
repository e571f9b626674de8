"""The operations dashboard on the admin index: per partner platform its status, last call,
deliveries pending / failed / dead, error rate and circuit; a chart of exchanges per minute by
module and one of delivery latency per receiver (Chart.js from the hub's static files).
Every figure links to the changelist filtered to the rows behind it. The figures and their
definitions are `hub.services.operations`; this module only renders them and builds links."""

from datetime import datetime
from typing import Any

from django.http import HttpRequest

from hub.admin.display import (
    CIRCUIT_COLOURS,
    STATUS_COLOURS,
    changelist_url,
    status_badge,
)
from hub.models import CircuitState, ConnectionStatus, DeliveryStatus
from hub.services.operations import OperationsOverview, PartnerFigures, operations_overview

# What a user needs to see the dashboard (every staff role's viewer holds them): the rows are
# platforms, the figures are counted from the outbox and the exchange log.
DASHBOARD_PERMISSIONS = ("hub.view_platform", "hub.view_pushdelivery", "hub.view_ocpiexchange")


def _iso(moment: datetime) -> str:
    return moment.isoformat()


def deliveries_link(receiver_id: int, status: str, **query: str) -> str:
    return changelist_url(
        "pushdelivery", receiver__id__exact=str(receiver_id), status__exact=status, **query
    )


def exchanges_link(**query: str) -> str:
    return changelist_url("ocpiexchange", **query)


def _partner_row(figures: PartnerFigures, since: datetime) -> dict[str, Any]:
    platform = figures.platform
    since_text = _iso(since)
    pk = str(platform.pk)
    rate = figures.error_rate
    return {
        "platform": platform,
        "status": status_badge(
            platform.status, ConnectionStatus(platform.status).label, STATUS_COLOURS
        ),
        "last_seen_at": platform.last_seen_at,
        "pending": figures.pending,
        "pending_url": deliveries_link(platform.pk, DeliveryStatus.PENDING),
        "failed": figures.failed,
        "failed_url": deliveries_link(platform.pk, DeliveryStatus.FAILED, changed_since=since_text),
        "dead": figures.dead,
        "dead_url": deliveries_link(platform.pk, DeliveryStatus.DEAD, changed_since=since_text),
        "exchanges": figures.exchanges,
        "exchanges_url": exchanges_link(platform__id__exact=pk, since=since_text),
        "errors": figures.errors,
        "errors_url": exchanges_link(platform__id__exact=pk, since=since_text, outcome="error"),
        "error_rate": "—" if rate is None else f"{rate:.1%}",
        "circuit": status_badge(
            figures.circuit, CircuitState(figures.circuit).label, CIRCUIT_COLOURS
        ),
        # An open circuit holds the receiver's deliveries back: they wait as PENDING.
        "circuit_url": deliveries_link(platform.pk, DeliveryStatus.PENDING),
        "delivered": figures.delivered,
        "delivered_url": deliveries_link(
            platform.pk, DeliveryStatus.DELIVERED, delivered_since=since_text
        ),
        "latency_p50_ms": figures.latency_p50_ms,
        "latency_p95_ms": figures.latency_p95_ms,
    }


def _chart_data(overview: OperationsOverview) -> dict[str, Any]:
    """What the charts draw, and what a click on a bar opens (the JavaScript appends the
    bar's minute as `since`/`until` to a module's exchange-log URL)."""
    since = _iso(overview.since)
    with_latency = [p for p in overview.partners if p.delivered]
    return {
        "minutes": [_iso(minute) for minute in overview.minutes],
        "modules": [
            {
                "module": module or "(no module)",
                "counts": counts,
                # the log has no filter for "no module": those bars open nothing
                "url": exchanges_link(module=module) if module else "",
            }
            for module, counts in sorted(overview.exchanges_per_minute.items())
        ],
        "latency": {
            "receivers": [p.platform.name for p in with_latency],
            "p50": [p.latency_p50_ms for p in with_latency],
            "p95": [p.latency_p95_ms for p in with_latency],
            "urls": [
                deliveries_link(p.platform.pk, DeliveryStatus.DELIVERED, delivered_since=since)
                for p in with_latency
            ],
        },
    }


def dashboard_context(request: HttpRequest) -> dict[str, Any]:
    """The index's dashboard, for a user who may see it (else nothing)."""
    if not request.user.has_perms(DASHBOARD_PERMISSIONS):
        return {}
    overview = operations_overview()
    since = _iso(overview.since)
    module_totals = [
        {
            "module": module or "(no module)",
            "count": sum(counts),
            "url": exchanges_link(module=module, since=since) if module else "",
        }
        for module, counts in sorted(overview.exchanges_per_minute.items())
    ]
    return {
        "dashboard": {
            "since": overview.since,
            "until": overview.until,
            "partners": [_partner_row(p, overview.since) for p in overview.partners],
            "module_totals": module_totals,
            "exchanges_url": exchanges_link(since=since),
        },
        "dashboard_chart_data": _chart_data(overview),
    }
