"""`manage.py reconcile_cdrs --from YYYY-MM-DD --to YYYY-MM-DD [--cpo CC-PID] [--emsp CC-PID]`:
reconcile the CDRs of [from, to) (the end date is exclusive) and print one line per
(CPO, eMSP) report. A rerun of the same period replaces its reports. See
`hub.services.reconciliation` (DESIGN §6)."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from hub.management.commands.ocpi_sync import parse_party
from hub.ocpi.routing import PartyRef
from hub.services.reconciliation.findings import Kind, ReconciliationError
from hub.services.reconciliation.report import reconcile


def parse_day(value: str, option: str) -> date:
    """An ISO date (`2026-01-31`)."""
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date YYYY-MM-DD (got {value!r})") from None


def _party(value: str | None, option: str) -> PartyRef | None:
    if not value:
        return None
    try:
        return parse_party(value)
    except CommandError:
        raise CommandError(f"{option} must be COUNTRY-PARTY, e.g. NL-ABC (got {value!r})") from None


# Short column titles for the summary table, in Kind.values order.
_COLUMNS: dict[str, str] = {
    Kind.MISSING: "miss",
    Kind.UNDELIVERED: "undeliv",
    Kind.DEAD_LETTER: "dead",
    Kind.DUPLICATE: "dup",
    Kind.MISPRICED: "mispr",
    Kind.UNPRICEABLE: "unpric",
    Kind.NO_SESSION: "nosess",
    Kind.SESSION_MISMATCH: "sessmis",
    Kind.CREDIT_WITHOUT_ORIGINAL: "orphcr",
}


class Command(BaseCommand):
    help = "Reconcile CDRs of a period: pull CPOs' lists, check the store, write reports."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--from", dest="date_from", required=True, help="First day")
        parser.add_argument("--to", dest="date_to", required=True, help="Day after the last")
        parser.add_argument("--cpo", help="Only this CPO party (CC-PID)")
        parser.add_argument("--emsp", help="Only CDRs for this eMSP party (CC-PID)")
        parser.add_argument("--no-progress", action="store_true", help="No progress bar")

    def handle(self, *args: Any, **options: Any) -> None:
        start = parse_day(options["date_from"], "--from")
        end = parse_day(options["date_to"], "--to")
        if end <= start:
            raise CommandError(f"--to ({end}) must be after --from ({start}); --to is exclusive")
        cpo = _party(options.get("cpo"), "--cpo")
        emsp = _party(options.get("emsp"), "--emsp")
        bar = tqdm(
            desc="reconcile",
            unit="step",
            disable=options["no_progress"],
            file=self.stderr._out,
            dynamic_ncols=True,
        )

        def progress(label: str, done: int, total: int | None) -> None:
            bar.set_description(label, refresh=False)
            if bar.total != total:
                bar.total = total
            bar.n = done
            bar.refresh()

        try:
            reports = reconcile(
                period_start=start, period_end=end, cpo=cpo, emsp=emsp, progress=progress
            )
        except ReconciliationError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            bar.close()
        self.stdout.write(f"Period {start} .. {end} (end exclusive): {len(reports)} report(s)")
        if not reports:
            return
        header = ["CPO", "eMSP", "status", "cdrs", "credits", "kWh", "cost excl/incl"]
        header += [_COLUMNS[k] for k in Kind.values]
        rows = [header]
        for report in reports:
            totals = report.totals
            cost = "; ".join(
                f"{cur} {v['excl_vat']}/{v['incl_vat']}"
                for cur, v in sorted(totals.get("cost", {}).items())
            )
            rows.append(
                [
                    f"{report.cpo_country_code}-{report.cpo_party_id}",
                    f"{report.emsp_country_code}-{report.emsp_party_id}",
                    report.status,
                    str(totals.get("cdrs", 0)),
                    str(totals.get("credits", 0)),
                    str(totals.get("kwh", "0")),
                    cost or "-",
                    *(str(report.counts.get(k, 0)) for k in Kind.values),
                ]
            )
        widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
        for row in rows:
            self.stdout.write("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)))
        errors = {r.error for r in reports if r.error}
        for error in sorted(errors):
            self.stdout.write(self.style.WARNING(f"warning: {error}"))
