"""`manage.py roaming_fee add|list|remove`: the fee terms of roaming agreements
(docs/settlement.md).

    roaming_fee add --agreement ID --kind PER_SESSION --amount 0.40 --currency EUR \\
        --payer EMSP --payee HUB [--valid-from YYYY-MM-DD] [--valid-to YYYY-MM-DD] [--note ...]
    roaming_fee list [--agreement ID]
    roaming_fee remove ID

A revenue share's amount is a percent and takes no currency (each CDR's applies)."""

from datetime import date
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from hub.management.commands.reconcile_cdrs import parse_day
from hub.management.commands.settlement import parse_id
from hub.models import FeeKind, FeeParty, FeeTerm
from hub.services.settlement.fees import FeeTermError, fee_term_add, fee_term_remove, parse_amount
from hub.services.settlement.statement import SettlementError, get_agreement


def _day(value: str | None, option: str) -> date | None:
    return parse_day(value, option) if value else None


class Command(BaseCommand):
    help = "Add, list or remove the fee terms of roaming agreements."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Add a fee term to an agreement")
        add.add_argument("--agreement", required=True, help="The agreement's id")
        add.add_argument("--kind", required=True, choices=FeeKind.values)
        add.add_argument("--amount", required=True, help="Per unit; a percent for REVENUE_SHARE")
        add.add_argument("--currency", default="", help="ISO 4217 (none for REVENUE_SHARE)")
        add.add_argument("--payer", required=True, choices=FeeParty.values)
        add.add_argument("--payee", required=True, choices=FeeParty.values)
        add.add_argument("--valid-from", help="First day the term applies (YYYY-MM-DD)")
        add.add_argument("--valid-to", help="Last day the term applies (YYYY-MM-DD)")
        add.add_argument("--note", default="")
        listing = actions.add_parser("list", help="List fee terms")
        listing.add_argument("--agreement", help="Only this agreement's")
        remove = actions.add_parser("remove", help="Remove a fee term")
        remove.add_argument("id", help="The fee term's id")

    def handle(self, *args: Any, **options: Any) -> None:
        action = options["action"]
        try:
            if action == "add":
                self._add(options)
            elif action == "list":
                self._list(options)
            else:
                term_id = parse_id(options["id"], "id")
                term = fee_term_remove(term_id=term_id or 0)
                self.stdout.write(f"Removed fee term {term_id}: {term}")
        except (FeeTermError, SettlementError) as exc:
            raise CommandError(str(exc)) from exc

    def _add(self, options: dict[str, Any]) -> None:
        agreement = get_agreement(options["agreement"])
        term = fee_term_add(
            agreement=agreement,
            kind=options["kind"],
            amount=parse_amount(options["amount"]),
            currency=options["currency"] or "",
            payer=options["payer"],
            payee=options["payee"],
            valid_from=_day(options.get("valid_from"), "--valid-from"),
            valid_to=_day(options.get("valid_to"), "--valid-to"),
            note=options["note"],
        )
        self.stdout.write(f"Added fee term {term.pk} to agreement {agreement.pk}: {term}")

    def _list(self, options: dict[str, Any]) -> None:
        terms = FeeTerm.objects.select_related("agreement").order_by("agreement_id", "kind", "pk")
        if options.get("agreement"):
            terms = terms.filter(agreement=get_agreement(options["agreement"]))
        rows = [["id", "agreement", "kind", "amount", "payer → payee", "valid"]]
        for term in terms:
            unit = "%" if term.kind == FeeKind.REVENUE_SHARE else f" {term.currency}"
            rows.append(
                [
                    str(term.pk),
                    f"#{term.agreement_id} {term.agreement}",
                    term.kind,
                    f"{term.amount.normalize():f}{unit}",
                    f"{term.payer} → {term.payee}",
                    f"{term.valid_from or '…'} .. {term.valid_to or '…'}",
                ]
            )
        if len(rows) == 1:
            self.stdout.write("No fee terms.")
            return
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        for row in rows:
            line = "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True))
            self.stdout.write(line.rstrip())
