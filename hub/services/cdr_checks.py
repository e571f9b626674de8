"""Consistency checks of a CDR beyond its schema (2.2.1 mod_cdrs; HUB-CHECKLIST §8; DESIGN §6).

A CDR that does not add up is still the CPO's bill: the hub stores and delivers it and records
what it found, so reconciliation and staff can see it (the eMSP decides whether to dispute).
Each finding is `{"code": ..., "message": ...}`; the codes are stable (reports group by them).

Numbers are compared as `Decimal` of their JSON spelling. Tolerances (the spec gives none; its
numbers carry 4 decimals): times 1 minute (CPOs round to the minute or second, meters and
session clocks drift by seconds), energy 0.001 kWh (one Wh), money 0.0001 (one unit of the 4th
decimal).
"""

from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.routing import PartyRef

TIME_TOLERANCE_H = Decimal(1) / Decimal(60)
ENERGY_TOLERANCE = Decimal("0.001")
MONEY_TOLERANCE = Decimal("0.0001")
SUB_COSTS = (
    "total_fixed_cost",
    "total_energy_cost",
    "total_time_cost",
    "total_parking_cost",
    "total_reservation_cost",
)
Finding = dict[str, str]
# Every code a finding may carry (stable: admin filters and reconciliation reports group by them).
FINDING_CODES = (
    "COST_SUM",
    "CREDIT_CURRENCY",
    "CREDIT_NOT_NEGATED",
    "CREDIT_OF_CREDIT",
    "CREDIT_REFERENCE_WITHOUT_CREDIT",
    "CREDIT_TOKEN_OWNER",
    "END_BEFORE_START",
    "ENERGY_SUM",
    "INCL_BELOW_EXCL",
    "PARKING_OVER_TOTAL",
    "PARKING_SUM",
    "PERIOD_ORDER",
    "PERIOD_OUTSIDE",
    "TARIFF_CURRENCY",
    "TARIFF_MISSING",
    "TIME_DIMENSIONS_SUM",
    "TOKEN_OWNER_MISMATCH",
    "TOTAL_TIME",
)


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def _when(value: Any) -> datetime | None:
    try:
        return parse_datetime(value) if isinstance(value, str) else None
    except ValueError:
        return None


def _hours(start: datetime, end: datetime) -> Decimal:
    return Decimal(str((end - start).total_seconds())) / Decimal(3600)


def _add(findings: list[Finding], code: str, message: str) -> None:
    findings.append({"code": code, "message": message})


def _dimension_sums(periods: list[dict[str, Any]]) -> dict[str, Decimal]:
    sums: dict[str, Decimal] = {}
    for period in periods:
        for dimension in period.get("dimensions") or []:
            volume = _number(dimension.get("volume"))
            if volume is not None:
                kind = str(dimension.get("type"))
                sums[kind] = sums.get(kind, Decimal(0)) + volume
    return sums


def _check_times(cdr: dict[str, Any], findings: list[Finding]) -> None:
    """end ≥ start; total_time = end − start; periods chronological and inside [start, end]."""
    start, end = _when(cdr.get("start_date_time")), _when(cdr.get("end_date_time"))
    if start is None or end is None:
        return
    if end < start:
        _add(findings, "END_BEFORE_START", "end_date_time is earlier than start_date_time")
        return
    total_time = _number(cdr.get("total_time"))
    duration = _hours(start, end)
    if total_time is not None and abs(total_time - duration) > TIME_TOLERANCE_H:
        _add(
            findings,
            "TOTAL_TIME",
            f"total_time {total_time} h differs from end − start = {duration:.4f} h",
        )
    previous: datetime | None = None
    for index, period in enumerate(cdr.get("charging_periods") or []):
        at = _when(period.get("start_date_time"))
        if at is None:
            continue
        if previous is not None and at < previous:
            _add(
                findings,
                "PERIOD_ORDER",
                f"charging_periods[{index}] starts before the period preceding it",
            )
        if at < start or at > end:
            _add(
                findings,
                "PERIOD_OUTSIDE",
                f"charging_periods[{index}].start_date_time is outside [start, end]",
            )
        previous = at


def _check_quantities(cdr: dict[str, Any], findings: list[Finding]) -> None:
    """Σ ENERGY = total_energy, Σ PARKING_TIME = total_parking_time ≤ total_time."""
    periods = cdr.get("charging_periods") or []
    sums = _dimension_sums(periods)
    total_energy = _number(cdr.get("total_energy"))
    energy = sums.get("ENERGY")
    if (
        energy is not None
        and total_energy is not None
        and abs(energy - total_energy) > ENERGY_TOLERANCE
    ):
        _add(
            findings,
            "ENERGY_SUM",
            f"ENERGY volumes sum to {energy} kWh, total_energy is {total_energy}",
        )
    total_time = _number(cdr.get("total_time"))
    parking = _number(cdr.get("total_parking_time"))
    if "PARKING_TIME" in sums:
        reported = parking if parking is not None else Decimal(0)
        if abs(sums["PARKING_TIME"] - reported) > TIME_TOLERANCE_H:
            _add(
                findings,
                "PARKING_SUM",
                f"PARKING_TIME volumes sum to {sums['PARKING_TIME']} h, total_parking_time "
                f"is {parking}",
            )
    if parking is not None and total_time is not None and parking > total_time:
        _add(
            findings,
            "PARKING_OVER_TOTAL",
            f"total_parking_time {parking} h exceeds total_time {total_time} h",
        )
    time_kinds = ("TIME", "PARKING_TIME", "RESERVATION_TIME")
    if total_time is not None and any(kind in sums for kind in time_kinds):
        timed = sum((sums.get(kind, Decimal(0)) for kind in time_kinds), Decimal(0))
        if abs(timed - total_time) > TIME_TOLERANCE_H:
            _add(
                findings,
                "TIME_DIMENSIONS_SUM",
                f"TIME + PARKING_TIME + RESERVATION_TIME volumes sum to {timed} h, "
                f"total_time is {total_time} h",
            )


def _check_costs(cdr: dict[str, Any], findings: list[Finding]) -> None:
    """Sub-costs add up to total_cost (excl and incl VAT); incl ≥ excl (normal CDRs).

    Credit CDRs are skipped: the spec negates only `total_cost`, so their sub-costs are the
    original's and cannot add up to it.
    """
    if cdr.get("credit"):
        return
    total = cdr.get("total_cost") or {}
    excl, incl = _number(total.get("excl_vat")), _number(total.get("incl_vat"))
    if excl is not None and incl is not None and incl < excl:
        _add(findings, "INCL_BELOW_EXCL", f"total_cost.incl_vat {incl} is below excl_vat {excl}")
    present = [cdr[name] for name in SUB_COSTS if isinstance(cdr.get(name), dict)]
    if not present:
        return
    complete = len(present) == len(SUB_COSTS)
    for part, reported in (("excl_vat", excl), ("incl_vat", incl)):
        values = [_number(price.get(part)) for price in present]
        if reported is None or any(value is None for value in values):
            continue
        summed = sum((value for value in values if value is not None), Decimal(0))
        # All five given: they must add up. Some given: together they cannot exceed the total.
        if (complete and abs(summed - reported) > MONEY_TOLERANCE) or (
            not complete and summed - reported > MONEY_TOLERANCE
        ):
            _add(
                findings,
                "COST_SUM",
                f"sub-costs ({part}) sum to {summed}, total_cost.{part} is {reported}"
                " (a tariff min_price/max_price may explain it)",
            )


def _check_tariffs(cdr: dict[str, Any], findings: list[Finding]) -> None:
    """Tariff currency = CDR currency; every period's tariff_id is among `tariffs`."""
    tariffs = cdr.get("tariffs") or []
    currency = str(cdr.get("currency", "")).upper()
    known = {str(tariff.get("id", "")).upper() for tariff in tariffs}
    for tariff in tariffs:
        if str(tariff.get("currency", "")).upper() != currency:
            _add(
                findings,
                "TARIFF_CURRENCY",
                f"tariff {tariff.get('id')} is in {tariff.get('currency')}, the CDR in "
                f"{cdr.get('currency')}",
            )
    missing = sorted(
        {
            str(period["tariff_id"])
            for period in cdr.get("charging_periods") or []
            if period.get("tariff_id") and str(period["tariff_id"]).upper() not in known
        }
    )
    if missing:
        _add(
            findings,
            "TARIFF_MISSING",
            f"charging_periods refer to tariffs not in the CDR's tariffs: {', '.join(missing)}",
        )


def _check_credit(
    cdr: dict[str, Any], original: dict[str, Any] | None, findings: list[Finding]
) -> None:
    """A credit CDR negates the original's total_cost (mod_cdrs Credit CDRs)."""
    if not cdr.get("credit"):
        if cdr.get("credit_reference_id"):
            _add(
                findings,
                "CREDIT_REFERENCE_WITHOUT_CREDIT",
                "credit_reference_id is set but credit is not true",
            )
        return
    if original is None:
        return
    if original.get("credit"):
        _add(findings, "CREDIT_OF_CREDIT", "the referenced CDR is itself a credit CDR")
    mine, theirs = cdr.get("total_cost") or {}, original.get("total_cost") or {}
    for part in ("excl_vat", "incl_vat"):
        value, original_value = _number(mine.get(part)), _number(theirs.get(part))
        if value is None and original_value is None:
            continue
        if value is None or original_value is None or abs(value + original_value) > MONEY_TOLERANCE:
            _add(
                findings,
                "CREDIT_NOT_NEGATED",
                f"total_cost.{part} {value} is not the negation of the original's {original_value}",
            )
    if str(original.get("currency", "")).upper() != str(cdr.get("currency", "")).upper():
        _add(findings, "CREDIT_CURRENCY", "the credit's currency differs from the original's")
    mine_token, their_token = cdr.get("cdr_token") or {}, original.get("cdr_token") or {}
    if any(
        str(mine_token.get(name, "")).upper() != str(their_token.get(name, "")).upper()
        for name in ("country_code", "party_id")
    ):
        # The credit goes to its own cdr_token owner: another eMSP than the one billed.
        _add(
            findings,
            "CREDIT_TOKEN_OWNER",
            "the credit's cdr_token owner differs from the original's",
        )


def _check_token(
    cdr: dict[str, Any], token_owners: list[PartyRef] | None, findings: list[Finding]
) -> None:
    """The hub's token index: a token it knows must be known as the cdr_token owner's."""
    if token_owners is None:
        return
    token = cdr.get("cdr_token") or {}
    owner = PartyRef.of(str(token.get("country_code", "")), str(token.get("party_id", "")))
    # A token the hub never saw is not a finding: eMSPs need not push tokens to the hub, and
    # tokens arriving through commands or ad hoc payment need not be stored (mod_tokens).
    if token_owners and owner not in token_owners:
        _add(
            findings,
            "TOKEN_OWNER_MISMATCH",
            f"token {token.get('uid')} is known as {', '.join(map(str, token_owners))}'s, the "
            f"CDR names {owner}",
        )


def cdr_findings(
    cdr: dict[str, Any],
    *,
    original: dict[str, Any] | None = None,
    token_owners: list[PartyRef] | None = None,
) -> list[Finding]:
    """Every inconsistency of a schema-valid CDR (HUB-CHECKLIST §8 checks 1–3 and 5–8).

    `original` is the CDR a credit CDR references; `token_owners` the parties the hub's token
    index knows for `cdr_token` (None: not checked).
    """
    findings: list[Finding] = []
    _check_times(cdr, findings)
    _check_quantities(cdr, findings)
    _check_costs(cdr, findings)
    _check_tariffs(cdr, findings)
    _check_credit(cdr, original, findings)
    _check_token(cdr, token_owners, findings)
    return findings
