"""CDR reconciliation (DESIGN §6): for a period, pull each CPO's CDR list, compare it with the
hub's store and with what each eMSP acknowledged, and keep one report per (CPO, eMSP, period).

OCPI 2.2.1 `mod_cdrs.asciidoc`: a CPO SENDER serves its CDRs as a paginated list filtered on
`last_updated` (`date_from` inclusive, `date_to` exclusive); CDRs are immutable, corrections
are credit CDRs (`credit=true`, `credit_reference_id` = the credited CDR's `id`). The spec says
nothing about reconciliation itself; the choices below are the hub's (GIREVE and OCN clear CDRs
the same way: a periodic comparison of the CPO's list with what was forwarded).

Definitions (each finding names one CDR; a report counts findings per kind):
- Period membership: a CDR belongs to the period its `end_date_time` falls in (UTC,
  `period_end` exclusive): the session it bills ended then. The pull asks the CPO for
  `last_updated` in [period_start, period_end + OCPI_RECONCILE_PULL_SLACK_S) because a CDR is
  issued after its session ended.
- MISSING: listed by the CPO but not in the hub's store. It is ingested then through the CDR
  service (validated, stored, delivered to its eMSP like a push). The finding is kept by later
  runs of the same period (the CDR is in the store by then), so a rerun changes nothing.
- UNDELIVERED: no "cdrs" delivery of the CDR to its eMSP is DELIVERED although the hub has
  had the CDR for OCPI_RECONCILE_DELIVERY_GRACE_S (still pending, refused, cancelled or never
  enqueued). DEAD_LETTER: its retry window passed (status DEAD), waiting for staff.
- DUPLICATE: a non-credit CDR, not credited, whose content equals an earlier (received first)
  CDR of the same CPO under another id: the same non-empty `session_id`, or the same token
  (uid, type), start, end and total_energy. One finding per later copy; credited CDRs are
  excluded because "credit + new CDR" is the spec's way of correcting one.
- MISPRICED: the tariff engine's total (excl and, when both known, incl VAT) differs from the
  reported total_cost by more than the CPO's tolerance. UNPRICEABLE: the engine could not price
  it (no tariff, not enough data). Credit CDRs are not priced. The engine's verdict is taken
  once, when the CDR is stored (`verdict`), with the tariffs in force then; a CDR stored
  before any of its tariffs was known is priced when reconciled.
- NO_SESSION: the CDR names a `session_id` the hub never saw (from that CPO).
  SESSION_MISMATCH: the Session's `total_cost` (excl VAT) or `kwh` differs from the CDR's beyond
  the tolerances.
- CREDIT_WITHOUT_ORIGINAL: a credit CDR whose `credit_reference_id` names no CDR of the CPO.

Totals per report: `cdrs` (non-credit) and `credits` counted, `kwh` summed over non-credit
CDRs, and `cost` per currency: the net of all CDRs (credits are negative), excl and incl VAT,
as Decimal strings (incl_vat sums the CDRs that report it; `incl_vat_missing` counts the rest).

The modules: `findings` (the vocabulary and the store-side checks), `verdict` (the price
verdict taken at ingest), `facts` (the proofs recorded on the CDR row as they happen: delivered,
no copy, its Session agreeing), `suspects` (one SQL query leaving out the CDRs no check can find
anything in, so a quiet month is not loaded into Python; an eMSP whose CDRs are all proven by
their rows is not even queried), `pull` (the CPO's list, ingesting
what is missing), `report` (`reconcile`, stored reports, the daily run), `export` (CSV).
"""
