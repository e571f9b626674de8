"""A settlement statement as plain text, for the `settlement` command and logs."""

from datetime import UTC

from hub.models import FeeParty, SettlementStatement
from hub.services.settlement.compute import PARTIES, money_text

PARTY_LABELS = dict(FeeParty.choices)


def _table(rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        indent + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def statement_text(statement: SettlementStatement) -> str:
    """Heading, totals, the disputed CDRs, the fee lines and the net per currency."""
    agreement = statement.agreement
    totals = statement.totals or {}
    computed = statement.computed_at.astimezone(UTC)
    out = [
        f"Settlement {statement.period:%Y-%m} · agreement #{agreement.pk} "
        f"CPO {agreement.cpo_country_code}*{agreement.cpo_party_id} ↔ "
        f"eMSP {agreement.emsp_country_code}*{agreement.emsp_party_id} · {statement.status} · "
        f"computed {computed:%Y-%m-%d %H:%M:%S} UTC",
    ]
    credits = totals.get("credits", 0)
    costs = "; ".join(
        f"{currency} {amounts['excl_vat']} excl. / {amounts['incl_vat']} incl. VAT"
        for currency, amounts in sorted((totals.get("cost") or {}).items())
    )
    out.append(
        f"Settled CDRs: {totals.get('cdrs', 0)}"
        + (f" and {credits} credit(s)" if credits else "")
        + f", {totals.get('sessions', 0)} session(s) net, {totals.get('kwh', '0')} kWh, "
        f"{totals.get('hours', '0')} charging h; cost {costs or 'none'}"
    )
    notes = []
    if totals.get("outside_agreement"):
        notes.append(f"{totals['outside_agreement']} outside the agreement's validity")
    if totals.get("unreconciled"):
        notes.append(f"{totals['unreconciled']} not reconciled yet")
    if notes:
        out.append("Not settled or provisional: " + "; ".join(notes))
    disputed = statement.disputed or []
    out.append(f"Disputed CDRs (left out of the fees): {len(disputed) or 'none'}")
    for item in disputed:
        out.append(
            f"  {item['key']}  {item['currency']} {item['total_cost_excl_vat']}"
            + ("  (credit)" if item.get("credit") else "")
        )
        out += [f"      {reason}" for reason in item.get("reasons", [])]
    lines = list(statement.lines.order_by("position", "pk"))
    if lines:
        out.append("Fees:")
        rows = [["kind", "quantity", "unit", "amount", "payer → payee", "detail"]]
        rows += [
            [
                line.kind,
                format(line.quantity.normalize(), "f"),
                format(line.unit_amount.normalize(), "f"),
                f"{money_text(line.amount, line.currency)} {line.currency}",
                f"{PARTY_LABELS[line.payer]} → {PARTY_LABELS[line.payee]}",
                line.detail,
            ]
            for line in lines
        ]
        out += _table(rows)
    else:
        out.append("Fees: none")
    if statement.net:
        out.append("Net (+ receives, − pays):")
        rows = [
            # PostgreSQL's jsonb does not keep key order: the parties in their fixed order.
            [currency] + [f"{PARTY_LABELS[party]} {parties.get(party, '')}" for party in PARTIES]
            for currency, parties in sorted(statement.net.items())
        ]
        out += _table(rows)
    return "\n".join(out)
