"""The tariff engine on cases of our own: every restriction and dimension, local time across
midnight and DST, VAT absent vs 0 %, min/max price, reservations, issues and bad input
(OCPI 2.2.1 mod_tariffs "TariffRestrictions class", mod_cdrs "step_size")."""

from datetime import datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pytest

from hub.services.pricing import PricingInputError, PricingResult, price_cdr

AMS = "Europe/Amsterdam"


def d(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)


def cdr(periods: list[tuple[str, dict[str, Any]]], end: str, **extra: Any) -> dict[str, Any]:
    """periods: (UTC start "YYYY-MM-DDTHH:MM", {dimension: volume, "tariff_id": ...})."""
    charging = []
    for start, dims in periods:
        dims = dict(dims)
        period: dict[str, Any] = {"start_date_time": start + ":00Z"}
        if "tariff_id" in dims:
            period["tariff_id"] = dims.pop("tariff_id")
        period["dimensions"] = [{"type": k, "volume": v} for k, v in dims.items()]
        charging.append(period)
    return {
        "start_date_time": periods[0][0] + ":00Z",
        "end_date_time": end + ":00Z",
        "currency": "EUR",
        "charging_periods": charging,
        **extra,
    }


def tariff(*elements: dict[str, Any], tid: str = "T1", **extra: Any) -> dict[str, Any]:
    return {"id": tid, "currency": "EUR", "elements": list(elements), **extra}


def el(*components: dict[str, Any], **restrictions: Any) -> dict[str, Any]:
    element: dict[str, Any] = {"price_components": list(components)}
    if restrictions:
        element["restrictions"] = restrictions
    return element


def pc(kind: str, price: float, vat: float | None = None, step: int = 1) -> dict[str, Any]:
    component: dict[str, Any] = {"type": kind, "price": price, "step_size": step}
    if vat is not None:
        component["vat"] = vat
    return component


def excl(result: PricingResult) -> Decimal | None:
    return d(result.total_cost.excl_vat)


def codes(result: PricingResult) -> list[str]:
    return [i.code for i in result.issues]


def hourly(start: str, count: int, **dims: Any) -> list[tuple[str, dict[str, Any]]]:
    first = datetime.fromisoformat(start)
    return [
        ((first + timedelta(hours=i)).strftime("%Y-%m-%dT%H:%M"), dict(dims)) for i in range(count)
    ]


# -- time of day, dates, weekdays (local time) ---------------------------------------------


def test_time_of_day_wraps_past_midnight_in_local_time() -> None:
    night = tariff(
        el(pc("ENERGY", 0.10), start_time="22:00", end_time="06:00"), el(pc("ENERGY", 0.30))
    )
    # 20:00 UTC = 21:00 CET ... 05:00 UTC = 06:00 CET (end exclusive)
    periods = hourly("2026-01-12T20:00", 10, ENERGY=1, TIME=1)
    result = price_cdr(cdr(periods, "2026-01-13T06:00"), [night], AMS)
    prices = [p.dimensions[0].unit_price for p in result.periods]
    assert prices == [Decimal("0.3")] + [Decimal("0.1")] * 8 + [Decimal("0.3")]
    assert excl(result) == Decimal("1.4000")


def test_end_time_midnight_means_end_of_day() -> None:
    evening = tariff(el(pc("ENERGY", 1), start_time="23:00", end_time="00:00"), el(pc("ENERGY", 0)))
    periods = [
        ("2026-01-12T21:59", {"ENERGY": 1}),
        ("2026-01-12T22:00", {"ENERGY": 2}),
        ("2026-01-12T23:00", {"ENERGY": 4}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T23:30"), [evening], AMS)
    assert excl(result) == Decimal("2.0000")  # only 23:00-00:00 local


def test_dst_spring_forward_inside_the_session() -> None:
    """Amsterdam 2026-03-29 02:00 CET -> 03:00 CEST: 01:00 UTC is 03:00 local, not 02:00."""
    t = tariff(el(pc("ENERGY", 0.50), start_time="03:00", end_time="04:00"), el(pc("ENERGY", 0.10)))
    periods = [
        ("2026-03-29T00:30", {"ENERGY": 1}),
        ("2026-03-29T01:00", {"ENERGY": 1}),
        ("2026-03-29T02:00", {"ENERGY": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-03-29T02:30"), [t], AMS)
    assert [p.dimensions[0].unit_price for p in result.periods] == [
        Decimal("0.1"),
        Decimal("0.5"),
        Decimal("0.1"),
    ]
    assert excl(result) == Decimal("0.7000")
    assert result.total_time == Decimal(2)  # durations are in UTC: 2 real hours


def test_dst_fall_back_inside_the_session() -> None:
    """Amsterdam 2026-10-25 03:00 CEST -> 02:00 CET: 01:30 UTC is 02:30 local (again)."""
    t = tariff(el(pc("ENERGY", 0.50), start_time="03:00", end_time="04:00"), el(pc("ENERGY", 0.10)))
    periods = [
        ("2026-10-25T00:30", {"ENERGY": 1}),
        ("2026-10-25T01:30", {"ENERGY": 1}),
        ("2026-10-25T02:00", {"ENERGY": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-10-25T02:30"), [t], AMS)
    assert [p.dimensions[0].unit_price for p in result.periods] == [
        Decimal("0.1"),
        Decimal("0.1"),
        Decimal("0.5"),
    ]


def test_start_date_inclusive_end_date_exclusive_local() -> None:
    t = tariff(
        el(pc("ENERGY", 0.50), start_date="2026-03-01", end_date="2026-03-02"),
        el(pc("ENERGY", 0.10)),
    )
    # 2026-02-28 23:30 UTC is already March 1st in Amsterdam; 2026-03-01 23:00 UTC is March 2nd.
    periods = [
        ("2026-02-28T22:30", {"ENERGY": 1}),
        ("2026-02-28T23:30", {"ENERGY": 1}),
        ("2026-03-01T23:00", {"ENERGY": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-03-01T23:30"), [t], AMS)
    assert [p.dimensions[0].unit_price for p in result.periods] == [
        Decimal("0.1"),
        Decimal("0.5"),
        Decimal("0.1"),
    ]


def test_day_of_week_is_local() -> None:
    t = tariff(el(pc("ENERGY", 0.50), day_of_week=["SUNDAY"]), el(pc("ENERGY", 0.10)))
    # Saturday 2026-01-17 23:30 UTC = Sunday 00:30 in Amsterdam
    periods = [("2026-01-17T22:30", {"ENERGY": 1}), ("2026-01-17T23:30", {"ENERGY": 1})]
    result = price_cdr(cdr(periods, "2026-01-18T00:00"), [t], AMS)
    assert excl(result) == Decimal("0.6000")


# -- energy, duration, current, power ------------------------------------------------------


def test_min_max_kwh_use_the_energy_charged_so_far() -> None:
    t = tariff(
        el(pc("ENERGY", 0.10), max_kwh=10),
        el(pc("ENERGY", 0.20), min_kwh=10, max_kwh=20),
        el(pc("ENERGY", 0.30)),
    )
    periods = hourly("2026-01-12T10:00", 3, ENERGY=10, TIME=1)
    periods[2][1]["ENERGY"] = 5
    result = price_cdr(cdr(periods, "2026-01-12T13:00"), [t], AMS)
    assert excl(result) == Decimal("4.5000")  # 10 x .1 + 10 x .2 + 5 x .3


def test_min_max_duration_from_the_session_start() -> None:
    t = tariff(
        el(pc("PARKING_TIME", 10), min_duration=7200),
        el(pc("PARKING_TIME", 1)),
        el(pc("TIME", 2), max_duration=3600),
    )
    periods = [
        ("2026-01-12T10:00", {"ENERGY": 5, "TIME": 1}),
        ("2026-01-12T11:00", {"PARKING_TIME": 1}),
        ("2026-01-12T12:00", {"PARKING_TIME": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T13:00"), [t], AMS)
    assert d(result.total_time_cost.excl_vat) == Decimal("2.0000")
    assert d(result.total_parking_cost.excl_vat) == Decimal("11.0000")
    assert result.total_parking_time == Decimal(2)
    assert result.total_time == Decimal(3)


def test_min_max_current_from_period_dimensions() -> None:
    t = tariff(el(pc("TIME", 1), max_current=32), el(pc("TIME", 3), min_current=32))
    periods = [
        ("2026-01-12T10:00", {"TIME": 1, "MAX_CURRENT": 16}),
        ("2026-01-12T11:00", {"TIME": 1, "MIN_CURRENT": 32, "MAX_CURRENT": 48}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T12:00"), [t], AMS)
    assert excl(result) == Decimal("4.0000")
    assert result.issues == []


def test_current_restriction_without_current_dimension_falls_through_with_an_issue() -> None:
    t = tariff(el(pc("TIME", 1), max_current=32), el(pc("TIME", 3)))
    result = price_cdr(cdr([("2026-01-12T10:00", {"TIME": 1})], "2026-01-12T11:00"), [t], AMS)
    assert excl(result) == Decimal("3.0000")
    assert codes(result) == ["restriction_unevaluable"]


def test_min_power_from_dimension_and_derived() -> None:
    t = tariff(el(pc("ENERGY", 0.50), min_power=50), el(pc("ENERGY", 0.30)))
    reported = [("2026-01-12T10:00", {"ENERGY": 10, "TIME": 1, "MIN_POWER": 60})]
    assert excl(price_cdr(cdr(reported, "2026-01-12T11:00"), [t], AMS)) == Decimal("5.0000")
    derived = [
        ("2026-01-12T10:00", {"ENERGY": 25, "TIME": 0.5}),
        ("2026-01-12T10:30", {"ENERGY": 20, "TIME": 0.5}),
    ]
    # 50 kW average (>= 50, inclusive) then 40 kW
    assert excl(price_cdr(cdr(derived, "2026-01-12T11:00"), [t], AMS)) == Decimal("18.5000")


# -- FLAT, step_size, VAT, min/max price ---------------------------------------------------


def test_flat_is_charged_once_per_session() -> None:
    t = tariff(el(pc("FLAT", 1.5, 21), pc("ENERGY", 0.2, 21)))
    periods = hourly("2026-01-12T10:00", 3, ENERGY=1, TIME=1)
    result = price_cdr(cdr(periods, "2026-01-12T13:00"), [t], AMS)
    assert d(result.total_fixed_cost.excl_vat) == Decimal("1.5000")
    assert [dim.type for dim in result.periods[0].dimensions] == ["FLAT", "ENERGY"]
    assert d(result.total_cost.incl_vat) == Decimal("2.5410")  # (1.5 + 0.6) x 1.21


def test_energy_step_rounds_the_total_not_each_period() -> None:
    t = tariff(el(pc("ENERGY", 1, step=1000)))
    periods = hourly("2026-01-12T10:00", 3, ENERGY=0.4, TIME=1)
    result = price_cdr(cdr(periods, "2026-01-12T13:00"), [t], AMS)
    assert excl(result) == Decimal("2.0000")  # 1.2 kWh -> 2 kWh, not 3 x 1 kWh
    assert result.periods[-1].dimensions[0].billed_volume == Decimal("1.2")


def test_vat_absent_means_no_vat_applicable() -> None:
    # PriceComponent.vat: "If omitted, no VAT is applicable": incl_vat equals excl_vat for that
    # part (the same as 0 % for the amount), never unknown.
    zero = tariff(el(pc("ENERGY", 0.25, vat=0)))
    none = tariff(el(pc("ENERGY", 0.25)))
    mixed = tariff(el(pc("FLAT", 0.5, vat=20), pc("ENERGY", 0.25)))
    periods = [("2026-01-12T10:00", {"ENERGY": 4, "TIME": 1})]
    r_zero = price_cdr(cdr(periods, "2026-01-12T11:00"), [zero], AMS)
    r_none = price_cdr(cdr(periods, "2026-01-12T11:00"), [none], AMS)
    r_mixed = price_cdr(cdr(periods, "2026-01-12T11:00"), [mixed], AMS)
    assert (d(r_zero.total_cost.excl_vat), d(r_zero.total_cost.incl_vat)) == (
        Decimal("1.0000"),
        Decimal("1.0000"),
    )
    assert (d(r_none.total_cost.excl_vat), d(r_none.total_cost.incl_vat)) == (
        Decimal("1.0000"),
        Decimal("1.0000"),
    )
    assert d(r_mixed.total_fixed_cost.incl_vat) == Decimal("0.6000")
    assert d(r_mixed.total_energy_cost.incl_vat) == Decimal("1.0000")
    assert d(r_mixed.total_cost.incl_vat) == Decimal("1.6000")  # 0.5 x 1.2 + 1.0


def test_free_tariff_without_vat_costs_zero_incl_vat() -> None:
    free = tariff(el(pc("FLAT", 0, step=0)))
    result = price_cdr(
        cdr([("2026-01-12T10:00", {"ENERGY": 3, "TIME": 1})], "2026-01-12T11:00"), [free], AMS
    )
    assert (result.total_cost.excl_vat, result.total_cost.incl_vat) == (Decimal(0), Decimal(0))


def test_min_and_max_price_apply_to_excl_and_incl_independently() -> None:
    periods = [("2026-01-12T10:00", {"ENERGY": 10, "TIME": 1})]
    # 10 kWh x 1.00 = 10.00 excl / 12.00 incl; max 11 excl / 11.50 incl: only incl is capped
    capped = tariff(el(pc("ENERGY", 1, vat=20)), max_price={"excl_vat": 11, "incl_vat": 11.5})
    result = price_cdr(cdr(periods, "2026-01-12T11:00"), [capped], AMS)
    assert (d(result.total_cost.excl_vat), d(result.total_cost.incl_vat)) == (
        Decimal("10.0000"),
        Decimal("11.5000"),
    )
    assert d(result.total_energy_cost.incl_vat) == Decimal("12.0000")  # sub-totals untouched
    assert codes(result) == ["max_price_applied"]
    # min_price without incl_vat: excl raised, incl left as computed
    floor = tariff(el(pc("ENERGY", 1, vat=20)), min_price={"excl_vat": 15})
    result = price_cdr(cdr(periods, "2026-01-12T11:00"), [floor], AMS)
    assert (d(result.total_cost.excl_vat), d(result.total_cost.incl_vat)) == (
        Decimal("15.0000"),
        Decimal("12.0000"),
    )


def test_min_max_price_per_tariff_with_two_tariffs() -> None:
    a = tariff(el(pc("ENERGY", 1)), tid="A", min_price={"excl_vat": 5})
    b = tariff(el(pc("ENERGY", 2)), tid="B")
    periods = [
        ("2026-01-12T10:00", {"ENERGY": 1, "TIME": 1, "tariff_id": "a"}),
        ("2026-01-12T11:00", {"ENERGY": 1, "TIME": 1, "tariff_id": "B"}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T12:00"), [a, b], AMS)
    assert excl(result) == Decimal("7.0000")  # A raised to 5, plus B's 2; ids are CiStrings


# -- reservations --------------------------------------------------------------------------


def test_reservation_elements_only_price_reservation_periods() -> None:
    t = tariff(
        el(pc("FLAT", 1), pc("TIME", 6), reservation="RESERVATION"),
        el(pc("FLAT", 0.5), pc("TIME", 2)),
    )
    periods = [
        ("2026-01-12T10:00", {"RESERVATION_TIME": 0.5}),
        ("2026-01-12T10:30", {"ENERGY": 5, "TIME": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T11:30"), [t], AMS)
    assert d(result.total_reservation_cost.excl_vat) == Decimal("4.0000")  # 1 + 0.5 h x 6
    assert d(result.total_fixed_cost.excl_vat) == Decimal("0.5000")
    assert d(result.total_time_cost.excl_vat) == Decimal("2.0000")
    assert result.total_energy == Decimal(5)


def test_reservation_without_reservation_elements_is_free() -> None:
    t = tariff(el(pc("TIME", 2)))
    periods = [
        ("2026-01-12T10:00", {"RESERVATION_TIME": 0.5}),
        ("2026-01-12T10:30", {"ENERGY": 5, "TIME": 1}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T11:30"), [t], AMS)
    assert excl(result) == Decimal("2.0000")


# -- issues and bad input ------------------------------------------------------------------


def test_issues_currency_unknown_tariff_session_only_dimension() -> None:
    t = tariff(el(pc("ENERGY", 1)), currency="USD")
    periods = [
        ("2026-01-12T10:00", {"ENERGY": 1, "TIME": 1, "STATE_OF_CHARGE": 80, "tariff_id": "T1"}),
        ("2026-01-12T11:00", {"ENERGY": 1, "TIME": 1, "tariff_id": "nope"}),
    ]
    result = price_cdr(cdr(periods, "2026-01-12T12:00"), [t], AMS)
    assert excl(result) == Decimal("1.0000")
    assert sorted(codes(result)) == [
        "currency_mismatch",
        "session_only_dimension",
        "unknown_tariff",
    ]


def test_issues_ambiguous_tariff_and_inferred_time_and_inactive_tariff() -> None:
    a, b = (
        tariff(el(pc("TIME", 1)), tid="A", end_date_time="2020-01-01T00:00:00Z"),
        tariff(el(pc("TIME", 1)), tid="B"),
    )
    result = price_cdr(cdr([("2026-01-12T10:00", {"ENERGY": 1})], "2026-01-12T11:00"), [a, b], AMS)
    assert excl(result) == Decimal(0)
    assert "ambiguous_tariff" in codes(result)
    result = price_cdr(
        cdr([("2026-01-12T10:00", {"ENERGY": 1, "tariff_id": "A"})], "2026-01-12T11:00"),
        [a, b],
        AMS,
    )
    assert excl(result) == Decimal("1.0000")  # the period's hour, inferred as charging time
    assert sorted(codes(result)) == ["period_time_inferred", "tariff_not_active"]


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda c: c.pop("start_date_time"), "start_date_time"),
        (lambda c: c.update(charging_periods=[]), "charging_periods"),
        (lambda c: c["charging_periods"][0]["dimensions"][0].update(volume="x"), "volume"),
        (lambda c: c.update(end_date_time="2026-01-12T09:00:00Z"), "before"),
    ],
)
def test_bad_cdr_is_refused_naming_the_field(mutate: Any, message: str) -> None:
    bad = cdr([("2026-01-12T10:00", {"ENERGY": 1, "TIME": 1})], "2026-01-12T11:00")
    mutate(bad)
    with pytest.raises(PricingInputError, match=message):
        price_cdr(bad, [tariff(el(pc("ENERGY", 1)))], AMS)


def test_bad_tariff_and_time_zone_are_refused() -> None:
    ok = cdr([("2026-01-12T10:00", {"ENERGY": 1, "TIME": 1})], "2026-01-12T11:00")
    with pytest.raises(PricingInputError, match="start_time"):
        price_cdr(ok, [tariff(el(pc("ENERGY", 1), start_time="25:00"))], AMS)
    with pytest.raises(PricingInputError, match="time zone"):
        price_cdr(ok, [tariff(el(pc("ENERGY", 1)))], "Mars/Olympus")


def test_time_volumes_with_four_decimals_are_billed_in_whole_seconds() -> None:
    """0.6667 h is 40 minutes as a CDR writes it: billed 2400 s, not ceil(2400.12 s) = 2401 s."""
    t = tariff(el(pc("TIME", 3)))
    result = price_cdr(cdr([("2026-01-12T10:00", {"TIME": 0.6667})], "2026-01-12T10:40"), [t], AMS)
    assert result.total_cost.excl_vat == Decimal(2)
    # a genuine 1.5 s over a step of 60 s still counts as a whole step
    t = tariff(el(pc("TIME", 3.6, step=60)))
    result = price_cdr(cdr([("2026-01-12T10:00", {"TIME": 0.0005})], "2026-01-12T10:01"), [t], AMS)
    assert result.total_cost.excl_vat == Decimal("0.06")


def test_expired_reservation_prefers_reservation_expires_whatever_the_order() -> None:
    """mod_tariffs ReservationRestrictionType NOTE: TIME of an expired reservation comes from
    the RESERVATION_EXPIRES element even when the RESERVATION element is listed first."""
    t = tariff(
        el(pc("TIME", 3), reservation="RESERVATION"),
        el(pc("TIME", 6), reservation="RESERVATION_EXPIRES"),
    )
    expired = cdr([("2026-01-12T10:00", {"RESERVATION_TIME": 1})], "2026-01-12T11:00")
    assert excl(price_cdr(expired, [t], AMS)) == Decimal("6.0000")
    used = cdr(
        [("2026-01-12T10:00", {"RESERVATION_TIME": 1}), ("2026-01-12T11:00", {"TIME": 1})],
        "2026-01-12T12:00",
    )
    assert excl(price_cdr(used, [t], AMS)) == Decimal("3.0000")


def test_max_power_is_exclusive_and_uses_the_highest_power() -> None:
    t = tariff(el(pc("ENERGY", 0.2), max_power=16), el(pc("ENERGY", 0.5)))
    periods = [
        ("2026-01-12T10:00", {"ENERGY": 1, "TIME": 0.5, "MIN_POWER": 2, "MAX_POWER": 16}),
        ("2026-01-12T10:30", {"ENERGY": 1, "TIME": 0.5, "MAX_POWER": 15.9}),
    ]
    assert excl(price_cdr(cdr(periods, "2026-01-12T11:00"), [t], AMS)) == Decimal("0.7000")
