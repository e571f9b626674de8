"""Sessions and kWh: per day, per location and per counterpart, from CDRs and from sessions.

CDRs are the billable truth: a CDR is what the CPO bills and the eMSP pays, immutable once
stored. They are counted as reconciliation counts them (`hub.services.reconciliation`): a CDR
belongs to the UTC day its `end_date_time` falls in (the session it bills ended then); `sessions`
counts non-credit CDRs, `credits` the credit CDRs, `kwh` sums `total_energy` of the non-credit
CDRs (a credit corrects what was billed, not the energy delivered).

Sessions are the live view: they are known before their CDR and include sessions still
running. A session belongs to the UTC day its `start_date_time` falls in, and `kwh` is the
session's `kwh` as last reported (a running session's figure still grows).

Counterparts: for a CPO, the eMSP owning the `cdr_token` (`token_country_code`/`token_party_id`);
for an eMSP, the CPO (the CDR's or session's own party); for the whole hub, each (CPO, eMSP)
pair. Per location: the CDR's `cdr_location.id`, the session's `location_id`, with its CPO.
"""

from dataclasses import dataclass, field
from datetime import UTC
from decimal import Decimal
from typing import Any

from django.db.models import Count, DecimalField, F, Q, QuerySet, Sum, Value
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, TruncDate

from hub.models import Cdr, Role, Session
from hub.services.analytics.period import Period, Perspective

__all__ = ["ChargingFigures", "cdr_figures", "session_figures"]

_ZERO = Decimal("0")
_KWH = Decimal("0.0001")


@dataclass
class ChargingFigures:
    """Counts and kWh in total, per day, per location and per counterpart."""

    source: str  # "cdrs" or "sessions"
    sessions: int = 0
    credits: int = 0
    kwh: Decimal = _ZERO
    per_day: list[dict[str, Any]] = field(default_factory=list)
    per_location: list[dict[str, Any]] = field(default_factory=list)
    per_counterpart: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sessions": self.sessions, "kwh": _kwh(self.kwh)}
        if self.source == "cdrs":
            out["credits"] = self.credits
        out["per_day"] = self.per_day
        out["per_location"] = self.per_location
        out["per_counterpart"] = self.per_counterpart
        return out


def _kwh(value: Decimal | None) -> str:
    return str((value or _ZERO).quantize(_KWH))


def _scoped(queryset: QuerySet[Any], perspective: Perspective) -> QuerySet[Any]:
    party = perspective.party
    if party is None:
        return queryset
    if perspective.role == Role.CPO:
        return queryset.filter(country_code=party.country_code, party_id=party.party_id)
    return queryset.filter(token_country_code=party.country_code, token_party_id=party.party_id)


def _counterpart_fields(perspective: Perspective) -> tuple[str, ...]:
    if perspective.is_hub:
        return ("country_code", "party_id", "token_country_code", "token_party_id")
    if perspective.role == Role.CPO:
        return ("token_country_code", "token_party_id")
    return ("country_code", "party_id")


def _counterpart_row(perspective: Perspective, row: dict[str, Any]) -> dict[str, Any]:
    if perspective.is_hub:
        return {
            "cpo": f"{row['country_code']}*{row['party_id']}",
            "emsp": f"{row['token_country_code']}*{row['token_party_id']}",
        }
    if perspective.role == Role.CPO:
        return {"country_code": row["token_country_code"], "party_id": row["token_party_id"]}
    return {"country_code": row["country_code"], "party_id": row["party_id"]}


def _figures(
    queryset: QuerySet[Any],
    perspective: Perspective,
    period: Period,
    *,
    source: str,
    day_field: str,
    kwh_field: str,
    location: Any,
) -> ChargingFigures:
    kwh_sum = Coalesce(
        Sum(kwh_field, filter=Q(credit=False) if source == "cdrs" else None),
        Value(_ZERO),
        output_field=DecimalField(max_digits=24, decimal_places=4),
    )
    sessions = Count("pk", filter=Q(credit=False)) if source == "cdrs" else Count("pk")
    aggregates: dict[str, Any] = {"sessions": sessions, "kwh": kwh_sum}
    if source == "cdrs":
        aggregates["credits"] = Count("pk", filter=Q(credit=True))
    totals = queryset.aggregate(**aggregates)
    figures = ChargingFigures(
        source=source,
        sessions=totals["sessions"],
        credits=totals.get("credits") or 0,
        kwh=totals["kwh"] or _ZERO,
    )
    by_day = {
        row["day"]: row
        for row in queryset.annotate(day=TruncDate(day_field, tzinfo=UTC))
        .values("day")
        .annotate(sessions=sessions, kwh=kwh_sum)
        .order_by("day")
    }
    # Every day of the period is listed (zero where nothing happened): a chart's axis is the
    # period, not the days that had data.
    figures.per_day = [
        {
            "date": day.isoformat(),
            "sessions": by_day[day]["sessions"] if day in by_day else 0,
            "kwh": _kwh(by_day[day]["kwh"] if day in by_day else _ZERO),
        }
        for day in period.days
    ]
    figures.per_location = [
        {
            "country_code": row["country_code"],
            "party_id": row["party_id"],
            "location_id": row["location"] or "",
            "sessions": row["sessions"],
            "kwh": _kwh(row["kwh"]),
        }
        for row in queryset.annotate(location=location)
        .values("country_code", "party_id", "location")
        .annotate(sessions=sessions, kwh=kwh_sum)
        .order_by("country_code", "party_id", "location")
    ]
    counterpart = _counterpart_fields(perspective)
    figures.per_counterpart = [
        {**_counterpart_row(perspective, row), "sessions": row["sessions"], "kwh": _kwh(row["kwh"])}
        for row in queryset.values(*counterpart)
        .annotate(sessions=sessions, kwh=kwh_sum)
        .order_by(*counterpart)
    ]
    return figures


def cdr_figures(period: Period, perspective: Perspective) -> ChargingFigures:
    """The CDRs whose `end_date_time` lies in the period (see the module docstring)."""
    queryset = _scoped(
        Cdr.objects.filter(end_date_time__gte=period.start, end_date_time__lt=period.end),
        perspective,
    ).order_by()
    return _figures(
        queryset,
        perspective,
        period,
        source="cdrs",
        day_field="end_date_time",
        kwh_field="total_energy",
        # The CPO's own spelling of the id, as in its CDR (CiStrings are compared upper-cased
        # elsewhere; a CDR's location object is stored as received).
        location=KT("data__cdr_location__id"),
    )


def session_figures(period: Period, perspective: Perspective) -> ChargingFigures:
    """The sessions whose `start_date_time` lies in the period (see the module docstring)."""
    queryset = _scoped(
        Session.objects.filter(start_date_time__gte=period.start, start_date_time__lt=period.end),
        perspective,
    ).order_by()
    return _figures(
        queryset,
        perspective,
        period,
        source="sessions",
        day_field="start_date_time",
        kwh_field="kwh",
        location=F("location_id"),
    )
