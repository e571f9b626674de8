"""The tariff engine's verdict on a CDR, taken once when the CDR is stored (`Cdr.price_check`,
`Cdr.computed`), so that reconciliation reads it instead of pricing every CDR again.

Why at ingest: a month's reconciliation priced each of its CDRs in Python, which made it ~100×
slower than an SQL aggregate over the same rows (benchmarks S5). A CDR never changes, and the
tariffs that priced it are the ones in force when the CPO sent it, so the verdict taken then is
the one to keep: a tariff the CPO changes a month later must not re-price last month's bills.

What is stored:
- MATCH / MISMATCH with `computed = {"total_cost": {"excl_vat", "incl_vat"}, "tariffs",
  "time_zone", "tolerance"}`: the engine's numbers (to 4 places, as the CDR's), so that
  reconciliation compares them with the tolerance in force when it runs (the badge uses the
  tolerance at ingest, which `tolerance` records).
- UNPRICEABLE with `computed = {"reason": ...}`: the engine could not price it with the
  tariffs it had.
- UNCHECKED (nothing stored) when no tariff is known yet (neither embedded nor stored; the CPO
  may push it after the CDR) or for a credit CDR (it reverses a priced CDR): reconciliation
  prices it when it runs, as before.

Never fails an ingest: a verdict that cannot be taken leaves the CDR UNCHECKED.
"""

import logging
from decimal import Decimal
from typing import Any

from hub.models.cdrs import PriceCheck
from hub.ocpi.routing import PartyRef
from hub.services.pricing.engine import price_cdr
from hub.services.pricing.restrictions import PricingInputError
from hub.services.reconciliation.findings import (
    ReconciliationError,
    fmt_decimal,
    price_tolerance,
    tariffs_named_by,
    time_zone_of,
)

logger = logging.getLogger(__name__)

Verdict = tuple[str, dict[str, Any] | None]


def _within(computed: Decimal | None, reported: Decimal | None, tolerance: Decimal) -> bool:
    return computed is None or reported is None or abs(computed - reported) <= tolerance


def ingest_verdict(
    party: PartyRef,
    document: dict[str, Any],
    reported_excl: Decimal,
    reported_incl: Decimal | None,
) -> Verdict:
    """(price_check, computed) for a validated CDR document of `party` (a CPO)."""
    if document.get("credit"):
        return PriceCheck.UNCHECKED, None
    embedded = document.get("tariffs")
    source = "embedded" if isinstance(embedded, list) and embedded else "stored"
    tariffs = tariffs_named_by(party, document)
    if not tariffs:
        return PriceCheck.UNCHECKED, None
    zone = time_zone_of(document)
    try:
        result = price_cdr(document, tariffs, zone)
    except (PricingInputError, ValueError, KeyError, TypeError, ArithmeticError) as exc:
        reason = f"the tariff engine could not price it: {exc}"
        return PriceCheck.UNPRICEABLE, {"reason": reason, "tariffs": source, "time_zone": zone}
    # Judged as reconciliation judges the stored numbers: rounded to the 4 places they keep.
    excl = _rounded(result.total_cost.excl_vat)
    incl = _rounded(result.total_cost.incl_vat)
    computed: dict[str, Any] = {
        "total_cost": {
            "excl_vat": fmt_decimal(excl) if excl is not None else None,
            "incl_vat": fmt_decimal(incl) if incl is not None else None,
        },
        "tariffs": source,
        "time_zone": zone,
    }
    try:
        tolerance = price_tolerance(party)
    except ReconciliationError:
        logger.warning("price tolerance misconfigured: %s's CDR numbers stored unjudged", party)
        return PriceCheck.UNCHECKED, computed
    # The tolerance of the verdict: a reconciliation under the same one can trust a MATCH
    # without reading the CDR (reconciliation.suspects); under another it compares again.
    computed["tolerance"] = str(tolerance)
    same = _within(excl, reported_excl, tolerance) and _within(incl, reported_incl, tolerance)
    return (PriceCheck.MATCH if same else PriceCheck.MISMATCH), computed


def _rounded(value: Decimal | None) -> Decimal | None:
    return None if value is None else Decimal(fmt_decimal(value))
