"""Price a CDR's charging periods against its tariffs (OCPI 2.2.1 `mod_tariffs.asciidoc`
"Tariff Object" element selection, "TariffRestrictions class", `mod_cdrs.asciidoc` "step_size").

Decisions where the spec is silent:
- Restrictions are evaluated at each period's start in the Location's local time (zoneinfo,
  so DST changes inside a session are handled); min/max_kwh and min/max_duration look at the
  energy and time since the first non-reservation period; min_current/min_power compare the
  period's MIN_ value, max_current/max_power its MAX_ value (either one when only one is
  reported); power falls back to the period's average (energy / time); a current restriction
  on a period without current is unevaluable: no match, and an issue.
- Reservation periods (with RESERVATION_TIME) are priced only by reservation elements, other
  periods only by elements without `reservation`; a reservation with no charging period after
  it is an expired one (RESERVATION_EXPIRES elements first).
- A period without any time dimension gets its length as TIME (PARKING_TIME when it reports
  zero energy), with an issue. total_time is end_date_time - start_date_time.
- FLAT is charged once per session (first period where a FLAT component applies), and once
  more for the reservation (reservation elements' FLAT goes to total_reservation_cost).
- step_size, once per session: ENERGY on the total priced energy; for time, the total priced
  PARKING_TIME when any parking is priced, otherwise the total priced TIME (spec examples
  €0.55/€1.30/€0.73, mod_cdrs "only taken into account for the total parking duration");
  reservation TIME on its own. The rounding surplus is billed on the last priced period of
  that dimension, at that period's price, with the step_size of its price component. Time is
  first snapped to whole seconds (CDR hours carry 4 decimals, i.e. 0.36 s of noise).
- A price component without `vat` has no VAT applicable (PriceComponent.vat "If omitted, no
  VAT is applicable"): its incl_vat equals its excl_vat, so every total has a known incl_vat.
- min_price/max_price clamp the total of the periods priced by that tariff, excl and incl VAT
  independently; the sub-totals are not adjusted (mod_cdrs: they then need not add up).
"""

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hub.services.pricing.restrictions import (
    RESERVATION_EXPIRES,
    PeriodContext,
    PricingInputError,
    restrictions_match,
    to_decimal,
)
from hub.services.pricing.types import (
    ZERO,
    Issue,
    PeriodBreakdown,
    Price,
    PricedDimension,
    PricingResult,
)

FLAT, ENERGY, TIME, PARKING_TIME = "FLAT", "ENERGY", "TIME", "PARKING_TIME"
RESERVATION_TIME = "RESERVATION_TIME"
# CdrDimensionType: these SHALL NOT appear in a CDR (mod_cdrs "CdrDimensionType enum").
SESSION_ONLY_DIMENSIONS = frozenset(
    {"CURRENT", "ENERGY_EXPORT", "ENERGY_IMPORT", "POWER", "STATE_OF_CHARGE"}
)
_HOUR = Decimal(3600)
_KWH = Decimal(1000)


def parse_datetime(value: Any, what: str) -> datetime:
    """An OCPI DateTime (UTC, `Z` or no offset) as an aware datetime."""
    if not isinstance(value, str) or not value:
        raise PricingInputError(f"{what} must be a DateTime string, got {value!r}")
    text = value[:-1] + "+00:00" if value.endswith(("Z", "z")) else value
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise PricingInputError(f"{what} is not a valid DateTime: {value!r}") from exc
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def zone(time_zone: str) -> ZoneInfo:
    """The IANA zone of the Location (`Location.time_zone`, e.g. Europe/Amsterdam)."""
    try:
        return ZoneInfo(time_zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise PricingInputError(f"unknown time zone {time_zone!r}") from exc


@dataclass
class _Period:
    start: datetime
    end: datetime
    tariff_id: str | None
    dims: dict[str, Decimal]
    reservation: bool


class _Pricer:
    def __init__(self, cdr: dict[str, Any], tariffs: list[dict[str, Any]], tz: ZoneInfo) -> None:
        self.cdr = cdr
        self.tz = tz
        self.issues: list[Issue] = []
        self._issue_keys: set[tuple[str, str]] = set()
        self.tariffs: dict[str, dict[str, Any]] = {}
        for index, tariff in enumerate(tariffs):
            if not isinstance(tariff, dict) or not isinstance(tariff.get("elements"), list):
                raise PricingInputError(f"tariffs[{index}] must be a Tariff object with elements")
            # Tariff ids are CiString: compared case-insensitively (types.asciidoc CiString).
            self.tariffs[str(tariff.get("id", "")).lower()] = tariff

    def issue(self, code: str, message: str) -> None:
        if (code, message) not in self._issue_keys:
            self._issue_keys.add((code, message))
            self.issues.append(Issue(code, message))

    # -- input ---------------------------------------------------------------------------

    def periods(self) -> list[_Period]:
        start = parse_datetime(self.cdr.get("start_date_time"), "start_date_time")
        end = parse_datetime(self.cdr.get("end_date_time"), "end_date_time")
        if end < start:
            raise PricingInputError("end_date_time is before start_date_time")
        raw = self.cdr.get("charging_periods")
        if not isinstance(raw, list) or not raw:
            raise PricingInputError("charging_periods must be a non-empty list")
        parsed: list[tuple[datetime, dict[str, Any]]] = []
        for i, period in enumerate(raw):
            if not isinstance(period, dict):
                raise PricingInputError(f"charging_periods[{i}] must be an object")
            when = parse_datetime(
                period.get("start_date_time"), f"charging_periods[{i}].start_date_time"
            )
            parsed.append((when, period))
        parsed.sort(key=lambda item: item[0])
        result: list[_Period] = []
        for i, (when, period) in enumerate(parsed):
            until = parsed[i + 1][0] if i + 1 < len(parsed) else max(end, when)
            dims: dict[str, Decimal] = {}
            dimensions = period.get("dimensions")
            if not isinstance(dimensions, list):
                raise PricingInputError(f"charging_periods[{i}].dimensions must be a list")
            for j, dim in enumerate(dimensions):
                if not isinstance(dim, dict) or not isinstance(dim.get("type"), str):
                    raise PricingInputError(
                        f"charging_periods[{i}].dimensions[{j}] must have a type and a volume"
                    )
                kind = dim["type"]
                volume = to_decimal(
                    dim.get("volume"), f"charging_periods[{i}].dimensions[{j}].volume"
                )
                if kind in SESSION_ONLY_DIMENSIONS:
                    self.issue(
                        "session_only_dimension",
                        f"dimension {kind} is Session-only and SHALL NOT appear in a CDR",
                    )
                    continue
                dims[kind] = dims.get(kind, ZERO) + volume
            reservation = RESERVATION_TIME in dims
            if not reservation and not ({TIME, PARKING_TIME} & dims.keys()) and until > when:
                # No time dimension: the period's length is its time, charging when energy
                # flowed, parking when the period reports zero energy.
                hours = Decimal((until - when) // timedelta(microseconds=1)) / (_HOUR * 10**6)
                kind = PARKING_TIME if dims.get(ENERGY) == ZERO else TIME
                dims[kind] = hours
                self.issue(
                    "period_time_inferred",
                    "a charging period has no TIME/PARKING_TIME dimension: "
                    "its duration was taken as " + kind,
                )
            tariff_id = period.get("tariff_id")
            result.append(
                _Period(when, until, str(tariff_id) if tariff_id else None, dims, reservation)
            )
        return result

    def tariff_for(self, period: _Period) -> dict[str, Any] | None:
        if period.tariff_id is not None:
            tariff = self.tariffs.get(period.tariff_id.lower())
            if tariff is None:
                self.issue("unknown_tariff", f"tariff_id {period.tariff_id!r} is not known")
            return tariff
        if len(self.tariffs) == 1:
            return next(iter(self.tariffs.values()))
        if not self.tariffs:
            self.issue("no_tariff", "no tariff to price the charging periods with")
        else:
            self.issue(
                "ambiguous_tariff",
                "a charging period has no tariff_id and the CDR has several tariffs",
            )
        return None

    # -- selection -----------------------------------------------------------------------

    def select(
        self, tariff: dict[str, Any], dimension: str, ctx: PeriodContext
    ) -> tuple[int, dict[str, Any]] | None:
        """The first element, in list order, with a component of that dimension whose
        restrictions match (mod_tariffs "Tariff Object"). For an expired reservation the
        RESERVATION_EXPIRES elements come first (mod_tariffs "ReservationRestrictionType" NOTE).
        """
        elements = list(enumerate(tariff["elements"]))
        if ctx.expired_reservation:
            expires = [e for e in elements if _reservation_of(e[1]) == RESERVATION_EXPIRES]
            others = [e for e in elements if _reservation_of(e[1]) != RESERVATION_EXPIRES]
            elements = expires + others
        for index, element in elements:
            if not isinstance(element, dict):
                raise PricingInputError(f"elements[{index}] must be an object")
            components = element.get("price_components")
            if not isinstance(components, list) or not components:
                raise PricingInputError(f"elements[{index}].price_components must not be empty")
            component = next(
                (c for c in components if isinstance(c, dict) and c.get("type") == dimension),
                None,
            )
            if component is None:
                continue
            ok, unknown = restrictions_match(element.get("restrictions"), ctx)
            for name in sorted(unknown):
                self.issue(
                    "restriction_unevaluable",
                    f"elements[{index}] restriction {name} cannot be evaluated: the period "
                    "does not report it",
                )
            if ok:
                return index, component
        return None

    # -- pricing -------------------------------------------------------------------------

    def run(self) -> PricingResult:
        periods = self.periods()
        cdr_start = parse_datetime(self.cdr["start_date_time"], "start_date_time")
        cdr_end = parse_datetime(self.cdr["end_date_time"], "end_date_time")
        currency = self.cdr.get("currency")
        charging = [p for p in periods if not p.reservation]
        expired = bool(periods) and not charging
        session_start = charging[0].start if charging else cdr_start
        energy_so_far = ZERO
        flat_done = {False: False, True: False}
        breakdown: list[PeriodBreakdown] = []
        owners: list[dict[str, Any] | None] = []
        checked_tariffs: set[int] = set()
        for period in periods:
            tariff = self.tariff_for(period)
            row = PeriodBreakdown(period.start, period.end, period.tariff_id, period.reservation)
            breakdown.append(row)
            owners.append(tariff)
            if tariff is None:
                continue
            if id(tariff) not in checked_tariffs:
                checked_tariffs.add(id(tariff))
                self.check_tariff(tariff, currency, cdr_start)
            ctx = self.context(period, session_start, cdr_start, energy_so_far, expired)
            wanted: Iterable[tuple[str, Decimal]]
            if period.reservation:
                wanted = ((FLAT, Decimal(1)), (TIME, period.dims[RESERVATION_TIME]))
            else:
                wanted = (
                    (FLAT, Decimal(1)),
                    (ENERGY, period.dims.get(ENERGY, ZERO)),
                    (TIME, period.dims.get(TIME, ZERO)),
                    (PARKING_TIME, period.dims.get(PARKING_TIME, ZERO)),
                )
            for dimension, volume in wanted:
                if dimension == FLAT and flat_done[period.reservation]:
                    continue
                if dimension != FLAT and volume == ZERO:
                    continue
                chosen = self.select(tariff, dimension, ctx)
                if chosen is None:
                    continue
                index, component = chosen
                if dimension == FLAT:
                    flat_done[period.reservation] = True
                row.dimensions.append(
                    PricedDimension(
                        type=dimension,
                        volume=volume,
                        billed_volume=volume,
                        unit_price=to_decimal(component.get("price"), "price_components.price"),
                        vat=(
                            None
                            if component.get("vat") is None
                            else to_decimal(component["vat"], "price_components.vat")
                        ),
                        step_size=_step_size(component.get("step_size")),
                        element_index=index,
                        reservation=period.reservation,
                    )
                )
            if not period.reservation:
                energy_so_far += period.dims.get(ENERGY, ZERO)

        self.apply_step_sizes(breakdown)
        return self.totals(breakdown, owners, periods, currency, cdr_start, cdr_end)

    def context(
        self,
        period: _Period,
        session_start: datetime,
        cdr_start: datetime,
        energy_so_far: Decimal,
        expired: bool,
    ) -> PeriodContext:
        dims = period.dims
        since = cdr_start if period.reservation else session_start
        duration = Decimal((period.start - since) // timedelta(microseconds=1)) / 10**6
        min_power = dims.get("MIN_POWER", dims.get("MAX_POWER"))
        max_power = dims.get("MAX_POWER", dims.get("MIN_POWER"))
        if min_power is None and not period.reservation:
            # No power reported: the period's average power, energy over charging time.
            hours = dims.get(TIME, ZERO) + dims.get(PARKING_TIME, ZERO)
            if hours > ZERO:
                min_power = max_power = dims.get(ENERGY, ZERO) / hours
        return PeriodContext(
            local_start=period.start.astimezone(self.tz),
            reservation=period.reservation,
            expired_reservation=expired,
            energy_so_far=energy_so_far,
            duration_so_far=duration,
            min_current=dims.get("MIN_CURRENT", dims.get("MAX_CURRENT")),
            max_current=dims.get("MAX_CURRENT", dims.get("MIN_CURRENT")),
            min_power=min_power,
            max_power=max_power,
        )

    def check_tariff(self, tariff: dict[str, Any], currency: Any, when: datetime) -> None:
        tid = tariff.get("id")
        if currency is not None and tariff.get("currency") != currency:
            self.issue(
                "currency_mismatch",
                f"tariff {tid!r} is in {tariff.get('currency')!r}, the CDR in {currency!r}",
            )
        starts, ends = tariff.get("start_date_time"), tariff.get("end_date_time")
        if (starts and when < parse_datetime(starts, "tariff start_date_time")) or (
            ends and when > parse_datetime(ends, "tariff end_date_time")
        ):
            self.issue(
                "tariff_not_active",
                f"tariff {tid!r} is not valid at the session start {when.isoformat()}",
            )

    def apply_step_sizes(self, breakdown: list[PeriodBreakdown]) -> None:
        """mod_cdrs "step_size": once per session, on the total, with the last component's step."""

        def priced(kind: str, reservation: bool) -> list[PricedDimension]:
            return [
                d
                for row in breakdown
                for d in row.dimensions
                if d.type == kind and d.reservation == reservation
            ]

        _round_up(priced(ENERGY, False), _KWH)
        parking = priced(PARKING_TIME, False)
        # With parking priced, only the total parking duration is rounded (mod_cdrs example
        # "charges 21 minutes ... parking rounded up to 20 minutes"); otherwise charging time.
        _round_up(parking if parking else priced(TIME, False), _HOUR, snap=True)
        _round_up(priced(TIME, True), _HOUR, snap=True)

    def totals(
        self,
        breakdown: list[PeriodBreakdown],
        owners: list[dict[str, Any] | None],
        periods: list[_Period],
        currency: Any,
        cdr_start: datetime,
        cdr_end: datetime,
    ) -> PricingResult:
        energy, time, parking, fixed, reservation = Price(), Price(), Price(), Price(), Price()
        per_tariff: dict[int, tuple[dict[str, Any], Price]] = {}
        for row, tariff in zip(breakdown, owners, strict=True):
            for dim in row.dimensions:
                cost = dim.cost
                if dim.reservation:
                    reservation = reservation + cost
                elif dim.type == FLAT:
                    fixed = fixed + cost
                elif dim.type == ENERGY:
                    energy = energy + cost
                elif dim.type == TIME:
                    time = time + cost
                else:
                    parking = parking + cost
            if tariff is not None:
                sofar = per_tariff[id(tariff)][1] if id(tariff) in per_tariff else Price()
                per_tariff[id(tariff)] = (tariff, sofar + row.cost)
        total = Price()
        for owner, subtotal in per_tariff.values():
            total = total + self.clamp(owner, subtotal)
        charged = [p for p in periods if not p.reservation]
        return PricingResult(
            currency=currency if isinstance(currency, str) else None,
            total_cost=total,
            total_energy_cost=energy,
            total_time_cost=time,
            total_parking_cost=parking,
            total_fixed_cost=fixed,
            total_reservation_cost=reservation,
            total_energy=sum((p.dims.get(ENERGY, ZERO) for p in charged), ZERO),
            total_time=Decimal((cdr_end - cdr_start) // timedelta(microseconds=1))
            / (_HOUR * 10**6),
            total_parking_time=sum((p.dims.get(PARKING_TIME, ZERO) for p in charged), ZERO),
            periods=breakdown,
            issues=self.issues,
        )

    def clamp(self, tariff: dict[str, Any], total: Price) -> Price:
        """min_price/max_price: excl and incl VAT each on their own (mod_tariffs Tariff NOTEs)."""
        excl, incl = total.excl_vat, total.incl_vat
        tid = tariff.get("id")
        for field, is_min in (("min_price", True), ("max_price", False)):
            bound = tariff.get(field)
            if bound is None:
                continue
            if not isinstance(bound, dict):
                raise PricingInputError(f"{field} must be a Price object")
            limit = to_decimal(bound.get("excl_vat"), f"{field}.excl_vat")
            if (excl < limit) if is_min else (excl > limit):
                excl = limit
                self.issue(f"{field}_applied", f"{field} of tariff {tid!r} applied (excl. VAT)")
            if bound.get("incl_vat") is not None:
                limit_incl = to_decimal(bound["incl_vat"], f"{field}.incl_vat")
                if (incl < limit_incl) if is_min else (incl > limit_incl):
                    incl = limit_incl
                    self.issue(f"{field}_applied", f"{field} of tariff {tid!r} applied (incl. VAT)")
        return Price(excl, incl)


def _reservation_of(element: Any) -> Any:
    restrictions = element.get("restrictions") if isinstance(element, dict) else None
    return restrictions.get("reservation") if isinstance(restrictions, dict) else None


def _step_size(value: Any) -> int:
    if value is None:
        return 1
    if isinstance(value, bool) or not isinstance(value, int | Decimal | float):
        raise PricingInputError(f"price_components.step_size must be an integer, got {value!r}")
    step = int(value)
    # step_size 0 (used by the spec's own Free of Charge example) means no rounding.
    return max(step, 1)


def _round_up(priced: list[PricedDimension], unit_steps: Decimal, *, snap: bool = False) -> None:
    """Round the total quantity up to the last component's step_size; bill the surplus on the
    last priced period (mod_tariffs "switching to different Tariff Element" examples).

    `unit_steps`: steps per volume unit (1000 Wh per kWh, 3600 s per hour). `snap`: first
    round the total to the nearest whole step unit. Used for time: CDR hours carry 4 decimals
    (0.36 s resolution), so 0.6667 h means 2400 s, not 2400.12 s to be billed as 2401 s.
    """
    if not priced:
        return
    total = sum((d.volume for d in priced), ZERO) * unit_steps
    if total <= ZERO:
        return
    step = Decimal(priced[-1].step_size)
    base = total.quantize(Decimal(1), rounding=ROUND_HALF_UP) if snap else total
    rounded = (base / step).to_integral_value(rounding=ROUND_CEILING) * step
    priced[-1].billed_volume += (rounded - total) / unit_steps


def price_cdr(cdr: dict[str, Any], tariffs: list[dict[str, Any]], time_zone: str) -> PricingResult:
    """Recompute a CDR's costs from its `charging_periods` and `tariffs`.

    `time_zone` is the Location's IANA zone: restrictions on time of day, dates and weekdays
    are local (mod_tariffs "TariffRestrictions class"). Raises PricingInputError on input that
    cannot be priced; everything priceable but suspicious is reported in `issues`.
    """
    if not isinstance(cdr, dict):
        raise PricingInputError("the CDR must be a JSON object")
    if not isinstance(tariffs, list):
        raise PricingInputError("tariffs must be a list")
    return _Pricer(cdr, tariffs, zone(time_zone)).run()
