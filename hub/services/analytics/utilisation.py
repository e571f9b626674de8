"""EVSE utilisation: the share of a period each EVSE spent in each status, from the status
history the hub records (`hub.models.EvseStatusChange`).

How the intervals are built, per EVSE:
- the status at the period's start is that of the last change at or before it;
- each change inside the period starts a new interval, which lasts until the next change;
- intervals are clipped to the period, whose end is itself clipped to now (time that has
  not happened yet is not counted: the shares are of the observed part of the period);
- before the EVSE's first recorded change its status is unknown: that time counts as
  UNKNOWN, as does time in the status UNKNOWN the CPO itself reports.

Statuses are reported as CHARGING, BLOCKED, OUTOFORDER, OTHER (AVAILABLE, RESERVED,
INOPERATIVE, PLANNED, REMOVED) and UNKNOWN; a location's shares are over the summed time of
its EVSEs. Changes are ordered by `changed_at` (the CPO's `last_updated`), ties by the order
the hub recorded them.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db.models import OuterRef, QuerySet, Subquery

from hub.models import Evse, EvseStatusChange, Location, Role
from hub.models.spec_enums import Status
from hub.ocpi.datetimes import utc_now
from hub.services.analytics.period import Period, Perspective

__all__ = ["BUCKETS", "EvseUtilisation", "bucket_of", "utilisation", "utilisation_json"]

# The order the figures are listed in.
BUCKETS = ("CHARGING", "BLOCKED", "OUTOFORDER", "OTHER", "UNKNOWN")
_NAMED = {Status.CHARGING, Status.BLOCKED, Status.OUTOFORDER, Status.UNKNOWN}


def bucket_of(status: str | None) -> str:
    """The figure a status counts towards (None: before the first record)."""
    if status is None or status == "":
        return "UNKNOWN"
    return str(status) if status in _NAMED else "OTHER"


@dataclass
class EvseUtilisation:
    """Seconds per bucket of one EVSE over the period."""

    location_pk: int
    evse_uid: str
    seconds: dict[str, float] = field(default_factory=lambda: dict.fromkeys(BUCKETS, 0.0))

    @property
    def total(self) -> float:
        return sum(self.seconds.values())


def _shares(seconds: dict[str, float]) -> dict[str, float | None]:
    total = sum(seconds.values())
    return {b: (round(seconds[b] / total, 4) if total else None) for b in BUCKETS}


def evse_intervals(
    start_status: str | None,
    changes: Iterable[tuple[datetime, str]],
    start: datetime,
    end: datetime,
) -> dict[str, float]:
    """Seconds per bucket over [start, end) from the status at `start` and the changes after
    it, in time order (each (changed_at, status), start < changed_at)."""
    seconds = dict.fromkeys(BUCKETS, 0.0)
    current, since = start_status, start
    for changed_at, status in changes:
        if changed_at >= end:
            break
        seconds[bucket_of(current)] += (changed_at - since).total_seconds()
        current, since = status, changed_at
    if end > since:
        seconds[bucket_of(current)] += (end - since).total_seconds()
    return seconds


def _scoped_locations(perspective: Perspective) -> QuerySet[Location]:
    locations = Location.objects.all()
    if perspective.party is not None:
        if perspective.role != Role.CPO:
            return locations.none()  # an eMSP operates no EVSEs
        locations = locations.filter(
            country_code=perspective.party.country_code, party_id=perspective.party.party_id
        )
    return locations


def utilisation(
    period: Period, perspective: Perspective, *, now: datetime | None = None
) -> list[EvseUtilisation]:
    """Per EVSE of the perspective's locations (those in the read model and those with
    history), seconds per bucket over the period up to `now` (see the module docstring)."""
    start = period.start
    end = min(period.end, max(start, now or utc_now()))
    locations = _scoped_locations(perspective)
    history = EvseStatusChange.objects.filter(location__in=locations)
    # The status at the start: each EVSE's newest change at or before it.
    newest_before = (
        EvseStatusChange.objects.filter(
            location=OuterRef("location"), evse_uid=OuterRef("evse_uid"), changed_at__lte=start
        )
        .order_by("-changed_at", "-pk")
        .values("pk")[:1]
    )
    at_start = {
        (row.location_id, row.evse_uid): row.status
        for row in history.filter(changed_at__lte=start, pk=Subquery(newest_before)).only(
            "location_id", "evse_uid", "status"
        )
    }
    inside: dict[tuple[int, str], list[tuple[datetime, str]]] = defaultdict(list)
    for location_id, uid, changed_at, status in (
        history.filter(changed_at__gt=start, changed_at__lt=end)
        .order_by("location_id", "evse_uid", "changed_at", "pk")
        .values_list("location_id", "evse_uid", "changed_at", "status")
    ):
        inside[(location_id, uid)].append((changed_at, status))
    keys = set(at_start) | set(inside)
    keys |= set(Evse.objects.filter(location__in=locations).values_list("location_id", "uid"))
    out = []
    for key in sorted(keys):
        row = EvseUtilisation(location_pk=key[0], evse_uid=key[1])
        row.seconds = evse_intervals(at_start.get(key), inside.get(key, []), start, end)
        out.append(row)
    return out


def utilisation_json(rows: list[EvseUtilisation]) -> dict[str, Any]:
    """Per EVSE and per location: seconds and shares per bucket."""
    names = {
        loc.pk: (loc.country_code, loc.party_id, str(loc.data.get("id", loc.location_id)))
        for loc in Location.objects.filter(pk__in={r.location_pk for r in rows}).only(
            "pk", "country_code", "party_id", "location_id", "data"
        )
    }
    per_location: dict[int, dict[str, float]] = {}
    evse_count: dict[int, int] = defaultdict(int)
    evses = []
    for row in rows:
        country_code, party_id, location_id = names.get(row.location_pk, ("", "", ""))
        evses.append(
            {
                "country_code": country_code,
                "party_id": party_id,
                "location_id": location_id,
                "evse_uid": row.evse_uid,
                "seconds": {b: round(row.seconds[b], 3) for b in BUCKETS},
                "shares": _shares(row.seconds),
            }
        )
        totals = per_location.setdefault(row.location_pk, dict.fromkeys(BUCKETS, 0.0))
        for bucket in BUCKETS:
            totals[bucket] += row.seconds[bucket]
        evse_count[row.location_pk] += 1
    locations = []
    for pk, seconds in per_location.items():
        country_code, party_id, location_id = names.get(pk, ("", "", ""))
        locations.append(
            {
                "country_code": country_code,
                "party_id": party_id,
                "location_id": location_id,
                "evses": evse_count[pk],
                "seconds": {b: round(seconds[b], 3) for b in BUCKETS},
                "shares": _shares(seconds),
            }
        )
    locations.sort(key=lambda r: (r["country_code"], r["party_id"], r["location_id"]))
    return {"buckets": list(BUCKETS), "evses": evses, "locations": locations}
