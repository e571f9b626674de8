"""The OCPI 2.2.1 tariff engine: recompute a CDR's totals from its charging periods and tariffs
(`mod_tariffs.asciidoc`, `mod_cdrs.asciidoc` "step_size"; HUB-CHECKLIST §6.4, §8).

Entry point: `price_cdr(cdr, tariffs, time_zone) -> PricingResult`. Decisions where the spec
is silent are listed in `engine`'s docstring.
"""

from hub.services.pricing.engine import SESSION_ONLY_DIMENSIONS, parse_datetime, price_cdr
from hub.services.pricing.restrictions import PricingInputError
from hub.services.pricing.types import (
    Issue,
    PeriodBreakdown,
    Price,
    PricedDimension,
    PricingResult,
)

__all__ = [
    "SESSION_ONLY_DIMENSIONS",
    "Issue",
    "PeriodBreakdown",
    "Price",
    "PricedDimension",
    "PricingInputError",
    "PricingResult",
    "parse_datetime",
    "price_cdr",
]
