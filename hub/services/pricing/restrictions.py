"""`TariffRestrictions` matching (OCPI 2.2.1 `mod_tariffs.asciidoc` "TariffRestrictions class").

Restrictions are AND-ed and evaluated per charging period, at the period's start: the CPO SHALL
start a new ChargingPeriod whenever a different price component becomes active (mod_cdrs
"ChargingPeriod"), so the state at the start holds for the whole period.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

RESERVATION = "RESERVATION"
RESERVATION_EXPIRES = "RESERVATION_EXPIRES"

_WEEKDAYS = ("MONDAY", "TUESDAY", "WEDNESDAY", "THURSDAY", "FRIDAY", "SATURDAY", "SUNDAY")


class PricingInputError(ValueError):
    """The CDR or a tariff cannot be priced: the message names the offending field."""


def to_decimal(value: Any, what: str) -> Decimal:
    """A JSON number as a Decimal, through `str` so that floats keep their written digits."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        raise PricingInputError(f"{what} must be a number, got {value!r}")
    try:
        result = Decimal(str(value))
    except ArithmeticError as exc:
        raise PricingInputError(f"{what} must be a number, got {value!r}") from exc
    if not result.is_finite():
        raise PricingInputError(f"{what} must be a finite number, got {value!r}")
    return result


@dataclass(frozen=True)
class PeriodContext:
    """What the restrictions look at, for one charging period (at its start).

    `energy_so_far` (kWh) and `duration_so_far` (seconds) are measured from the start of the
    charging session up to the start of this period: min/max_kwh are about the energy "being
    used" so far and min/max_duration about how long the session has lasted (spec table).
    Current (A, summed over phases) and power (kW) come from the period's MIN/MAX dimensions;
    power falls back to the period's average power; None = unknown.
    """

    local_start: datetime
    reservation: bool
    expired_reservation: bool
    energy_so_far: Decimal
    duration_so_far: Decimal
    min_current: Decimal | None
    max_current: Decimal | None
    min_power: Decimal | None
    max_power: Decimal | None


def _minutes(hhmm: Any, what: str) -> int:
    if not isinstance(hhmm, str) or len(hhmm) != 5 or hhmm[2] != ":":
        raise PricingInputError(f"{what} must be HH:MM, got {hhmm!r}")
    try:
        hours, minutes = int(hhmm[:2]), int(hhmm[3:])
    except ValueError as exc:
        raise PricingInputError(f"{what} must be HH:MM, got {hhmm!r}") from exc
    if not (0 <= hours <= 23 and 0 <= minutes <= 59):
        raise PricingInputError(f"{what} must be HH:MM, got {hhmm!r}")
    return hours * 60 + minutes


def _time_of_day_matches(start: Any, end: Any, local: datetime) -> bool:
    """start_time inclusive, end_time exclusive, wrapping past midnight when end < start;
    an end_time of 00:00 means the end of the day (spec: "To stop at end of the day use: 00:00")."""
    now = local.hour * 60 + local.minute
    lo = _minutes(start, "start_time") if start is not None else 0
    hi = _minutes(end, "end_time") if end is not None else 24 * 60
    if hi == 0:
        hi = 24 * 60
    if lo == hi:
        return True
    if lo < hi:
        return lo <= now < hi
    return now >= lo or now < hi


def _date(value: Any, what: str) -> str:
    if not isinstance(value, str) or len(value) != 10 or value[4] != "-" or value[7] != "-":
        raise PricingInputError(f"{what} must be YYYY-MM-DD, got {value!r}")
    return value


def restrictions_match(
    restrictions: dict[str, Any] | None, ctx: PeriodContext
) -> tuple[bool, set[str]]:
    """Whether an element's restrictions all hold for the period.

    Returns (match, fields that could not be evaluated). An unevaluable restriction (a current
    restriction on a period without current dimensions) does not match: pricing an element the
    CPO conditioned on a measurement we do not have would be a guess.
    """
    r = restrictions or {}
    unknown: set[str] = set()
    reservation = r.get("reservation")
    # Reservation elements price reservation periods only, and normal elements normal periods
    # only (spec "reservation": "the TariffElement describes reservation costs").
    if reservation is None:
        if ctx.reservation:
            return False, unknown
    elif reservation == RESERVATION:
        if not ctx.reservation:
            return False, unknown
    elif reservation == RESERVATION_EXPIRES:
        if not (ctx.reservation and ctx.expired_reservation):
            return False, unknown
    else:
        raise PricingInputError(f"restrictions.reservation: unknown value {reservation!r}")

    local = ctx.local_start
    if ("start_time" in r or "end_time" in r) and not _time_of_day_matches(
        r.get("start_time"), r.get("end_time"), local
    ):
        return False, unknown
    today = local.date().isoformat()
    if r.get("start_date") is not None and today < _date(r["start_date"], "start_date"):
        return False, unknown
    if r.get("end_date") is not None and today >= _date(r["end_date"], "end_date"):
        return False, unknown
    days = r.get("day_of_week")
    if days:
        if not isinstance(days, list) or any(d not in _WEEKDAYS for d in days):
            raise PricingInputError(f"restrictions.day_of_week: invalid {days!r}")
        if _WEEKDAYS[local.weekday()] not in days:
            return False, unknown
    if r.get("min_kwh") is not None and ctx.energy_so_far < to_decimal(r["min_kwh"], "min_kwh"):
        return False, unknown
    if r.get("max_kwh") is not None and ctx.energy_so_far >= to_decimal(r["max_kwh"], "max_kwh"):
        return False, unknown
    if r.get("min_duration") is not None and ctx.duration_so_far < to_decimal(
        r["min_duration"], "min_duration"
    ):
        return False, unknown
    if r.get("max_duration") is not None and ctx.duration_so_far >= to_decimal(
        r["max_duration"], "max_duration"
    ):
        return False, unknown
    # "min_current: active when charging with more than, or equal to" -> compare the lowest
    # current of the period; "max_current: active when charging with less than" -> the highest.
    measured = {
        "min_current": ctx.min_current,
        "max_current": ctx.max_current,
        "min_power": ctx.min_power,
        "max_power": ctx.max_power,
    }
    for name, value in measured.items():
        if r.get(name) is None:
            continue
        if value is None:
            unknown.add(name)
            return False, unknown
        limit = to_decimal(r[name], name)
        if (value < limit) if name.startswith("min_") else (value >= limit):
            return False, unknown
    return True, unknown
