"""CSV downloads of partner data: formula-safe cells (`SafeCsvWriter`, the file is opened in
spreadsheets) and every export logged (`StaffExport`: who, what, how many rows, which filters),
since CDRs name other companies' drivers and money. Each needs its own export permission."""

from collections.abc import Sequence
from typing import Any

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from hub.models import Cdr, ReconciliationReport
from hub.services.reconciliation.export import reconciliation_findings_csv
from hub.services.staff import SafeCsvWriter, export_record

# At most this many reports' findings in one CSV download (each is a full findings list).
REPORT_CSV_LIMIT = 50

CDR_CSV_COLUMNS = (
    "country_code",
    "party_id",
    "cdr_id",
    "token_country_code",
    "token_party_id",
    "token_uid",
    "token_type",
    "session_id",
    "start_date_time",
    "end_date_time",
    "total_energy_kwh",
    "currency",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "computed_excl_vat",
    "computed_incl_vat",
    "price_check",
    "credit",
    "credit_reference_id",
    "finding_codes",
    "delivery_state",
)


def export_detail(request: HttpRequest) -> str:
    """What an export selected, for its log entry: the changelist filters and whether all
    matching rows or a ticked selection were exported."""
    selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
    across = request.POST.get("select_across") == "1"
    scope = "all matching" if across else f"{len(selected)} ticked"
    filters = request.GET.urlencode()
    return f"{scope}; filters: {filters or 'none'}"


def computed_total_cost(cdr: Cdr) -> dict[str, Any] | None:
    computed = cdr.computed if isinstance(cdr.computed, dict) else None
    total = computed.get("total_cost") if computed else None
    return total if isinstance(total, dict) else None


def finding_codes(cdr: Cdr) -> list[str]:
    findings = cdr.findings if isinstance(cdr.findings, list) else []
    return [str(f.get("code", "")) for f in findings if isinstance(f, dict)]


@admin.action(description="Export selected as CSV", permissions=["export"])
def export_csv_action(
    model_admin: admin.ModelAdmin, request: HttpRequest, queryset: QuerySet[Cdr]
) -> HttpResponse:
    """The selected CDRs with the hub's price beside the CPO's, their findings and delivery
    state (the CDR changelist's queryset carries `ocpi_id_value` and `delivery_state`)."""
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
    response["Content-Disposition"] = f'attachment; filename="cdrs-{stamp}.csv"'
    writer = SafeCsvWriter(response, lineterminator="\n")
    writer.writerow(CDR_CSV_COLUMNS)
    for cdr in queryset.order_by("pk").iterator(chunk_size=2000):
        total = computed_total_cost(cdr) or {}
        writer.writerow(
            (
                cdr.country_code,
                cdr.party_id,
                cdr.ocpi_id_value or cdr.cdr_id,  # type: ignore[attr-defined]
                cdr.token_country_code,
                cdr.token_party_id,
                cdr.token_uid,
                cdr.token_type,
                cdr.session_id,
                cdr.start_date_time.isoformat(),
                cdr.end_date_time.isoformat(),
                cdr.total_energy,
                cdr.currency,
                cdr.total_cost_excl_vat,
                "" if cdr.total_cost_incl_vat is None else cdr.total_cost_incl_vat,
                total.get("excl_vat", ""),
                total.get("incl_vat", ""),
                cdr.price_check,
                "true" if cdr.credit else "false",
                cdr.credit_reference_id,
                ";".join(finding_codes(cdr)),
                cdr.delivery_state or "",  # type: ignore[attr-defined]
            )
        )
    export_record(request=request, what="cdrs", rows=writer.rows - 1, detail=export_detail(request))
    return response


def findings_csv_response(
    request: HttpRequest, reports: Sequence[ReconciliationReport]
) -> HttpResponse:
    """One CSV of the reports' findings (`reconciliation_findings_csv`, one header row,
    formula-safe cells), logged as a staff export."""
    parts = [reconciliation_findings_csv(report) for report in reports]
    body = parts[0] if parts else ""
    for part in parts[1:]:
        body += part.split("\n", 1)[1] if "\n" in part else ""
    rows = sum(max(part.count("\n") - 1, 0) for part in parts)
    export_record(
        request=request,
        what="reconciliation findings",
        rows=rows,
        detail="reports " + ", ".join(f"#{report.pk}" for report in reports),
    )
    if len(reports) == 1:
        report = reports[0]
        name = (
            f"reconciliation-{report.cpo_country_code}-{report.cpo_party_id}-"
            f"{report.emsp_country_code}-{report.emsp_party_id}-{report.period_start.isoformat()}"
            f"-{report.pk}.csv"
        )
    else:
        name = f"reconciliation-findings-{len(reports)}-reports.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.action(description="Download findings CSV", permissions=["export"])
def findings_csv_action(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet[ReconciliationReport],
) -> HttpResponse | None:
    reports = list(queryset.order_by("pk")[: REPORT_CSV_LIMIT + 1])
    if len(reports) > REPORT_CSV_LIMIT:
        model_admin.message_user(
            request,
            f"More than {REPORT_CSV_LIMIT} reports selected; narrow the selection.",
            messages.ERROR,
        )
        return None
    return findings_csv_response(request, reports)
