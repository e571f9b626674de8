"""Which of a month's CDRs are disputed: listed apart on the statement with their reasons and
left out of every fee line, never silently included (docs/settlement.md, "Disputed CDRs").

A CDR is disputed when
- its price check at ingest is MISMATCH (the tariff engine's price differs beyond the CPO's
  tolerance);
- its ingest findings (hub.services.cdr_checks) include one that makes a settled figure
  unreliable: the costs, energy or time do not add up, or a credit is malformed
  (`DISPUTING_INGEST_CODES`); the other codes (a missing tariff, time dimensions that do not
  sum, a token owner mismatch) describe the CDR without putting its figures in doubt;
- the latest reconciliation report of the (CPO, eMSP) pair whose period covers the CDR's day
  has a finding for it of a kind in `DISPUTING_KINDS`: mis-priced, a duplicate, a session
  that disagrees, a credit without original, or never delivered to the eMSP (undelivered or
  dead letter: the eMSP cannot bill what it never received). A later report replaces an
  earlier one's verdict, so a finding that a rerun no longer makes is no longer open. MISSING
  (the hub has it by now), UNPRICEABLE (no tariff: nothing contradicts the CPO's price) and
  NO_SESSION (the CPO may not push sessions) do not dispute a CDR;
- it is a credit CDR whose original is unknown or disputed by these same rules: a credit
  follows its original, so a disputed CDR and its credit are left out together, whichever
  months they bill (a credit never reverses fees that were never charged).

A CDR no finished reconciliation report covers is settled, but counted as `unreconciled`: its
statement stays PROVISIONAL.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date

from django.db.models import Q

from hub.models import (
    Cdr,
    FindingKind,
    PriceCheck,
    ReconciliationFinding,
    ReconciliationReport,
    ReportStatus,
)
from hub.ocpi.routing import PartyRef

DISPUTING_KINDS: tuple[str, ...] = (
    FindingKind.UNDELIVERED,
    FindingKind.DEAD_LETTER,
    FindingKind.DUPLICATE,
    FindingKind.MISPRICED,
    FindingKind.SESSION_MISMATCH,
    FindingKind.CREDIT_WITHOUT_ORIGINAL,
)
DISPUTING_INGEST_CODES: tuple[str, ...] = (
    "COST_SUM",
    "ENERGY_SUM",
    "TOTAL_TIME",
    "END_BEFORE_START",
    "CREDIT_NOT_NEGATED",
    "CREDIT_OF_CREDIT",
    "CREDIT_CURRENCY",
)


def cdr_day(cdr: Cdr) -> date:
    """The UTC date a CDR bills: its end_date_time's (the session ended then)."""
    return cdr.end_date_time.astimezone(UTC).date()


def cdr_key(cdr: Cdr) -> str:
    return f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}"


@dataclass
class Review:
    """The verdict on a set of CDRs: reasons per disputed CDR pk, and the pks no finished
    reconciliation report covers."""

    reasons: dict[int, list[str]] = field(default_factory=dict)
    unreconciled: set[int] = field(default_factory=set)


def _own_reasons(cdr: Cdr) -> list[str]:
    reasons = []
    if cdr.price_check == PriceCheck.MISMATCH:
        reasons.append("price check MISMATCH: the tariff engine's price differs")
    for finding in cdr.findings if isinstance(cdr.findings, list) else []:
        code = finding.get("code") if isinstance(finding, dict) else None
        if code in DISPUTING_INGEST_CODES:
            reasons.append(f"ingest finding {code}: {finding.get('message', '')}".rstrip(": "))
    return reasons


def _latest_reports(
    cpo: PartyRef, emsp: PartyRef, days: set[date]
) -> tuple[dict[date, ReconciliationReport], list[ReconciliationReport]]:
    """For each day, the latest finished report of the pair that covers it."""
    if not days:
        return {}, []
    reports = list(
        ReconciliationReport.objects.filter(
            cpo_country_code=cpo.country_code,
            cpo_party_id=cpo.party_id,
            emsp_country_code=emsp.country_code,
            emsp_party_id=emsp.party_id,
            status__in=(ReportStatus.DONE, ReportStatus.PARTIAL),
            period_start__lte=max(days),
            period_end__gt=min(days),
        ).order_by("pk")
    )
    latest: dict[date, ReconciliationReport] = {}
    for day in days:
        covering = [r for r in reports if r.period_start <= day < r.period_end]
        if covering:
            latest[day] = max(covering, key=lambda r: (r.finished_at or r.created_at, r.pk))
    return latest, reports


def _review(cdrs: Sequence[Cdr], cpo: PartyRef, emsp: PartyRef) -> Review:
    review = Review()
    latest, _ = _latest_reports(cpo, emsp, {cdr_day(c) for c in cdrs})
    report_ids = {r.pk for r in latest.values()}
    by_report: dict[int, dict[object, list[str]]] = defaultdict(lambda: defaultdict(list))
    for finding in ReconciliationFinding.objects.filter(
        report_id__in=report_ids, kind__in=DISPUTING_KINDS
    ).order_by("kind", "pk"):
        text = f"reconciliation {finding.kind} (report #{finding.report_id}): {finding.message}"
        found = by_report[finding.report_id]
        # The CDR link is SET_NULL: the key names the CDR as well.
        if finding.cdr_id is not None:
            found[finding.cdr_id].append(text)
        elif finding.cdr_key:
            found[finding.cdr_key.upper()].append(text)
    for cdr in cdrs:
        reasons = _own_reasons(cdr)
        report = latest.get(cdr_day(cdr))
        if report is None:
            review.unreconciled.add(cdr.pk)
        else:
            found = by_report.get(report.pk, {})
            reasons += found.get(cdr.pk, []) or found.get(cdr_key(cdr).upper(), [])
        if reasons:
            review.reasons[cdr.pk] = reasons
    return review


def _originals(credits: Sequence[Cdr], cpo: PartyRef) -> dict[int, Cdr]:
    """The original of each credit CDR (by its link, else by credit_reference_id)."""
    linked = {c.credit_of_id for c in credits if c.credit_of_id is not None}
    refs = {c.credit_reference_id.upper() for c in credits if c.credit_of_id is None}
    refs.discard("")
    rows = list(
        Cdr.objects.filter(country_code=cpo.country_code, party_id=cpo.party_id).filter(
            Q(pk__in=linked) | Q(cdr_id__in=refs, credit=False)
        )
    )
    by_pk = {row.pk: row for row in rows}
    by_id = {row.cdr_id: row for row in rows if not row.credit}
    originals = {}
    for credit in credits:
        original = (
            by_pk.get(credit.credit_of_id)
            if credit.credit_of_id is not None
            else by_id.get(credit.credit_reference_id.upper())
        )
        if original is not None:
            originals[credit.pk] = original
    return originals


def review_cdrs(cdrs: Sequence[Cdr], cpo: PartyRef, emsp: PartyRef) -> Review:
    """The disputed CDRs among `cdrs` (all of one CPO for one eMSP) and the unreconciled."""
    review = _review(cdrs, cpo, emsp)
    credits = [c for c in cdrs if c.credit]
    originals = _originals(credits, cpo)
    elsewhere = {o.pk: o for o in originals.values() if o.pk not in {c.pk for c in cdrs}}
    judged = dict(review.reasons)
    judged.update(_review(list(elsewhere.values()), cpo, emsp).reasons)
    for credit in credits:
        original = originals.get(credit.pk)
        if original is None:
            reason = (
                f"credit of {credit.credit_reference_id or '(no credit_reference_id)'}, "
                "which the hub does not have"
            )
        elif original.pk in judged:
            reason = f"credits {original.cdr_id}, which is disputed: " + "; ".join(
                judged[original.pk]
            )
        else:
            continue
        review.reasons.setdefault(credit.pk, []).append(reason)
    return review
