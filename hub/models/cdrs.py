"""CDRs (2.2.1 mod_cdrs): the bills. Immutable once stored; corrections arrive as credit CDRs.
Also the reconciliation reports built over them (DESIGN §6)."""

from collections.abc import Callable
from typing import Any, ClassVar

from django.db import models
from django.db.models import CharField, F, Value
from django.db.models.functions import Concat, Upper

from hub.models.base import ClientOwnedObject
from hub.models.choices import spec_choices
from hub.models.spec_enums import TokenType


class ReportStatus(models.TextChoices):
    """Where a reconciliation run stands (ReconciliationReport.status)."""

    RUNNING = "RUNNING"
    DONE = "DONE"
    # The CPO's list could not be pulled (the error says why): the store-side checks ran.
    PARTIAL = "PARTIAL"


class FindingKind(models.TextChoices):
    """What a reconciliation finding reports (ReconciliationFinding.kind), in report order."""

    MISSING = "MISSING"
    UNDELIVERED = "UNDELIVERED"
    DEAD_LETTER = "DEAD_LETTER"
    DUPLICATE = "DUPLICATE"
    MISPRICED = "MISPRICED"
    UNPRICEABLE = "UNPRICEABLE"
    NO_SESSION = "NO_SESSION"
    SESSION_MISMATCH = "SESSION_MISMATCH"
    CREDIT_WITHOUT_ORIGINAL = "CREDIT_WITHOUT_ORIGINAL"


class PriceCheck(models.TextChoices):
    """The tariff engine's verdict on a CDR's reported cost."""

    UNCHECKED = "UNCHECKED"
    MATCH = "MATCH"
    MISMATCH = "MISMATCH"
    UNPRICEABLE = "UNPRICEABLE"  # no tariff, or not enough data to price it


def outbox_key_of_cdr(ref: Callable[[str], Any] = F) -> Concat:
    """The outbox object key `CC/PID/CDR_ID` of a CDR row in SQL (`hub.services.cdrs.cdr_key`
    in Python): `ref` is F for the row itself, OuterRef for the row of an outer query."""
    return Concat(
        ref("country_code"),
        Value("/"),
        ref("party_id"),
        Value("/"),
        ref("cdr_id"),
        output_field=CharField(),
    )


class Cdr(ClientOwnedObject):
    """A CPO's CDR as received, keyed by (country_code, party_id, id) upper-cased, with the
    fields reconciliation aggregates denormalised (amounts in Decimal, 4 places)."""

    cdr_id = models.CharField(max_length=39)
    token_country_code = models.CharField(max_length=2)
    token_party_id = models.CharField(max_length=3)
    token_uid = models.CharField(max_length=36)
    token_type = models.CharField(max_length=12, choices=spec_choices(TokenType))
    session_id = models.CharField(max_length=36, blank=True, default="")
    currency = models.CharField(max_length=3)
    total_cost_excl_vat = models.DecimalField(max_digits=18, decimal_places=4)
    total_cost_incl_vat = models.DecimalField(
        max_digits=18, decimal_places=4, null=True, blank=True
    )
    total_energy = models.DecimalField(max_digits=18, decimal_places=4)
    total_time = models.DecimalField(max_digits=18, decimal_places=4)
    start_date_time = models.DateTimeField()
    end_date_time = models.DateTimeField()
    credit = models.BooleanField(default=False)
    credit_reference_id = models.CharField(max_length=39, blank=True, default="")
    credit_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="credits"
    )
    # Validation findings beyond the schema, recorded rather than refused: [{code, message}].
    findings = models.JSONField(default=list, blank=True)
    # The eMSP(s) that pushed this token themselves ("CC*PID, …") when the CPO's cdr_token
    # names another owner (hub.services.routing.token_index): a column the admin can filter on.
    token_owner_finding = models.CharField(
        max_length=100,
        blank=True,
        default="",
        help_text="The token's issuer by the eMSP's own token pushes, when cdr_token names "
        "another party.",
    )
    price_check = models.CharField(
        max_length=12, choices=PriceCheck.choices, default=PriceCheck.UNCHECKED
    )
    computed = models.JSONField(null=True, blank=True)
    # Reconciliation's proofs, recorded as they happen (hub.services.reconciliation.facts) so
    # that a quiet month is reconciled from the CDR rows alone; with no proof the checks look
    # at the deliveries, copies and sessions themselves, as they did before these existed.
    delivered_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the outbox recorded it DELIVERED to its eMSP (kept when the delivery "
        "row is pruned).",
    )
    no_copy = models.BooleanField(
        default=False,
        help_text="No other CDR of the CPO had its charge or session when it was stored, and "
        "none came since (a later copy clears it).",
    )
    session_agreed = models.CharField(
        max_length=80,
        blank=True,
        default="",
        help_text="The tolerances ('price|kWh') under which its Session agreed with it; "
        "cleared when the Session's kWh or cost changes.",
    )
    # The X-Correlation-ID of the POST that stored it (or of the reconciliation pull that
    # fetched it): the admin's correlation page shows that exchange and the delivery onwards.
    correlation_id = models.CharField(max_length=255, blank=True, default="")
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta(ClientOwnedObject.Meta):
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["country_code", "party_id", "cdr_id"], name="uniq_cdr"),
        ]
        indexes: ClassVar = [
            models.Index(fields=["last_updated", "id"], name="cdr_page"),
            models.Index(
                fields=["token_country_code", "token_party_id", "last_updated"],
                name="cdr_by_emsp",
            ),
            models.Index(fields=["country_code", "party_id", "end_date_time"], name="cdr_period"),
            models.Index(fields=["correlation_id"], name="cdr_correlation"),
            # Reconciliation's duplicate and credit look-ups (reconciliation.suspects and
            # findings): one probe per CDR of a month, not a scan of the CPO's CDRs.
            models.Index(fields=["country_code", "party_id", "start_date_time"], name="cdr_start"),
            models.Index("country_code", "party_id", Upper("session_id"), name="cdr_session"),
            models.Index(
                fields=["country_code", "party_id"],
                condition=models.Q(credit=True),
                name="cdr_credits",
            ),
        ]
        verbose_name = "CDR"
        permissions: ClassVar = [("export_cdr", "Can export CDRs as CSV")]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.data.get('id', self.cdr_id)}"


class ReconciliationReport(models.Model):
    """One reconciliation run for a (CPO, eMSP, period): counts and totals, with findings."""

    cpo_country_code = models.CharField(max_length=2)
    cpo_party_id = models.CharField(max_length=3)
    emsp_country_code = models.CharField(max_length=2)
    emsp_party_id = models.CharField(max_length=3)
    period_start = models.DateField()
    period_end = models.DateField()  # exclusive
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=12, choices=spec_choices(ReportStatus), default=ReportStatus.RUNNING
    )
    # {"cdrs": n, "credits": n, "kwh": "…", "cost": {"EUR": {"excl_vat": "…", "incl_vat": "…"}}}
    totals = models.JSONField(default=dict, blank=True)
    # {"missing": n, "undelivered": n, ...} per finding kind
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering: ClassVar = ["-created_at"]
        indexes: ClassVar = [
            models.Index(
                fields=["cpo_country_code", "cpo_party_id", "period_start"], name="recon_cpo"
            ),
        ]
        permissions: ClassVar = [
            ("export_reconciliationreport", "Can export reconciliation findings as CSV")
        ]

    def __str__(self) -> str:
        return (
            f"{self.cpo_country_code}*{self.cpo_party_id} → {self.emsp_country_code}*"
            f"{self.emsp_party_id} {self.period_start}..{self.period_end}"
        )


class ReconciliationFinding(models.Model):
    """One discrepancy found by a reconciliation run."""

    report = models.ForeignKey(
        ReconciliationReport, on_delete=models.CASCADE, related_name="findings"
    )
    kind = models.CharField(max_length=32, choices=spec_choices(FindingKind))
    cdr = models.ForeignKey(Cdr, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    cdr_key = models.CharField(max_length=60, blank=True, default="")  # CC/PID/ID
    message = models.TextField()
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering: ClassVar = ["report", "kind", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} {self.cdr_key}"
