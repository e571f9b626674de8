"""A reconciliation report's findings as CSV, safe to open in a spreadsheet."""

import io
import json

from hub.models import ReconciliationReport
from hub.services.staff import SafeCsvWriter

CSV_COLUMNS = ("kind", "cdr_key", "message", "detail")


def reconciliation_findings_csv(report: ReconciliationReport) -> str:
    """The report's findings as CSV (header row, one row per finding, detail as JSON)."""
    out = io.StringIO()
    # Partner data (CDR ids, messages quoting them) is opened in spreadsheets: no formulas.
    writer = SafeCsvWriter(out, lineterminator="\n")
    writer.writerow(
        ("cpo", "emsp", "period_start", "period_end", *CSV_COLUMNS),
    )
    cpo = f"{report.cpo_country_code}-{report.cpo_party_id}"
    emsp = f"{report.emsp_country_code}-{report.emsp_party_id}"
    for finding in report.findings.order_by("kind", "cdr_key", "pk"):
        writer.writerow(
            (
                cpo,
                emsp,
                report.period_start.isoformat(),
                report.period_end.isoformat(),
                finding.kind,
                finding.cdr_key,
                finding.message,
                json.dumps(finding.detail, sort_keys=True),
            )
        )
    return out.getvalue()
