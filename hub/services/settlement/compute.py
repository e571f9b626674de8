"""A month's settlement in pure Decimal arithmetic: fee lines, totals and net amounts from the
facts of the settled CDRs and the agreement's fee terms. No database: `statement` gathers the
facts and stores the result, so these rules are tested on their own (docs/settlement.md).

Rounding: each line's amount is rounded once, to the minor unit of its currency (ISO 4217:
2 decimals for most, 0 for JPY, 3 for KWD...), with ROUND_HALF_UP: the commercial rounding an
invoice reader expects (2.345 → 2.35). Banker's rounding (ROUND_HALF_EVEN) only pays off when
many roundings are summed; here a line sums its CDRs unrounded and rounds once, so there is
one rounding per line and no bias to cancel. Quantities and CDR totals keep the CDRs' own 4
decimals. Net amounts are sums of rounded lines, so they need no rounding of their own.
"""

import calendar
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal

from hub.models.settlement import PER_CDR_KINDS, FeeKind, FeeParty

ROUNDING = ROUND_HALF_UP
QUANTITY_EXP = Decimal("0.0001")  # the 4 decimals of OCPI numbers and of the stored columns
# ISO 4217 currencies whose minor unit is not 2 decimals (list one, 2024 edition); every
# other code rounds to cents.
MINOR_UNIT_DIGITS: dict[str, int] = {
    **dict.fromkeys(
        (
            "BIF",
            "CLP",
            "DJF",
            "GNF",
            "ISK",
            "JPY",
            "KMF",
            "KRW",
            "PYG",
            "RWF",
            "UGX",
            "UYI",
            "VND",
            "VUV",
            "XAF",
            "XOF",
            "XPF",
        ),
        0,
    ),
    **dict.fromkeys(("BHD", "IQD", "JOD", "KWD", "LYD", "OMR", "TND"), 3),
    **dict.fromkeys(("CLF", "UYW"), 4),
}
PARTIES: tuple[str, ...] = tuple(FeeParty.values)
# Line order on a statement: the kinds in their declared order, then the term, then currency.
KIND_ORDER: dict[str, int] = {kind: i for i, kind in enumerate(FeeKind.values)}


def minor_unit(currency: str) -> Decimal:
    """The quantum of the currency's minor unit: Decimal("0.01") for EUR, ("1") for JPY."""
    return Decimal(1).scaleb(-MINOR_UNIT_DIGITS.get(currency, 2))


def round_money(value: Decimal, currency: str) -> Decimal:
    return value.quantize(minor_unit(currency), rounding=ROUNDING)


def money_text(value: Decimal, currency: str) -> str:
    """An amount spelled in its currency's minor unit ("1.20", not the column's "1.2000")."""
    return format(round_money(value, currency), "f")


def month_days(month: date) -> list[date]:
    """Every day of the month `month` (its first day)."""
    count = calendar.monthrange(month.year, month.month)[1]
    return [month + timedelta(days=i) for i in range(count)]


@dataclass(frozen=True)
class Window:
    """A validity period, both days included; None is open-ended."""

    start: date | None = None
    end: date | None = None

    def contains(self, day: date) -> bool:
        return (self.start is None or self.start <= day) and (self.end is None or day <= self.end)


@dataclass(frozen=True)
class CdrFacts:
    """What settlement reads of one CDR (amounts as the CDR reports them, 4 decimals).
    `charging_hours` is total_time − total_parking_time (2.2.1 mod_cdrs: total_time counts
    charging and not charging). `day` is the UTC date of its end_date_time."""

    key: str
    day: date
    currency: str
    credit: bool
    kwh: Decimal
    charging_hours: Decimal
    cost_excl_vat: Decimal
    cost_incl_vat: Decimal | None

    @property
    def sign(self) -> int:
        """A credit CDR reverses its original: every quantity counts negative."""
        return -1 if self.credit else 1


@dataclass(frozen=True)
class TermFacts:
    id: int
    kind: str
    payer: str
    payee: str
    amount: Decimal
    currency: str
    window: Window = Window()


@dataclass(frozen=True)
class Line:
    term_id: int
    kind: str
    quantity: Decimal
    unit_amount: Decimal
    amount: Decimal
    currency: str
    payer: str
    payee: str
    detail: str


@dataclass
class Computed:
    lines: list[Line] = field(default_factory=list)
    totals: dict[str, object] = field(default_factory=dict)
    net: dict[str, dict[str, str]] = field(default_factory=dict)


def _fmt(value: Decimal) -> str:
    return format(value, "f")


@dataclass
class _Sums:
    cdrs: int = 0
    credits: int = 0
    kwh: Decimal = Decimal(0)
    hours: Decimal = Decimal(0)
    cost: dict[str, Decimal] = field(default_factory=lambda: defaultdict(Decimal))

    @property
    def sessions(self) -> int:
        return self.cdrs - self.credits

    def add(self, cdr: CdrFacts) -> None:
        if cdr.credit:
            self.credits += 1
        else:
            self.cdrs += 1
        # abs(): the spec negates only a credit's total_cost; its energy and time are copies of
        # the original's. The sign comes from `credit`, whatever sign the CPO wrote.
        self.kwh += cdr.sign * abs(cdr.kwh)
        self.hours += cdr.sign * abs(cdr.charging_hours)
        self.cost[cdr.currency] += cdr.sign * abs(cdr.cost_excl_vat)


def _sums(cdrs: Iterable[CdrFacts]) -> _Sums:
    sums = _Sums()
    for cdr in cdrs:
        sums.add(cdr)
    return sums


def _line(term: TermFacts, quantity: Decimal, amount: Decimal, currency: str, detail: str) -> Line:
    return Line(
        term_id=term.id,
        kind=term.kind,
        quantity=quantity,
        unit_amount=term.amount,
        amount=round_money(amount, currency),
        currency=currency,
        payer=term.payer,
        payee=term.payee,
        detail=detail,
    )


def _per_cdr_lines(term: TermFacts, cdrs: Sequence[CdrFacts]) -> list[Line]:
    sums = _sums(c for c in cdrs if term.window.contains(c.day))
    if term.kind == FeeKind.REVENUE_SHARE:
        return [
            _line(
                term,
                cost.quantize(QUANTITY_EXP),
                cost * term.amount / 100,
                currency,
                f"{_fmt(term.amount.normalize())}% of "
                f"{_fmt(cost.quantize(QUANTITY_EXP))} {currency} total_cost excl. VAT",
            )
            for currency, cost in sorted(sums.cost.items())
        ]
    quantity = {
        FeeKind.PER_SESSION: Decimal(sums.sessions),
        FeeKind.PER_KWH: sums.kwh,
        FeeKind.PER_HOUR: sums.hours,
    }[FeeKind(term.kind)].quantize(QUANTITY_EXP)
    unit = {FeeKind.PER_SESSION: "sessions", FeeKind.PER_KWH: "kWh", FeeKind.PER_HOUR: "h"}
    return [
        _line(
            term,
            quantity,
            quantity * term.amount,
            term.currency,
            f"{_fmt(quantity.normalize())} {unit[FeeKind(term.kind)]} × "
            f"{_fmt(term.amount.normalize())} {term.currency}",
        )
    ]


def _monthly_line(term: TermFacts, days: list[date], in_force: list[date]) -> Line:
    """Prorated by days: the month's amount × the days the term was in force / the month's
    days (a whole month's fee when it was in force every day)."""
    count = sum(1 for day in in_force if term.window.contains(day))
    return _line(
        term,
        Decimal(count).quantize(QUANTITY_EXP),
        term.amount * count / len(days),
        term.currency,
        f"{count} of {len(days)} days in force",
    )


def compute_month(
    *,
    month: date,
    agreement: Window,
    has_status_scope: bool,
    terms: Sequence[TermFacts],
    cdrs: Sequence[CdrFacts],
) -> Computed:
    """The month's statement from the settled CDRs (the disputed ones already left out).

    A CDR counts when its day is within the agreement's validity; a per-CDR term counts the
    CDRs within its own validity too. A monthly term is prorated by the days of the month
    within both validities (REALTIME_STATUS_MONTHLY: none unless the agreement has the
    evse_status scope). A term in force on no day of the month gives no line."""
    days = month_days(month)
    in_force = [day for day in days if agreement.contains(day)]
    settled = [c for c in cdrs if agreement.contains(c.day)]
    lines: list[Line] = []
    for term in sorted(terms, key=lambda t: (KIND_ORDER.get(t.kind, 99), t.id)):
        term_days = [day for day in in_force if term.window.contains(day)]
        if not term_days:
            continue
        if term.kind == FeeKind.REALTIME_STATUS_MONTHLY and not has_status_scope:
            continue
        if term.kind in PER_CDR_KINDS:
            lines += _per_cdr_lines(term, settled)
        else:
            lines.append(_monthly_line(term, days, in_force))
    sums = _sums(settled)
    incl: dict[str, Decimal] = defaultdict(Decimal)
    incl_missing = 0
    for cdr in settled:
        if cdr.cost_incl_vat is None:
            incl_missing += 1
        else:
            incl[cdr.currency] += cdr.sign * abs(cdr.cost_incl_vat)
    totals: dict[str, object] = {
        "cdrs": sums.cdrs,
        "credits": sums.credits,
        "sessions": sums.sessions,
        "kwh": _fmt(sums.kwh.quantize(QUANTITY_EXP)),
        "hours": _fmt(sums.hours.quantize(QUANTITY_EXP)),
        "cost": {
            currency: {
                "excl_vat": _fmt(sums.cost[currency].quantize(QUANTITY_EXP)),
                "incl_vat": _fmt(incl[currency].quantize(QUANTITY_EXP)),
            }
            for currency in sorted(sums.cost)
        },
        "incl_vat_missing": incl_missing,
        "outside_agreement": len(cdrs) - len(settled),
        "days_in_force": len(in_force),
    }
    return Computed(lines=lines, totals=totals, net=net_amounts(lines))


def net_amounts(lines: Iterable[Line]) -> dict[str, dict[str, str]]:
    """Per currency, what each of CPO, eMSP and hub receives (positive) or pays (negative)
    over the lines: each currency's three amounts sum to zero."""
    balance: dict[str, dict[str, Decimal]] = {}
    for line in lines:
        party = balance.setdefault(line.currency, dict.fromkeys(PARTIES, Decimal(0)))
        party[line.payee] += line.amount
        party[line.payer] -= line.amount
    return {
        currency: {
            name: _fmt(round_money(amount, currency)) for name, amount in balance[currency].items()
        }
        for currency in sorted(balance)
    }
