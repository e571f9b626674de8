"""Value types of the tariff engine (OCPI 2.2.1 `mod_tariffs.asciidoc`, `mod_cdrs.asciidoc`).

Every amount is a `Decimal` at full precision; rounding for display is the caller's business
(OCPI has no rounding rules, `mod_tariffs` "Tariff Object" NOTE).
"""

from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

ZERO = Decimal(0)
# Amounts are kept to 12 decimals: far beyond OCPI's 4, free of x/3600 residues.
PRECISION = Decimal("1e-12")


@dataclass(frozen=True)
class Price:
    """OCPI `Price` (types.asciidoc): `incl_vat` is None when a part has no VAT defined.

    A `PriceComponent` without `vat` means "no VAT applicable", which differs from 0 % (spec,
    PriceComponent.vat), so the amount including VAT is unknown rather than equal to excl_vat.
    """

    excl_vat: Decimal = ZERO
    incl_vat: Decimal | None = ZERO

    def __add__(self, other: "Price") -> "Price":
        return Price(self.excl_vat + other.excl_vat, _add_incl(self, other))


def _add_incl(a: Price, b: Price) -> Decimal | None:
    # A zero amount is zero whatever its VAT, so a VAT-less zero (the Free of Charge tariff)
    # does not make a total unknown; any other unknown part makes the sum unknown.
    if a.incl_vat is None and a.excl_vat != ZERO:
        return None
    if b.incl_vat is None and b.excl_vat != ZERO:
        return None
    return (a.incl_vat or ZERO) + (b.incl_vat or ZERO)


@dataclass(frozen=True)
class Issue:
    """Something found while pricing: `code` is stable, `message` is for humans."""

    code: str
    message: str


@dataclass
class PricedDimension:
    """One priced dimension of one charging period.

    `volume` is what the CDR reports (kWh or hours; 1 for FLAT); `billed_volume` adds the
    step_size rounding that was attributed to this period (mod_cdrs "step_size").
    """

    type: str
    volume: Decimal
    billed_volume: Decimal
    unit_price: Decimal
    vat: Decimal | None
    step_size: int
    element_index: int
    reservation: bool = False

    @property
    def cost(self) -> Price:
        excl = self.billed_volume * self.unit_price
        incl = None if self.vat is None else excl * (1 + self.vat / 100)
        # Hours from seconds (x/3600) do not terminate: drop the last digits of the 28-digit
        # context so that 40 minutes at 3.00/h is 2.00, not 2.0000...01.
        return Price(_exact(excl), None if incl is None else _exact(incl))


def _exact(amount: Decimal) -> Decimal:
    return amount.quantize(PRECISION, rounding=ROUND_HALF_UP)


@dataclass
class PeriodBreakdown:
    """Pricing of one CDR `ChargingPeriod`."""

    start: datetime
    end: datetime
    tariff_id: str | None
    reservation: bool
    dimensions: list[PricedDimension] = field(default_factory=list)

    @property
    def cost(self) -> Price:
        total = Price()
        for dim in self.dimensions:
            total = total + dim.cost
        return total


@dataclass
class PricingResult:
    """The CDR totals recomputed from its charging periods and tariffs (mod_cdrs CDR object)."""

    currency: str | None
    total_cost: Price
    total_energy_cost: Price
    total_time_cost: Price
    total_parking_cost: Price
    total_fixed_cost: Price
    total_reservation_cost: Price
    total_energy: Decimal
    total_time: Decimal
    total_parking_time: Decimal
    periods: list[PeriodBreakdown]
    issues: list[Issue]
