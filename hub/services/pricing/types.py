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
    """OCPI `Price` (types.asciidoc), both parts always known.

    A `PriceComponent` without `vat` means "no VAT is applicable" (spec, PriceComponent.vat:
    "If omitted, no VAT is applicable"), so its amount including VAT is its amount excluding
    VAT; the TandemDrive reference engine answers the same (its step_size vectors).
    """

    excl_vat: Decimal = ZERO
    incl_vat: Decimal = ZERO

    def __add__(self, other: "Price") -> "Price":
        return Price(self.excl_vat + other.excl_vat, self.incl_vat + other.incl_vat)


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
        # No vat: no VAT applicable, so incl equals excl (not unknown, not 0 % of something).
        incl = excl if self.vat is None else excl * (1 + self.vat / 100)
        # Hours from seconds (x/3600) do not terminate: drop the last digits of the 28-digit
        # context so that 40 minutes at 3.00/h is 2.00, not 2.0000...01.
        return Price(_exact(excl), _exact(incl))


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
