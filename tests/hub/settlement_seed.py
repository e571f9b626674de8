"""A seeded month for the settlement tests: March 2026 between NL*ABC (CPO) and DE*EMS (eMSP),
eight fee terms, CDRs in EUR and CHF, a credit of a February CDR, two disputed CDRs, and CDRs
that belong to other months or another eMSP. `EXPECTED_*` is the statement worked out by hand
(docs/settlement.md's rules), not by the code under test."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from hub.models import Cdr, FeeTerm, PriceCheck, RoamingAgreement
from tests.factories import (
    CdrFactory,
    FeeTermFactory,
    ReconciliationFindingFactory,
    ReconciliationReportFactory,
    RoamingAgreementFactory,
)

MARCH = date(2026, 3, 1)
# "Now" for the seeded statements: the month is over and reconciled.
AFTER_MARCH = datetime(2026, 4, 2, 5, 0, tzinfo=UTC)


def make_cdr(
    cdr_id: str,
    *,
    end: datetime,
    kwh: str,
    excl: str,
    incl: str | None,
    hours: str = "1",
    parking: str | None = None,
    currency: str = "EUR",
    credit_of: Cdr | None = None,
    emsp: tuple[str, str] = ("DE", "EMS"),
    price_check: str = PriceCheck.MATCH,
) -> Cdr:
    cdr = CdrFactory(
        cdr_id=cdr_id,
        session_id=f"S-{cdr_id}",
        uid=f"uid-{cdr_id}",
        emsp=emsp,
        start=end - timedelta(hours=float(hours)),
        end_date_time=end,
        currency=currency,
        kwh=kwh,
        excl=excl,
        incl=incl,
        total_time=Decimal(hours),
        credit=credit_of is not None,
        credit_of=credit_of,
        price_check=price_check,
    )
    if parking is not None:
        cdr.data["total_parking_time"] = float(parking)
        cdr.save(update_fields=["data"])
    return cdr


@dataclass
class Seed:
    agreement: RoamingAgreement
    terms: dict[str, FeeTerm]
    cdrs: dict[str, Cdr]
    report_id: int


def seed_march() -> Seed:
    agreement = RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2025, 1, 1))
    terms = {
        # Hubject's published roaming fee: EUR 0.40 per session, from the eMSP to the hub.
        "hub_emsp": FeeTermFactory(agreement=agreement, amount=Decimal("0.40")),
        "hub_cpo": FeeTermFactory(agreement=agreement, amount=Decimal("0.15"), payer="CPO"),
        "kwh": FeeTermFactory(
            agreement=agreement, kind="PER_KWH", amount=Decimal("0.0125"), payee="CPO"
        ),
        "hour": FeeTermFactory(
            agreement=agreement, kind="PER_HOUR", amount=Decimal("0.105"), payee="CPO"
        ),
        "share": FeeTermFactory(
            agreement=agreement,
            kind="REVENUE_SHARE",
            amount=Decimal("1.5"),
            currency="",
            payer="CPO",
            payee="HUB",
        ),
        "fixed": FeeTermFactory(
            agreement=agreement, kind="MONTHLY_FIXED", amount=Decimal(50), payer="CPO"
        ),
        "status": FeeTermFactory(
            agreement=agreement,
            kind="REALTIME_STATUS_MONTHLY",
            amount=Decimal(99),
            payer="EMSP",
            payee="CPO",
        ),
        # From the 17th: 15 of March's 31 days.
        "analytics": FeeTermFactory(
            agreement=agreement,
            kind="ANALYTICS_MONTHLY",
            amount=Decimal(20),
            payer="CPO",
            payee="HUB",
            valid_from=date(2026, 3, 17),
        ),
    }

    def at(day: int, hour: int = 12, minute: int = 0) -> datetime:
        return datetime(2026, 3, day, hour, minute, tzinfo=UTC)

    february = make_cdr(
        "C0", end=datetime(2026, 2, 27, 18, 0, tzinfo=UTC), kwh="10", excl="5.00", incl="6.05"
    )
    cdrs = {
        "C0": february,
        "C1": make_cdr(
            "C1", end=at(3), kwh="20.5", excl="10.00", incl="12.10", hours="1.5", parking="0.25"
        ),
        "C2": make_cdr("C2", end=at(9), kwh="33.3333", excl="15.55", incl="18.82", hours="2"),
        "C3": make_cdr(
            "C3",
            end=at(12),
            kwh="11.1111",
            excl="7.33",
            incl="7.89",
            hours="0.75",
            parking="0",
            currency="CHF",
        ),
        "C4": make_cdr(
            "C4",
            end=at(31, 23, 30),
            kwh="40",
            excl="20.00",
            incl="21.54",
            hours="3",
            parking="1",
            currency="CHF",
        ),
        # The credit of February's C0 (all copied, only the cost negated).
        "C5": make_cdr("C5", end=at(14), kwh="10", excl="-5.00", incl="-6.05", credit_of=february),
        # Disputed: mis-priced at ingest.
        "C6": make_cdr(
            "C6", end=at(20), kwh="50", excl="30.00", incl="36.30", price_check=PriceCheck.MISMATCH
        ),
        # Disputed: reconciliation found it a duplicate.
        "C7": make_cdr("C7", end=at(21), kwh="20.5", excl="10.00", incl="12.10"),
        # Not March's: ends at midnight on 1 April (UTC), or bills another eMSP.
        "C8": make_cdr(
            "C8", end=datetime(2026, 4, 1, 0, 0, tzinfo=UTC), kwh="5", excl="2.00", incl="2.42"
        ),
        "C9": make_cdr("C9", end=at(10), kwh="5", excl="2.00", incl="2.42", emsp=("FR", "OTH")),
    }
    # An earlier daily report found C1 mis-priced; March's report, finished later, does not:
    # the later verdict holds. UNPRICEABLE (C2) disputes nothing.
    daily = ReconciliationReportFactory(
        period_start=date(2026, 3, 3),
        period_end=date(2026, 3, 4),
        finished_at=datetime(2026, 3, 4, 3, 0, tzinfo=UTC),
    )
    ReconciliationFindingFactory(
        report=daily,
        kind="MISPRICED",
        cdr=cdrs["C1"],
        cdr_key="NL/ABC/C1",
        message="mis-priced by 1.00",
    )
    month = ReconciliationReportFactory(
        period_start=MARCH,
        period_end=date(2026, 4, 1),
        finished_at=datetime(2026, 4, 1, 4, 0, tzinfo=UTC),
    )
    ReconciliationFindingFactory(
        report=month,
        kind="DUPLICATE",
        cdr=cdrs["C7"],
        cdr_key="NL/ABC/C7",
        message="Same session_id as C1",
    )
    ReconciliationFindingFactory(
        report=month, kind="UNPRICEABLE", cdr=cdrs["C2"], cdr_key="NL/ABC/C2", message="no tariff"
    )
    return Seed(agreement=agreement, terms=terms, cdrs=cdrs, report_id=month.pk)


# (term, kind, quantity, unit amount, amount, currency, payer, payee), in statement order.
EXPECTED_LINES: list[tuple[str, str, str, str, str, str, str, str]] = [
    # 4 CDRs − 1 credit = 3 sessions.
    ("hub_emsp", "PER_SESSION", "3", "0.40", "1.20", "EUR", "EMSP", "HUB"),
    ("hub_cpo", "PER_SESSION", "3", "0.15", "0.45", "EUR", "CPO", "HUB"),
    # 20.5 + 33.3333 + 11.1111 + 40 − 10 = 94.9444 kWh × 0.0125 = 1.186805 → 1.19.
    ("kwh", "PER_KWH", "94.9444", "0.0125", "1.19", "EUR", "EMSP", "CPO"),
    # Charging hours: (1.5 − 0.25) + 2 + 0.75 + (3 − 1) − 1 = 5 h × 0.105 = 0.525 → 0.53
    # (ROUND_HALF_UP; banker's rounding would give 0.52).
    ("hour", "PER_HOUR", "5", "0.105", "0.53", "EUR", "EMSP", "CPO"),
    # 1.5 % of CHF 7.33 + 20.00 = 27.33 → 0.40995 → 0.41; of EUR 10.00 + 15.55 − 5.00 = 20.55
    # → 0.30825 → 0.31.
    ("share", "REVENUE_SHARE", "27.33", "1.5", "0.41", "CHF", "CPO", "HUB"),
    ("share", "REVENUE_SHARE", "20.55", "1.5", "0.31", "EUR", "CPO", "HUB"),
    ("fixed", "MONTHLY_FIXED", "31", "50", "50.00", "EUR", "CPO", "HUB"),
    ("status", "REALTIME_STATUS_MONTHLY", "31", "99", "99.00", "EUR", "EMSP", "CPO"),
    # 20 × 15 / 31 = 9.677… → 9.68.
    ("analytics", "ANALYTICS_MONTHLY", "15", "20", "9.68", "EUR", "CPO", "HUB"),
]
# EUR: hub 1.20 + 0.45 + 0.31 + 50.00 + 9.68 = 61.64; CPO 1.19 + 0.53 + 99.00 − 0.45 − 0.31
# − 50.00 − 9.68 = 40.28; eMSP −(1.20 + 1.19 + 0.53 + 99.00) = −101.92. CHF: the share alone.
EXPECTED_NET = {
    "CHF": {"CPO": "-0.41", "EMSP": "0.00", "HUB": "0.41"},
    "EUR": {"CPO": "40.28", "EMSP": "-101.92", "HUB": "61.64"},
}
EXPECTED_TOTALS = {
    "cdrs": 4,
    "credits": 1,
    "sessions": 3,
    "kwh": "94.9444",
    "hours": "5.0000",
    "cost": {
        "CHF": {"excl_vat": "27.3300", "incl_vat": "29.4300"},
        "EUR": {"excl_vat": "20.5500", "incl_vat": "24.8700"},
    },
    "incl_vat_missing": 0,
    "outside_agreement": 0,
    "days_in_force": 31,
    "disputed": 2,
    "unreconciled": 0,
}
