"""Reconciliation reports: for a period, which CPOs, the pull and the checks per (CPO, eMSP)
pair, and one stored report per pair with its findings and totals (created or replaced);
`reconcile_previous_day` is the beat's daily run."""

import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, date, timedelta
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.models import (
    Cdr,
    ConnectionStatus,
    PlatformRole,
    ReconciliationFinding,
    ReconciliationReport,
    ReportStatus,
    Role,
)
from hub.ocpi.routing import PartyRef
from hub.services.reconciliation.findings import (
    Finding,
    Kind,
    ReconciliationError,
    credit_findings,
    credited_ids,
    delivery_findings,
    duplicate_findings,
    fmt_decimal,
    price_findings,
    price_tolerance,
    session_findings,
    tolerance_overrides,
)
from hub.services.reconciliation.pull import Progress, period_bounds, pull_cdrs

logger = logging.getLogger(__name__)


def _cpo_roles(cpo: PartyRef | None) -> list[PlatformRole]:
    roles = PlatformRole.objects.select_related("platform").filter(role=Role.CPO)
    if cpo is not None:
        found = list(roles.filter(country_code=cpo.country_code, party_id=cpo.party_id))
        if not found:
            raise ReconciliationError(f"No CPO {cpo} is registered with the hub")
        return found[:1]
    # Every registered CPO party: those without a SENDER still get the store-side checks.
    return list(
        roles.filter(platform__registered=True)
        .exclude(platform__status=ConnectionStatus.SUSPENDED)
        .order_by("country_code", "party_id")
    )


def _totals(cdrs: Iterable[Cdr]) -> dict[str, Any]:
    count = credits = incl_missing = 0
    kwh = Decimal(0)
    cost: dict[str, dict[str, Decimal]] = defaultdict(
        lambda: {"excl_vat": Decimal(0), "incl_vat": Decimal(0)}
    )
    for cdr in cdrs:
        if cdr.credit:
            credits += 1
        else:
            count += 1
            kwh += cdr.total_energy
        cost[cdr.currency]["excl_vat"] += cdr.total_cost_excl_vat
        if cdr.total_cost_incl_vat is None:
            incl_missing += 1
        else:
            cost[cdr.currency]["incl_vat"] += cdr.total_cost_incl_vat
    return {
        "cdrs": count,
        "credits": credits,
        "kwh": fmt_decimal(kwh),
        "cost": {
            currency: {k: fmt_decimal(v) for k, v in amounts.items()}
            for currency, amounts in sorted(cost.items())
        },
        "incl_vat_missing": incl_missing,
    }


def store_report(
    cpo: PartyRef,
    emsp: PartyRef,
    period_start: date,
    period_end: date,
    cdrs: list[Cdr],
    findings: list[Finding],
    error: str,
) -> ReconciliationReport:
    """Create or replace the (CPO, eMSP, period) report: one row, its findings rewritten."""
    identity = {  # one report per (CPO, eMSP, period)
        "cpo_country_code": cpo.country_code,
        "cpo_party_id": cpo.party_id,
        "emsp_country_code": emsp.country_code,
        "emsp_party_id": emsp.party_id,
        "period_start": period_start,
        "period_end": period_end,
    }
    with transaction.atomic():
        existing = list(
            ReconciliationReport.objects.select_for_update().filter(**identity).order_by("pk")
        )
        report = existing[0] if existing else None
        if len(existing) > 1:  # not expected; keep one
            ReconciliationReport.objects.filter(pk__in=[r.pk for r in existing[1:]]).delete()
        if report is not None:
            # MISSING is a fact about an earlier run (the CDR is in the store by now): kept.
            new_keys = {f.cdr_key for f in findings if f.kind == Kind.MISSING}
            for old in report.findings.filter(kind=Kind.MISSING).select_related("cdr"):
                if old.cdr_key not in new_keys:
                    findings.append(
                        Finding(old.kind, old.cdr, old.cdr_key, old.message, old.detail)
                    )
            report.findings.all().delete()
        else:
            report = ReconciliationReport(**identity)
        order = {kind: i for i, kind in enumerate(Kind.values)}
        findings.sort(key=lambda f: (order.get(f.kind, 99), f.cdr_key))
        counts = dict.fromkeys(Kind.values, 0)
        for finding in findings:
            counts[finding.kind] = counts.get(finding.kind, 0) + 1
        # A CDR ingested now (MISSING) that is not in `cdrs` (refused) adds nothing to totals.
        report.totals = _totals(cdrs)
        report.counts = counts
        report.status = ReportStatus.PARTIAL if error else ReportStatus.DONE
        report.error = error
        report.finished_at = timezone.now()
        report.save()
        ReconciliationFinding.objects.bulk_create(
            ReconciliationFinding(
                report=report,
                kind=f.kind,
                cdr=f.cdr,
                cdr_key=f.cdr_key,
                message=f.message,
                detail=f.detail,
            )
            for f in findings
        )
    return report


def reconcile(
    *,
    period_start: date,
    period_end: date,
    cpo: PartyRef | None = None,
    emsp: PartyRef | None = None,
    progress: Progress | None = None,
) -> list[ReconciliationReport]:
    """Reconcile the CDRs of [period_start, period_end) (see the module doc); one report per
    (CPO, eMSP) pair with CDRs in the period (or findings), created or replaced."""
    if period_end <= period_start:
        raise ReconciliationError(
            f"The period is empty: {period_start} .. {period_end} (the end is exclusive)"
        )
    tolerance_overrides()  # a malformed override is an error before anything is pulled
    roles = _cpo_roles(cpo)
    start, end = period_bounds(period_start, period_end)
    now = timezone.now()
    reports: list[ReconciliationReport] = []
    for index, role in enumerate(roles):
        party = PartyRef.of(role.country_code, role.party_id)
        pulled = pull_cdrs(role, period_start, period_end, progress)
        tolerance = price_tolerance(party)
        in_period = Cdr.objects.filter(
            country_code=party.country_code,
            party_id=party.party_id,
            end_date_time__gte=start,
            end_date_time__lt=end,
        ).order_by("received_at", "pk")
        if emsp is not None:
            in_period = in_period.filter(
                token_country_code=emsp.country_code, token_party_id=emsp.party_id
            )
        by_emsp: dict[PartyRef, list[Cdr]] = defaultdict(list)
        for cdr in in_period:
            by_emsp[PartyRef.of(cdr.token_country_code, cdr.token_party_id)].append(cdr)
        pairs = set(by_emsp) | {e for e in pulled.missing if emsp is None or e == emsp}
        credited = credited_ids(party)
        for target in sorted(pairs, key=str):
            cdrs = by_emsp.get(target, [])
            findings = list(pulled.missing.get(target, []))
            findings += delivery_findings(cdrs, target, now)
            findings += duplicate_findings(cdrs, party, credited)
            findings += price_findings(cdrs, tolerance)
            findings += session_findings(cdrs, party, tolerance)
            findings += credit_findings(cdrs, party)
            reports.append(
                store_report(party, target, period_start, period_end, cdrs, findings, pulled.error)
            )
        if progress is not None:
            progress("CPOs", index + 1, len(roles))
        if not pairs and pulled.error:
            logger.warning("Reconciliation of %s: %s", party, pulled.error)
    return reports


def reconcile_previous_day() -> list[int]:
    """The beat job: reconcile yesterday (UTC) for every CPO; returns the report ids."""
    today = timezone.now().astimezone(UTC).date()
    reports = reconcile(period_start=today - timedelta(days=1), period_end=today)
    return [r.pk for r in reports]
