"""Settlement statements as CSV: one file, one header row; per statement its fee lines, the net
amount of each party per currency, and the disputed CDRs kept apart (formula-safe cells)."""

import io
from collections.abc import Iterable

from hub.models import SettlementStatement
from hub.services.settlement.compute import PARTIES, money_text
from hub.services.staff import SafeCsvWriter

CSV_COLUMNS = (
    "section",
    "agreement",
    "cpo",
    "emsp",
    "period",
    "status",
    "kind",
    "fee_term",
    "quantity",
    "unit_amount",
    "amount",
    "currency",
    "payer",
    "payee",
    "detail",
)


def settlement_csv(statements: Iterable[SettlementStatement]) -> str:
    """The statements as CSV. Sections: `line` (a fee: payer pays payee `amount`), `net` (in
    `payee`, the party; `amount` positive = receives, negative = pays), `disputed` (a CDR
    left out: its key in `detail`, its cost in `amount`, its reasons after it)."""
    out = io.StringIO()
    # Partner identifiers end up in spreadsheets: no formulas (hub.services.staff).
    writer = SafeCsvWriter(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for statement in statements:
        agreement = statement.agreement
        head = (
            agreement.pk,
            f"{agreement.cpo_country_code}-{agreement.cpo_party_id}",
            f"{agreement.emsp_country_code}-{agreement.emsp_party_id}",
            f"{statement.period:%Y-%m}",
            statement.status,
        )
        for line in statement.lines.order_by("position", "pk"):
            writer.writerow(
                (
                    "line",
                    *head,
                    line.kind,
                    line.fee_term_id or "",
                    format(line.quantity, "f"),
                    format(line.unit_amount, "f"),
                    money_text(line.amount, line.currency),
                    line.currency,
                    line.payer,
                    line.payee,
                    line.detail,
                )
            )
        for currency, parties in sorted((statement.net or {}).items()):
            for party in PARTIES:  # jsonb keeps no key order: the parties' fixed order
                amount = parties.get(party, "")
                writer.writerow(("net", *head, "", "", "", "", amount, currency, "", party, ""))
        for item in statement.disputed or []:
            writer.writerow(
                (
                    "disputed",
                    *head,
                    "",
                    "",
                    "",
                    "",
                    item.get("total_cost_excl_vat", ""),
                    item.get("currency", ""),
                    "",
                    "",
                    f"{item.get('key', '')}: " + "; ".join(item.get("reasons", [])),
                )
            )
    return out.getvalue()
