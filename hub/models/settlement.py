"""Fee terms of a roaming agreement and the monthly settlement statements computed from them
(DESIGN §6b; docs/settlement.md says who pays whom, the rounding and what is disputed)."""

import re
from decimal import Decimal
from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q

from hub.models.agreements import RoamingAgreement

# ISO 4217 alphabetic code: three upper-case letters (the same rule as the CDR schema's
# currency field, hub.schemas.locations.CurrencyField).
CURRENCY_RE = re.compile(r"^[A-Z]{3}$")
PERCENT_MAX = Decimal(100)


class FeeKind(models.TextChoices):
    """How a fee term's amount is counted (docs/settlement.md, "Fee kinds")."""

    PER_SESSION = "PER_SESSION", "per session (CDR)"
    PER_KWH = "PER_KWH", "per kWh"
    # Charging hours: the CDR's total_time minus its total_parking_time (2.2.1 mod_cdrs).
    PER_HOUR = "PER_HOUR", "per charging hour"
    # Percent of the CDRs' total_cost excl. VAT, in each CDR's currency.
    REVENUE_SHARE = "REVENUE_SHARE", "revenue share (% of total_cost excl. VAT)"
    MONTHLY_FIXED = "MONTHLY_FIXED", "fixed monthly"
    # Live EVSE status data: charged only while the agreement has the evse_status scope.
    REALTIME_STATUS_MONTHLY = "REALTIME_STATUS_MONTHLY", "real-time EVSE status, monthly"
    ANALYTICS_MONTHLY = "ANALYTICS_MONTHLY", "analytics, monthly"


MONTHLY_KINDS: frozenset[str] = frozenset(
    {FeeKind.MONTHLY_FIXED, FeeKind.REALTIME_STATUS_MONTHLY, FeeKind.ANALYTICS_MONTHLY}
)
PER_CDR_KINDS: frozenset[str] = frozenset(
    {FeeKind.PER_SESSION, FeeKind.PER_KWH, FeeKind.PER_HOUR, FeeKind.REVENUE_SHARE}
)


class FeeParty(models.TextChoices):
    """Who pays or receives a fee: one side of the agreement, or the hub itself."""

    CPO = "CPO", "CPO"
    EMSP = "EMSP", "eMSP"
    HUB = "HUB", "hub"


class FeeTerm(models.Model):
    """One fee of an agreement: `payer` pays `payee` `amount` per unit of `kind`.

    `amount` is money in `currency` (≥ 0), except for REVENUE_SHARE, where it is a percent
    (0..100) and `currency` stays empty: the share is taken of each CDR in that CDR's currency.
    `valid_from`/`valid_to` (both days included, UTC dates) narrow the term within the
    agreement's own validity; empty means the agreement's."""

    agreement = models.ForeignKey(
        RoamingAgreement, on_delete=models.CASCADE, related_name="fee_terms"
    )
    kind = models.CharField(max_length=24, choices=FeeKind.choices)
    payer = models.CharField(max_length=4, choices=FeeParty.choices)
    payee = models.CharField(max_length=4, choices=FeeParty.choices)
    amount = models.DecimalField(
        max_digits=14,
        decimal_places=4,
        help_text="Money per unit in the currency; for a revenue share, the percent (0..100).",
    )
    currency = models.CharField(
        max_length=3,
        blank=True,
        default="",
        help_text="ISO 4217 (e.g. EUR). Empty for a revenue share: each CDR's currency applies.",
    )
    valid_from = models.DateField(null=True, blank=True)
    valid_to = models.DateField(null=True, blank=True)
    note = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["agreement", "kind", "pk"]
        constraints: ClassVar = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="feeterm_amount_not_negative"),
            models.CheckConstraint(condition=~Q(payer=F("payee")), name="feeterm_payer_not_payee"),
            models.CheckConstraint(
                condition=~Q(kind=FeeKind.REVENUE_SHARE) | Q(amount__lte=PERCENT_MAX),
                name="feeterm_percent_at_most_100",
            ),
            models.CheckConstraint(
                condition=Q(valid_from__isnull=True)
                | Q(valid_to__isnull=True)
                | Q(valid_to__gte=F("valid_from")),
                name="feeterm_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        unit = "%" if self.kind == FeeKind.REVENUE_SHARE else f" {self.currency}"
        # normalize(): the column's 4 places would print 0.40 as 0.4000.
        return f"{self.kind} {self.amount.normalize():f}{unit} {self.payer}→{self.payee}"

    def clean(self) -> None:
        """The rules the constraints hold, with messages naming the field."""
        errors: dict[str, str] = {}
        if self.amount is not None and self.amount < 0:
            errors["amount"] = f"must not be negative (got {self.amount})"
        elif (
            self.kind == FeeKind.REVENUE_SHARE
            and self.amount is not None
            and self.amount > PERCENT_MAX
        ):
            errors["amount"] = f"a revenue share is a percent, 0..100 (got {self.amount})"
        if self.payer and self.payer == self.payee:
            errors["payee"] = f"must differ from the payer (both {self.payer})"
        if self.kind == FeeKind.REVENUE_SHARE:
            if self.currency:
                errors["currency"] = (
                    "must be empty for a revenue share: the share is in each CDR's currency"
                )
        elif not CURRENCY_RE.match(self.currency or ""):
            errors["currency"] = (
                f"must be an ISO 4217 currency code, 3 upper-case letters (got {self.currency!r})"
            )
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            errors["valid_to"] = f"must not be before valid_from ({self.valid_from})"
        if errors:
            raise ValidationError(errors)


class StatementStatus(models.TextChoices):
    """RECONCILED: the month is over and a reconciliation report covers every CDR.
    PROVISIONAL: the month is still running, or some CDR is not reconciled yet; a recompute
    may change the figures."""

    PROVISIONAL = "PROVISIONAL", "provisional"
    RECONCILED = "RECONCILED", "reconciled"


class SettlementStatement(models.Model):
    """What the parties of an agreement owe each other for one calendar month (UTC).

    `totals`: {"cdrs", "credits", "sessions", "kwh", "hours", "cost": {CUR: {"excl_vat",
    "incl_vat"}}, "disputed", "outside_agreement", "unreconciled"} over the CDRs settled
    (disputed ones excluded). `net`: {CUR: {"CPO": x, "EMSP": y, "HUB": z}} as Decimal
    strings, positive = receives, negative = pays; each currency sums to zero. `disputed`: the
    CDRs kept apart, [{"cdr": pk, "key", "currency", "total_cost_excl_vat", "credit",
    "reasons": [...]}]. One row per (agreement, period): a recompute replaces it in place."""

    agreement = models.ForeignKey(
        RoamingAgreement, on_delete=models.PROTECT, related_name="settlements"
    )
    period = models.DateField(help_text="The first day of the month settled.")
    status = models.CharField(
        max_length=11, choices=StatementStatus.choices, default=StatementStatus.PROVISIONAL
    )
    # When these figures were computed; a recompute that finds the same figures keeps it.
    computed_at = models.DateTimeField()
    totals = models.JSONField(default=dict, blank=True)
    net = models.JSONField(default=dict, blank=True)
    disputed = models.JSONField(default=list, blank=True)

    class Meta:
        ordering: ClassVar = ["-period", "agreement"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["agreement", "period"], name="uniq_settlement"),
            models.CheckConstraint(
                condition=Q(period__day=1), name="settlement_period_first_of_month"
            ),
        ]
        permissions: ClassVar = [
            ("export_settlementstatement", "Can export settlement statements as CSV"),
            ("recompute_settlementstatement", "Can recompute settlement statements"),
        ]

    def __str__(self) -> str:
        return f"settlement #{self.agreement_id} {self.period:%Y-%m}"


class SettlementLine(models.Model):
    """One fee of a statement: `quantity` × `unit_amount` (a percent for a revenue share, the
    days in force for a monthly fee), rounded to the currency's minor unit as `amount`, which
    `payer` pays `payee`. Kind, unit and parties are copied from the term: the line stays
    readable when the term is changed or removed later."""

    statement = models.ForeignKey(
        SettlementStatement, on_delete=models.CASCADE, related_name="lines"
    )
    fee_term = models.ForeignKey(
        FeeTerm, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    kind = models.CharField(max_length=24, choices=FeeKind.choices)
    quantity = models.DecimalField(max_digits=18, decimal_places=4)
    unit_amount = models.DecimalField(max_digits=14, decimal_places=4)
    amount = models.DecimalField(max_digits=18, decimal_places=4)
    currency = models.CharField(max_length=3)
    payer = models.CharField(max_length=4, choices=FeeParty.choices)
    payee = models.CharField(max_length=4, choices=FeeParty.choices)
    detail = models.CharField(max_length=255, blank=True, default="")
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering: ClassVar = ["statement", "position", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.amount} {self.currency} {self.payer}→{self.payee}"
