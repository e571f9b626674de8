"""Monthly settlement of roaming agreements (DESIGN §6b; the rules in docs/settlement.md).

- `compute`: pure Decimal arithmetic: a month's fee lines, totals and net amounts from the
  CDR facts and the fee terms (no database).
- `disputes`: which of the period's CDRs are disputed, from their price check, their ingest
  findings and the latest reconciliation report that covers them.
- `statement`: gathering the month's CDRs of an agreement and storing the statement
  (created or replaced in place), and the monthly beat run.
- `fees`: adding and removing fee terms (validated like the admin form).
- `export`: a statement as CSV (lines, net amounts and disputed CDRs in one file).
"""
