"""Fee terms of roaming agreements and their monthly settlement statements (docs/settlement.md).

Fee terms are edited here (the model's validation runs on save: no negative amount, a percent
at most 100, an ISO 4217 currency, payer and payee different). They belong on the roaming
agreement's page as an inline (`FeeTermInline`), which the agreement admin adds. Statements
are written only by `hub.services.settlement`: read-only here, with their lines, the disputed
CDRs, a CSV download and a recompute action."""

from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html, format_html_join

from hub.admin.display import cdr_change_link, party_label, pretty_json, status_badge
from hub.admin.mixins import ReadOnlyAdmin, ReadOnlyInline, permission
from hub.models import FeeKind, FeeTerm, SettlementLine, SettlementStatement, StatementStatus
from hub.services.settlement.compute import PARTIES
from hub.services.settlement.export import settlement_csv
from hub.services.settlement.fees import fee_term_remove, fee_term_save
from hub.services.settlement.statement import SettlementError, settle_agreement
from hub.services.staff import export_record

STATEMENT_STATUS_COLOURS: dict[str, str] = {
    StatementStatus.RECONCILED: "#2e7d32",
    StatementStatus.PROVISIONAL: "#ef6c00",
}
# Statements per CSV download or recompute: a month of every agreement fits.
STATEMENT_ACTION_LIMIT = 500


def fee_amount_text(term: FeeTerm) -> str:
    if term.kind == FeeKind.REVENUE_SHARE:
        return f"{term.amount.normalize():f} %"
    return f"{term.amount.normalize():f} {term.currency}"


class FeeTermInline(admin.TabularInline):
    """The agreement's fee terms on its page (for the RoamingAgreement admin's `inlines`)."""

    model = FeeTerm
    extra = 0
    fields = ("kind", "amount", "currency", "payer", "payee", "valid_from", "valid_to", "note")


@admin.register(FeeTerm)
class FeeTermAdmin(admin.ModelAdmin):
    """Who pays whom, per session, kWh, charging hour, revenue share or month."""

    list_display = (
        "pk",
        "agreement",
        "kind",
        "amount_text",
        "payer",
        "payee",
        "valid_from",
        "valid_to",
    )
    list_filter = ("kind", "payer", "payee")
    list_select_related = ("agreement",)
    ordering = ("agreement", "kind", "pk")
    fields = (
        "agreement",
        "kind",
        "amount",
        "currency",
        "payer",
        "payee",
        "valid_from",
        "valid_to",
        "note",
    )

    @admin.display(description="amount", ordering="amount")
    def amount_text(self, term: FeeTerm) -> str:
        return fee_amount_text(term)

    def save_model(self, request: HttpRequest, obj: FeeTerm, form: Any, change: bool) -> None:
        # The form has validated the term already (the same model rules); the service is
        # the one place fee terms are written.
        fee_term_save(term=obj)

    def delete_model(self, request: HttpRequest, obj: FeeTerm) -> None:
        fee_term_remove(term_id=obj.pk)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[FeeTerm]) -> None:
        for term_id in queryset.values_list("pk", flat=True):
            fee_term_remove(term_id=term_id)


class SettlementLineInline(ReadOnlyInline):
    model = SettlementLine
    fields = ("kind", "quantity", "unit_amount", "amount", "currency", "payer", "payee", "detail")
    ordering = ("position", "pk")


def statement_csv_response(
    request: HttpRequest, statements: list[SettlementStatement]
) -> HttpResponse:
    """The statements as one CSV (lines, net, disputed CDRs), logged as a staff export."""
    body = settlement_csv(statements)
    export_record(
        request=request,
        what="settlement statements",
        rows=max(body.count("\n") - 1, 0),
        detail="statements " + ", ".join(f"#{s.pk}" for s in statements),
    )
    if len(statements) == 1:
        one = statements[0]
        name = f"settlement-{one.agreement_id}-{one.period:%Y-%m}.csv"
    else:
        name = f"settlement-{len(statements)}-statements.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


def _selected(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[SettlementStatement]
) -> list[SettlementStatement] | None:
    chosen = list(
        queryset.select_related("agreement").order_by("period", "agreement_id", "pk")[
            : STATEMENT_ACTION_LIMIT + 1
        ]
    )
    if len(chosen) > STATEMENT_ACTION_LIMIT:
        model_admin.message_user(
            request,
            f"More than {STATEMENT_ACTION_LIMIT} statements selected; narrow the selection.",
            messages.ERROR,
        )
        return None
    return chosen


@admin.action(description="Download CSV (lines, net, disputed CDRs)", permissions=["export"])
def statement_csv_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[SettlementStatement]
) -> HttpResponse | None:
    chosen = _selected(model_admin, request, queryset)
    return None if chosen is None else statement_csv_response(request, chosen)


@admin.action(description="Recompute from the current CDRs and terms", permissions=["recompute"])
def recompute_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[SettlementStatement]
) -> None:
    chosen = _selected(model_admin, request, queryset)
    if chosen is None:
        return
    changed = 0
    for statement in chosen:
        before = statement.computed_at
        try:
            after = settle_agreement(agreement=statement.agreement, month=statement.period)
        except SettlementError as exc:
            model_admin.message_user(request, f"{statement}: {exc}", messages.ERROR)
            continue
        changed += after.computed_at != before
    model_admin.message_user(
        request,
        f"Recomputed {len(chosen)} statement(s): {changed} changed, "
        f"{len(chosen) - changed} unchanged.",
        messages.SUCCESS,
    )


@admin.register(SettlementStatement)
class SettlementStatementAdmin(ReadOnlyAdmin):
    """One statement per (agreement, month), written by `hub.services.settlement` only."""

    list_display = (
        "period_text",
        "route",
        "status_badge",
        "sessions",
        "net_summary",
        "disputed_count",
        "computed_at",
    )
    list_filter = ("status",)
    list_select_related = ("agreement",)
    ordering = ("-period", "agreement_id")
    fieldsets = (
        (None, {"fields": ("route", "period_text", "status_badge", "computed_at", "csv_link")}),
        ("Net (+ receives, − pays)", {"fields": ("net_summary",)}),
        ("Disputed CDRs (left out of the fees)", {"fields": ("disputed_table",)}),
        ("Totals of the settled CDRs", {"fields": ("totals_doc",)}),
    )
    inlines: ClassVar = [SettlementLineInline]
    actions = (statement_csv_action, recompute_action)

    has_export_permission = permission("export_settlementstatement")
    has_recompute_permission = permission("recompute_settlementstatement")

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        wrap = self.admin_site.admin_view
        custom = [
            path(
                "<path:object_id>/statement.csv",
                wrap(self.csv_view),
                name="hub_settlementstatement_csv",
            ),
        ]
        return custom + super().get_urls()  # type: ignore[operator]

    def csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        statement = self.get_object(request, unquote(object_id))
        if statement is None:
            raise Http404("No such settlement statement.")
        if not self.has_export_permission(request):
            raise PermissionDenied
        return statement_csv_response(request, [statement])

    # -- columns ----------------------------------------------------------------------------

    @admin.display(description="agreement: CPO ↔ eMSP", ordering="agreement")
    def route(self, statement: SettlementStatement) -> str:
        agreement = statement.agreement
        return (
            f"#{agreement.pk} {party_label(agreement.cpo_country_code, agreement.cpo_party_id)} ↔ "
            f"{party_label(agreement.emsp_country_code, agreement.emsp_party_id)}"
        )

    @admin.display(description="month", ordering="period")
    def period_text(self, statement: SettlementStatement) -> str:
        return f"{statement.period:%Y-%m}"

    @admin.display(description="status", ordering="status")
    def status_badge(self, statement: SettlementStatement) -> str:
        return status_badge(statement.status, statement.status, STATEMENT_STATUS_COLOURS)

    @admin.display(description="sessions (net)")
    def sessions(self, statement: SettlementStatement) -> str:
        totals = statement.totals if isinstance(statement.totals, dict) else {}
        return str(totals.get("sessions", 0))

    @admin.display(description="net")
    def net_summary(self, statement: SettlementStatement) -> str:
        net = statement.net if isinstance(statement.net, dict) else {}
        if not net:
            return "—"
        return "; ".join(
            f"{currency}: " + ", ".join(f"{party} {parties.get(party, '')}" for party in PARTIES)
            for currency, parties in sorted(net.items())
        )

    @admin.display(description="disputed")
    def disputed_count(self, statement: SettlementStatement) -> int:
        return len(statement.disputed or [])

    @admin.display(description="disputed CDRs")
    def disputed_table(self, statement: SettlementStatement) -> str:
        items: list[dict[str, Any]] = statement.disputed or []
        if not items:
            return "none"
        return format_html(
            "<table><tr><th>CDR</th><th>cost excl. VAT</th><th>reasons</th></tr>{}</table>",
            format_html_join(
                "",
                "<tr><td>{}</td><td>{} {}</td><td>{}</td></tr>",
                (
                    (
                        cdr_change_link(item.get("cdr"), item.get("key", "")),
                        item.get("currency", ""),
                        item.get("total_cost_excl_vat", ""),
                        "; ".join(item.get("reasons", [])),
                    )
                    for item in items
                ),
            ),
        )

    @admin.display(description="totals")
    def totals_doc(self, statement: SettlementStatement) -> str:
        return pretty_json(statement.totals)

    @admin.display(description="CSV")
    def csv_link(self, statement: SettlementStatement) -> str:
        url = reverse("admin:hub_settlementstatement_csv", args=[statement.pk])
        return format_html('<a href="{}">download this statement as CSV</a>', url)
