"""The period and the perspective every analytics figure is computed for.

A period is [start, end) in UTC. Callers give its bounds as OCPI DateTimes
(`2025-03-01T00:00:00Z`) or as dates (`2025-03-01`, meaning midnight UTC); the end is
exclusive, as `date_to` is everywhere in OCPI (transport_and_format, Pagination). A period is
at most OCPI_ANALYTICS_MAX_DAYS long: that bounds the work one request can cause.
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from django.conf import settings

from hub.ocpi.datetimes import DateTimeFormatError, format_datetime, parse_datetime, utc_now
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.routing import PartyRef

__all__ = ["HUB", "Perspective", "Period", "period_of"]

HUB = "HUB"


@dataclass(frozen=True)
class Period:
    """[start, end) in UTC."""

    start: datetime
    end: datetime

    @property
    def days(self) -> list[date]:
        """The UTC calendar days the period touches, in order."""
        first = self.start.astimezone(UTC).date()
        last = (self.end - timedelta(microseconds=1)).astimezone(UTC).date()
        return [first + timedelta(days=n) for n in range((last - first).days + 1)]

    def as_json(self) -> dict[str, str]:
        return {"date_from": format_datetime(self.start), "date_to": format_datetime(self.end)}


@dataclass(frozen=True)
class Perspective:
    """Whose figures: a party in one role (CPO: what it issued and operates; EMSP: what its
    tokens were billed and asked), or, with `party` None, the whole hub (staff)."""

    party: PartyRef | None
    role: str = HUB

    @property
    def is_hub(self) -> bool:
        return self.party is None


def _bound(name: str, value: str) -> datetime:
    value = value.strip()
    if len(value) == 10:  # YYYY-MM-DD: midnight UTC of that day
        try:
            return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC)
        except ValueError as exc:
            raise InvalidParametersError(f"{name}: {value!r} is not a date ({exc})") from exc
    try:
        return parse_datetime(value)
    except DateTimeFormatError as exc:
        raise InvalidParametersError(
            f"{name}: {value!r} {exc} (or a date such as 2025-03-01)"
        ) from exc


def period_of(date_from: str | None, date_to: str | None, *, now: datetime | None = None) -> Period:
    """The period [date_from, date_to): each an OCPI DateTime or a date. date_to defaults to
    now and date_from to OCPI_ANALYTICS_DEFAULT_DAYS before date_to. 2001 naming the parameter
    for a malformed bound, an empty period or one longer than OCPI_ANALYTICS_MAX_DAYS."""
    end = _bound("date_to", date_to) if date_to else (now or utc_now())
    if date_from:
        start = _bound("date_from", date_from)
    else:
        try:
            start = end - timedelta(days=settings.OCPI_ANALYTICS_DEFAULT_DAYS)
        except OverflowError as exc:  # date_to in year 1: no default start before it
            raise InvalidParametersError(
                f"date_to: {date_to!r} leaves no default period before it; give date_from"
            ) from exc
    if end <= start:
        raise InvalidParametersError("date_to: must be later than date_from")
    limit = settings.OCPI_ANALYTICS_MAX_DAYS
    if end - start > timedelta(days=limit):
        raise InvalidParametersError(
            f"date_to: the period may be at most {limit} days long (date_from to date_to)"
        )
    return Period(start=start, end=end)
