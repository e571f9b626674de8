"""CDRs and their reconciliation: CPOs' CDRs as received (immutable: corrections arrive as
credit CDRs), what the hub found in them, its own price beside the CPO's, how the delivery to
the eMSP went; the reconciliation reports per (CPO, eMSP, period) and their findings."""

from typing import Any, ClassVar

from django import forms
from django.contrib import admin
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import OuterRef, Q, QuerySet, Subquery
from django.db.models.fields.json import KT
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString

from hub.admin.actions import CDR_MODULE, cdr_object_key, resend_dead_action
from hub.admin.display import (
    DELIVERY_STATUS_COLOURS,
    cdr_change_link,
    changelist_url,
    party_column,
    party_label,
    pretty_json,
    short,
    status_badge,
)
from hub.admin.exports import (
    computed_total_cost,
    export_csv_action,
    finding_codes,
    findings_csv_action,
    findings_csv_response,
)
from hub.admin.filters import (
    CdrDeliveryStateFilter,
    CreditOfFilter,
    FindingCodeFilter,
    HasFindingsFilter,
    ReportFilter,
    TokenOwnerMismatchFilter,
    party_filter,
)
from hub.admin.mixins import (
    CorrelationLinkMixin,
    HubSearchMixin,
    OcpiObjectAdmin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    bounded_formset,
    permission,
)
from hub.admin.tokens_sessions import CPO_PARTY, TOKEN_EMSP_PARTY, token_owner_finding
from hub.models import (
    Cdr,
    DeliveryStatus,
    PriceCheck,
    PushDelivery,
    ReconciliationFinding,
    ReconciliationReport,
    ReportStatus,
    Role,
)
from hub.models.cdrs import outbox_key_of_cdr

PRICE_CHECK_COLOURS: dict[str, str] = {
    PriceCheck.MATCH: "#2e7d32",
    PriceCheck.MISMATCH: "#c62828",
    PriceCheck.UNPRICEABLE: "#ef6c00",
    PriceCheck.UNCHECKED: "#546e7a",
}
REPORT_STATUS_COLOURS: dict[str, str] = {
    ReportStatus.DONE: "#2e7d32",
    ReportStatus.PARTIAL: "#ef6c00",
    ReportStatus.RUNNING: "#1565c0",
}

# Findings shown inline on a report's page; all of them are in its CSV and finding list.
INLINE_FINDINGS_LIMIT = 200

REPORT_CPO_PARTY = party_filter("CPO party", "cpo", [Role.CPO], "cpo_")
REPORT_EMSP_PARTY = party_filter("eMSP party", "emsp", [Role.EMSP], "emsp_")


def cdr_delivery_state() -> Subquery:
    """The status of the CDR's newest "cdrs" delivery (one correlated subquery per page,
    served by the `delivery_object` index), None when it never had one."""
    key = outbox_key_of_cdr(OuterRef)
    return Subquery(
        PushDelivery.objects.filter(module=CDR_MODULE, object_key=key)
        .order_by("-pk")
        .values("status")[:1]
    )


def money_text(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


@admin.register(Cdr)
class CdrAdmin(CorrelationLinkMixin, OcpiObjectAdmin):
    """CPOs' CDRs as received (immutable: corrections arrive as credit CDRs), with what the hub
    found in them, its own price beside the CPO's, and how the delivery to the eMSP went. The
    list never loads the documents; the delivery state is one subquery per page."""

    outbox_module = CDR_MODULE
    list_display = (
        "party",
        "ocpi_id",
        "emsp_party",
        "start_date_time",
        "end_date_time",
        "total_energy",
        "currency",
        "total_cost_excl_vat",
        "total_cost_incl_vat",
        "computed_total",
        "price_check_badge",
        "credit",
        "findings_count",
        "token_owner_mismatch",
        "delivery_badge",
        "received_at",
    )
    list_filter = (
        # `last_updated` leads the `cdr_page` index (end_date_time is indexed only after the
        # CPO party, `cdr_period`); a date hierarchy would list years with a DISTINCT scan.
        ("last_updated", admin.DateFieldListFilter),
        CPO_PARTY,
        TOKEN_EMSP_PARTY,
        "price_check",
        "credit",
        HasFindingsFilter,
        FindingCodeFilter,
        TokenOwnerMismatchFilter,
        CdrDeliveryStateFilter,
        CreditOfFilter,
    )
    # The `cdr_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    # Exact matches on the upper-cased key columns (ids are pasted): a CDR id, a session id or
    # a token uid; a party as CPO or eMSP.
    party_prefixes = ("", "token_")
    party_upper_keys = True
    party_or_ids = True
    search_q_only = True
    search_help_text = (
        "Exact (any case): a CDR id, a session id or a token uid; or a party (NL*ABC, CPO or eMSP)."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_id",
                    "emsp_party",
                    "token",
                    "session_id",
                    "start_date_time",
                    "end_date_time",
                    "total_energy",
                    "total_time",
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        ("Costs", {"fields": ("currency", "costs_table", "price_check_badge", "computed_doc")}),
        ("Findings", {"fields": ("findings_list", "token_owner_mismatch")}),
        ("Credits", {"fields": ("credit", "credit_reference_id", "original_link", "credits_link")}),
        (
            "Delivery",
            {"fields": ("delivery_badge", "deliveries_link", "received_at", "correlation_link")},
        ),
        (
            "Reconciliation proofs",
            {
                "fields": ("delivered_at", "no_copy", "session_agreed"),
                "description": "Recorded as they happen; a CDR with all three and a MATCH "
                "price check is reconciled from its row alone. Without one, reconciliation "
                "looks at its deliveries, copies and Session itself.",
            },
        ),
        ("OCPI document", {"fields": ("document",)}),
    )
    actions = (export_csv_action, resend_dead_action)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cdr]:
        return (
            super()
            .get_queryset(request)
            .defer("data")
            .annotate(ocpi_id_value=KT("data__id"), delivery_state=cdr_delivery_state())
        )

    def action_checkbox(self, cdr: Cdr) -> SafeString:
        """Django's, labelled without `str(cdr)`, which reads the deferred document per row."""
        attrs = {
            "class": "action-select",
            "aria-label": format_html(
                "Select this object for an action - {} {}", self.party(cdr), self.ocpi_id(cdr)
            ),
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: False)
        return checkbox.render(ACTION_CHECKBOX_NAME, str(cdr.pk))

    # Resending changes the outbox: allowed to whoever may resend deliveries. CDRs name other
    # companies' drivers and money: exporting them is its own right.
    has_resend_permission = permission("resend_pushdelivery")
    has_export_permission = permission("export_cdr")

    def object_key(self, cdr: Cdr) -> str:
        return cdr_object_key(cdr)

    def search_q(self, term: str) -> Q | None:
        key = term.upper()
        return Q(cdr_id=key) | Q(session_id=key) | Q(token_uid=key)

    # -- list -------------------------------------------------------------------------------

    party = party_column("", "CPO party")

    @admin.display(description="CDR id", ordering="cdr_id")
    def ocpi_id(self, cdr: Cdr) -> str:
        """The id as the CPO sent it (the key column is upper-cased)."""
        value = getattr(cdr, "ocpi_id_value", None)
        if value is None and "data" in cdr.__dict__ and isinstance(cdr.data, dict):
            value = cdr.data.get("id")
        return str(value or cdr.cdr_id)

    emsp_party = party_column("token_", "eMSP (token owner)")

    @admin.display(description="computed total (excl / incl)")
    def computed_total(self, cdr: Cdr) -> str:
        total = computed_total_cost(cdr)
        if total is None:
            return "—"
        return f"{money_text(total.get('excl_vat'))} / {money_text(total.get('incl_vat'))}"

    @admin.display(description="price check", ordering="price_check")
    def price_check_badge(self, cdr: Cdr) -> str:
        return status_badge(cdr.price_check, cdr.get_price_check_display(), PRICE_CHECK_COLOURS)

    @admin.display(description="findings")
    def findings_count(self, cdr: Cdr) -> str:
        codes = finding_codes(cdr)
        if not codes:
            return "0"
        return format_html('<span title="{}">{}</span>', ", ".join(codes), len(codes))

    @admin.display(description="token owner mismatch", ordering="token_owner_finding")
    def token_owner_mismatch(self, cdr: Cdr) -> str:
        return token_owner_finding(cdr)

    @admin.display(description="delivery", ordering="delivery_state")
    def delivery_badge(self, cdr: Cdr) -> str:
        state = getattr(cdr, "delivery_state", None)
        if not state:
            return "—"
        return status_badge(state, DeliveryStatus(state).label, DELIVERY_STATUS_COLOURS)

    # -- change page ------------------------------------------------------------------------

    @admin.display(description="token")
    def token(self, cdr: Cdr) -> str:
        url = changelist_url(
            "token",
            country_code=cdr.token_country_code,
            party_id=cdr.token_party_id,
            uid=cdr.token_uid,
            type=cdr.token_type,
        )
        return format_html(
            '{} {} — <a href="{}">stored token</a>', cdr.token_type, cdr.token_uid, url
        )

    @admin.display(description="reported vs computed")
    def costs_table(self, cdr: Cdr) -> str:
        total = computed_total_cost(cdr) or {}
        rows = [
            ("excl. VAT", money_text(cdr.total_cost_excl_vat), money_text(total.get("excl_vat"))),
            ("incl. VAT", money_text(cdr.total_cost_incl_vat), money_text(total.get("incl_vat"))),
        ]
        return format_html(
            "<table><thead><tr><th></th><th>reported (CPO)</th><th>computed (hub)</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="tariff engine's result")
    def computed_doc(self, cdr: Cdr) -> str:
        return "—" if cdr.computed is None else pretty_json(cdr.computed)

    @admin.display(description="findings")
    def findings_list(self, cdr: Cdr) -> str:
        findings = [f for f in (cdr.findings or []) if isinstance(f, dict)]
        if not findings:
            return "None"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code>: {}</li>",
                ((f.get("code", ""), f.get("message", "")) for f in findings),
            ),
        )

    @admin.display(description="credits CDR")
    def original_link(self, cdr: Cdr) -> str:
        if cdr.credit_of_id is None:
            return "—"
        url = reverse("admin:hub_cdr_change", args=[cdr.credit_of_id])
        return format_html('<a href="{}">the original CDR</a>', url)

    @admin.display(description="credited by")
    def credits_link(self, cdr: Cdr) -> str:
        url = changelist_url("cdr", **{CreditOfFilter.parameter_name: str(cdr.pk)})
        return format_html('<a href="{}">credit CDRs of this CDR</a>', url)


class ReconciliationFindingInline(ReadOnlyInline):
    model = ReconciliationFinding
    formset = bounded_formset(INLINE_FINDINGS_LIMIT)
    fields = ("kind", "cdr_link", "message")
    verbose_name_plural = f"findings (the first {INLINE_FINDINGS_LIMIT}; all in the CSV)"

    @admin.display(description="CDR")
    def cdr_link(self, finding: ReconciliationFinding) -> str:
        return cdr_change_link(finding.cdr_id, finding.cdr_key)


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    """One reconciliation run per (CPO, eMSP, period), written by
    `hub.services.reconciliation` only: totals, counts per finding kind, and the findings (also
    as CSV)."""

    change_form_template = "admin/hub/reconciliationreport/change_form.html"
    list_display = (
        "route",
        "period",
        "status_badge",
        "cdr_count",
        "kwh",
        "cost_summary",
        "finding_counts",
        "finished_at",
    )
    list_filter = ("status", REPORT_CPO_PARTY, REPORT_EMSP_PARTY)
    date_hierarchy = "period_start"
    ordering = ("-period_start", "-pk")
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("route", "period", "status_badge", "error")}),
        ("Totals", {"fields": ("cdr_count", "kwh", "cost_summary", "totals_doc")}),
        ("Findings", {"fields": ("finding_counts", "findings_link")}),
        ("Run", {"fields": ("created_at", "finished_at")}),
    )
    inlines: ClassVar = [ReconciliationFindingInline]
    actions = (findings_csv_action,)

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        wrap = self.admin_site.admin_view
        custom = [
            path(
                "<path:object_id>/findings.csv",
                wrap(self.findings_csv_view),
                name="hub_reconciliationreport_findings_csv",
            ),
        ]
        return custom + super().get_urls()  # type: ignore[operator]

    def findings_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        report = self.get_object(request, unquote(object_id))
        if report is None:
            raise Http404("No such reconciliation report.")
        if not self.has_export_permission(request):
            raise PermissionDenied
        return findings_csv_response(request, [report])

    def change_page_links(self, request: HttpRequest, obj: ReconciliationReport) -> dict[str, str]:
        links = {"findings_url": changelist_url("reconciliationfinding", report=str(obj.pk))}
        if self.has_export_permission(request):
            links["findings_csv_url"] = reverse(
                "admin:hub_reconciliationreport_findings_csv", args=[obj.pk]
            )
        return links

    has_export_permission = permission("export_reconciliationreport")

    # -- columns ----------------------------------------------------------------------------

    @admin.display(description="CPO → eMSP", ordering="cpo_country_code")
    def route(self, report: ReconciliationReport) -> str:
        return (
            f"{party_label(report.cpo_country_code, report.cpo_party_id)} → "
            f"{party_label(report.emsp_country_code, report.emsp_party_id)}"
        )

    @admin.display(description="period", ordering="period_start")
    def period(self, report: ReconciliationReport) -> str:
        return f"{report.period_start.isoformat()} .. {report.period_end.isoformat()} (excl.)"

    @admin.display(description="status", ordering="status")
    def status_badge(self, report: ReconciliationReport) -> str:
        return status_badge(report.status, report.status, REPORT_STATUS_COLOURS)

    def _totals(self, report: ReconciliationReport) -> dict[str, Any]:
        return report.totals if isinstance(report.totals, dict) else {}

    @admin.display(description="CDRs (+ credits)")
    def cdr_count(self, report: ReconciliationReport) -> str:
        totals = self._totals(report)
        count, credits = totals.get("cdrs", 0), totals.get("credits", 0)
        return f"{count} (+{credits})" if credits else str(count)

    @admin.display(description="kWh")
    def kwh(self, report: ReconciliationReport) -> str:
        return money_text(self._totals(report).get("kwh"))

    @admin.display(description="cost (net, excl / incl VAT)")
    def cost_summary(self, report: ReconciliationReport) -> str:
        cost = self._totals(report).get("cost")
        if not isinstance(cost, dict) or not cost:
            return "—"
        return "; ".join(
            f"{currency} {money_text(amounts.get('excl_vat'))} / "
            f"{money_text(amounts.get('incl_vat'))}"
            for currency, amounts in sorted(cost.items())
            if isinstance(amounts, dict)
        )

    @admin.display(description="findings")
    def finding_counts(self, report: ReconciliationReport) -> str:
        counts = report.counts if isinstance(report.counts, dict) else {}
        found = [(kind, n) for kind, n in counts.items() if n]
        if not found:
            return "none"
        return format_html_join(", ", "{}&nbsp;{}", ((kind, n) for kind, n in found))

    @admin.display(description="totals")
    def totals_doc(self, report: ReconciliationReport) -> str:
        return pretty_json(report.totals)

    @admin.display(description="all findings")
    def findings_link(self, report: ReconciliationReport) -> str:
        url = changelist_url("reconciliationfinding", report=str(report.pk))
        return format_html('<a href="{}">findings of this report</a>', url)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(HubSearchMixin, ReadOnlyAdmin):
    """Every discrepancy reconciliation found, across reports: "which CDRs were dead-lettered
    last week?"."""

    list_display = ("kind", "cdr_link", "report_link", "short_message")
    list_filter = ("kind", ReportFilter)
    list_select_related = ("report",)
    search_q_only = True
    ordering = ("-pk",)
    list_per_page = 100
    search_fields = ("=cdr_key",)
    search_help_text = "A CDR key (CC/PID/ID), exactly."
    fields = ("kind", "cdr_link", "report_link", "message", "detail_doc")

    def search_q(self, term: str) -> Q | None:
        return Q(cdr_key=term.upper())

    @admin.display(description="CDR", ordering="cdr_key")
    def cdr_link(self, finding: ReconciliationFinding) -> str:
        return cdr_change_link(finding.cdr_id, finding.cdr_key)

    @admin.display(description="report", ordering="report")
    def report_link(self, finding: ReconciliationFinding) -> str:
        url = reverse("admin:hub_reconciliationreport_change", args=[finding.report_id])
        return format_html('<a href="{}">{}</a>', url, str(finding.report))

    @admin.display(description="message")
    def short_message(self, finding: ReconciliationFinding) -> str:
        return short(finding.message, 100)

    @admin.display(description="detail")
    def detail_doc(self, finding: ReconciliationFinding) -> str:
        return pretty_json(finding.detail)
