"""`manage.py settlement --period YYYY-MM [--agreement ID] [--csv FILE]`: compute (or
recompute: the same figures change nothing) the month's settlement statements of every
roaming agreement in force during it, or of one, print each, and optionally write them all
to one CSV file. See `hub.services.settlement` and docs/settlement.md."""

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.services.settlement.export import settlement_csv
from hub.services.settlement.statement import SettlementError, parse_period, settle_month
from hub.services.settlement.text import statement_text


def parse_id(value: str | None, option: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(value)
    except ValueError:
        raise CommandError(f"{option} must be a number (got {value!r})") from None
    if number <= 0:
        raise CommandError(f"{option} must be a positive number (got {value!r})")
    return number


class Command(BaseCommand):
    help = "Compute and print the month's settlement statements of roaming agreements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--period", required=True, help="The month, YYYY-MM (UTC)")
        parser.add_argument("--agreement", help="Only this agreement (its id)")
        parser.add_argument("--csv", dest="csv_file", help="Also write the statements here")

    def handle(self, *args: Any, **options: Any) -> None:
        agreement_id = parse_id(options.get("agreement"), "--agreement")
        try:
            month = parse_period(options["period"])
            statements = settle_month(month=month, agreement_id=agreement_id)
        except SettlementError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Period {month:%Y-%m}: {len(statements)} statement(s)")
        for statement in statements:
            self.stdout.write("")
            self.stdout.write(statement_text(statement))
        if options.get("csv_file"):
            target = Path(options["csv_file"])
            try:
                target.write_text(settlement_csv(statements), encoding="utf-8")
            except OSError as exc:
                raise CommandError(f"--csv: cannot write {target}: {exc}") from exc
            self.stdout.write(f"\nCSV written to {target}")
