"""Factories for fee terms and settlement statements with their lines."""

from datetime import UTC, date, datetime
from decimal import Decimal

import factory

from hub.models import (
    FeeKind,
    FeeParty,
    FeeTerm,
    SettlementLine,
    SettlementStatement,
    StatementStatus,
)
from tests.factories.agreements import RoamingAgreementFactory
from tests.factories.base import HubModelFactory


class FeeTermFactory(HubModelFactory[FeeTerm]):
    """The eMSP pays the hub EUR 0.40 per session (Hubject's published roaming fee)."""

    class Meta:
        model = FeeTerm

    agreement = factory.SubFactory(RoamingAgreementFactory, cpo_party_id="ABC")
    kind = FeeKind.PER_SESSION
    payer = FeeParty.EMSP
    payee = FeeParty.HUB
    amount = Decimal("0.40")
    currency = "EUR"


class SettlementStatementFactory(HubModelFactory[SettlementStatement]):
    class Meta:
        model = SettlementStatement

    agreement = factory.SubFactory(RoamingAgreementFactory, cpo_party_id="ABC")
    period = date(2025, 3, 1)
    status = StatementStatus.RECONCILED
    computed_at = datetime(2025, 4, 2, 5, 0, tzinfo=UTC)
    totals = factory.LazyFunction(dict)
    net = factory.LazyFunction(dict)
    disputed = factory.LazyFunction(list)


class SettlementLineFactory(HubModelFactory[SettlementLine]):
    class Meta:
        model = SettlementLine

    statement = factory.SubFactory(SettlementStatementFactory)
    fee_term = None
    kind = FeeKind.PER_SESSION
    quantity = Decimal(3)
    unit_amount = Decimal("0.40")
    amount = Decimal("1.20")
    currency = "EUR"
    payer = FeeParty.EMSP
    payee = FeeParty.HUB
    detail = "3 sessions × 0.4 EUR"
