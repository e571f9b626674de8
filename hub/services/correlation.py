"""Everything the hub recorded under one X-Correlation-ID, in time order: the admin's
correlation page.

One end-to-end flow keeps its correlation id across the hub (2.2.1 transport_and_format
§4.1.2): the inbound request and each hop the hub routed it to are exchange-log rows with that
id; the deliveries it caused carry it (and their attempts are theirs); a command's
`AsyncRequest` keeps the requester's, and so does the relay of its result. A CPO posting the
result to the hub's `response_url` may send a correlation id of its own: that post is found by
its URL, which names the request. Sessions and CDRs record the correlation id of the write
that stored them.

Exchanges are placed at the moment they began (the log row is written when the answer is in).
Each kind is one indexed query, bounded by `LIMIT` rows (a runaway flow cannot make the page
unbounded); `truncated` says when a kind had more.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q

from hub.models import (
    AsyncRequest,
    Cdr,
    OcpiExchange,
    PushAttempt,
    PushDelivery,
    Session,
)
from hub.modules import ModuleID

__all__ = ["LIMIT", "Trail", "TrailEvent", "correlation_trail", "exchange_started"]

LIMIT = 500
# How long after its request a CPO's result post is looked for, past the request's expiry.
RESULT_GRACE = timedelta(minutes=10)


@dataclass(frozen=True)
class TrailEvent:
    """One row of the trail: when, what kind of record, the record."""

    at: datetime
    kind: str  # exchange, delivery, attempt, command, command result, session, cdr
    obj: Any


@dataclass
class Trail:
    correlation_id: str
    events: list[TrailEvent] = field(default_factory=list)
    truncated: list[str] = field(default_factory=list)


# Ties at the same instant: the cause before its effects.
_KIND_ORDER = {
    "exchange": 0,
    "command": 1,
    "session": 1,
    "cdr": 1,
    "delivery": 2,
    "attempt": 3,
    "command result": 4,
}


def _bounded(trail: Trail, kind: str, rows: list[Any]) -> list[Any]:
    if len(rows) > LIMIT:
        trail.truncated.append(kind)
        return rows[:LIMIT]
    return rows


def _result_posts(requests: list[AsyncRequest], seen: set[int]) -> list[OcpiExchange]:
    """The CPOs' posts of the requests' results, found by the hub URL naming each request,
    within the request's lifetime (the exchange log's `created_at` index narrows the scan)."""
    found: list[OcpiExchange] = []
    query = Q()
    for row in requests:
        end = max(filter(None, (row.expires_at, row.result_received_at, row.updated_at)))
        query |= Q(
            Q(url__endswith=f"/{row.pk}") | Q(url__endswith=f"/{row.pk}/"),
            created_at__gte=row.created_at,
            created_at__lte=end + RESULT_GRACE,
            module__in=(ModuleID.COMMANDS, ModuleID.CHARGING_PROFILES),
        )
    if requests:
        found = [
            exchange
            for exchange in OcpiExchange.objects.filter(query)
            .select_related("platform")
            .order_by("created_at", "pk")[:LIMIT]
            if exchange.pk not in seen
        ]
    return found


def exchange_started(exchange: OcpiExchange) -> datetime:
    """When the call began: the log row is written once the answer is in (`created_at`), after
    what the call itself wrote, so the trail places it `duration_ms` earlier."""
    return exchange.created_at - timedelta(milliseconds=exchange.duration_ms or 0)


def correlation_trail(correlation_id: str) -> Trail:
    """The trail of `correlation_id` (empty for an empty id)."""
    trail = Trail(correlation_id)
    if not correlation_id:
        return trail
    exchanges = _bounded(
        trail,
        "exchanges",
        list(
            OcpiExchange.objects.filter(correlation_id=correlation_id)
            .select_related("platform")
            .order_by("created_at", "pk")[: LIMIT + 1]
        ),
    )
    deliveries = _bounded(
        trail,
        "deliveries",
        list(
            PushDelivery.objects.filter(correlation_id=correlation_id)
            .select_related("receiver")
            .order_by("created_at", "pk")[: LIMIT + 1]
        ),
    )
    attempts = _bounded(
        trail,
        "attempts",
        list(
            PushAttempt.objects.filter(delivery__correlation_id=correlation_id)
            .select_related("delivery", "delivery__receiver")
            .order_by("started_at", "pk")[: LIMIT + 1]
        ),
    )
    requests = _bounded(
        trail,
        "commands",
        list(
            AsyncRequest.objects.filter(correlation_id=correlation_id)
            .select_related("requester", "receiver")
            .order_by("created_at")[: LIMIT + 1]
        ),
    )
    sessions = list(
        Session.objects.filter(correlation_id=correlation_id)
        .defer("data")
        .order_by("updated_at")[:LIMIT]
    )
    cdrs = list(
        Cdr.objects.filter(correlation_id=correlation_id)
        .defer("data")
        .order_by("received_at")[:LIMIT]
    )
    results = _result_posts(requests, {exchange.pk for exchange in exchanges})

    events = [TrailEvent(exchange_started(e), "exchange", e) for e in [*exchanges, *results]]
    events += [TrailEvent(d.created_at, "delivery", d) for d in deliveries]
    events += [TrailEvent(a.started_at, "attempt", a) for a in attempts]
    events += [TrailEvent(r.created_at, "command", r) for r in requests]
    events += [
        TrailEvent(r.result_received_at, "command result", r)
        for r in requests
        if r.result_received_at is not None
    ]
    events += [TrailEvent(s.updated_at, "session", s) for s in sessions]
    events += [TrailEvent(c.received_at, "cdr", c) for c in cdrs]
    # A stable sort: rows of one kind at the same instant keep their primary-key order.
    trail.events = sorted(events, key=lambda event: (event.at, _KIND_ORDER[event.kind]))
    return trail
