"""Reconciliation reports: for a period, which CPOs, the pull and the checks per (CPO, eMSP)
pair, and one stored report per pair with its findings and totals (created or replaced);
`reconcile_previous_day` is the beat's daily run."""

import logging
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, date, timedelta
from decimal import Decimal
from itertools import islice
from typing import Any

from django.db import connection, transaction
from django.db.models import Case, Count, Q, QuerySet, Sum
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
    ZoneLookup,
    credit_findings,
    credited_ids,
    delivery_findings,
    duplicate_findings,
    fmt_decimal,
    kwh_tolerance_setting,
    price_findings,
    price_tolerance,
    session_findings,
    tolerance_overrides,
)
from hub.services.reconciliation.pull import Progress, period_bounds, pull_cdrs
from hub.services.reconciliation.suspects import (
    needing_checks,
    planned_without_jit,
    proven_clean,
)

logger = logging.getLogger(__name__)

# CDRs checked at a time: each check costs a few queries per chunk (IN lists of this size).
CHUNK_SIZE = 2000


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


class Totals:
    """A report's totals (see the package doc), added up one chunk of CDRs at a time so that
    a run never holds a whole period's CDRs (Decimal sums of 4-place amounts are exact: the
    order they are added in does not change them)."""

    def __init__(self) -> None:
        self.count = self.credits = self.incl_missing = 0
        # CDRs whose row does not prove them clean (suspects.proven_clean): when none, the
        # checks have nothing to read. Not part of the report's totals.
        self.unproven = 0
        self.kwh = Decimal(0)
        self.cost: dict[str, dict[str, Decimal]] = defaultdict(
            lambda: {"excl_vat": Decimal(0), "incl_vat": Decimal(0)}
        )

    def add_row(
        self,
        credit: bool,
        currency: str,
        energy: Decimal,
        excl: Decimal,
        incl: Decimal | None,
        proven: int,
    ) -> None:
        self.unproven += 1 - proven
        if credit:
            self.credits += 1
        else:
            self.count += 1
            self.kwh += energy
        self.cost[currency]["excl_vat"] += excl
        if incl is None:
            self.incl_missing += 1
        else:
            self.cost[currency]["incl_vat"] += incl

    def merge(self, other: "Totals") -> None:
        self.count += other.count
        self.credits += other.credits
        self.incl_missing += other.incl_missing
        self.unproven += other.unproven
        self.kwh += other.kwh
        for currency, amounts in other.cost.items():
            for part, value in amounts.items():
                self.cost[currency][part] += value

    @classmethod
    def per_token_party(cls, rows: QuerySet[Cdr], proven: Case) -> dict[tuple[str, str], "Totals"]:
        """The totals of `rows` per token party as stored, in one pass over them: the token
        parties with CDRs (the eMSPs a run reports on) and their totals come from one query.
        PostgreSQL adds them up (numeric: exact, as Decimal is); other engines store decimals
        as floating point, so their rows are streamed and added up here."""
        found: dict[tuple[str, str], Totals] = defaultdict(cls)
        party = ("token_country_code", "token_party_id")
        if connection.vendor != "postgresql":
            money = ("credit", "currency", "total_energy", "total_cost_excl_vat")
            for row in (
                rows.order_by()
                .annotate(proven=proven)
                .values_list(*party, *money, "total_cost_incl_vat", "proven")
                .iterator(chunk_size=CHUNK_SIZE)
            ):
                found[row[0], row[1]].add_row(*row[2:])
            return dict(found)
        grouped = (
            rows.order_by()
            .values(*party, "currency", "credit")
            .annotate(
                n=Count("pk"),
                kwh=Sum("total_energy"),
                excl=Sum("total_cost_excl_vat"),
                incl=Sum("total_cost_incl_vat"),
                incl_missing=Count("pk", filter=Q(total_cost_incl_vat__isnull=True)),
                proven=Sum(proven),
            )
        )
        for row in grouped:
            totals = found[row["token_country_code"], row["token_party_id"]]
            if row["credit"]:
                totals.credits += row["n"]
            else:
                totals.count += row["n"]
                totals.kwh += row["kwh"] or 0
            amounts = totals.cost[row["currency"]]
            amounts["excl_vat"] += row["excl"] or 0
            amounts["incl_vat"] += row["incl"] or 0
            totals.incl_missing += row["incl_missing"]
            totals.unproven += row["n"] - row["proven"]
        return dict(found)

    def as_json(self) -> dict[str, Any]:
        return {
            "cdrs": self.count,
            "credits": self.credits,
            "kwh": fmt_decimal(self.kwh),
            "cost": {
                currency: {k: fmt_decimal(v) for k, v in amounts.items()}
                for currency, amounts in sorted(self.cost.items())
            },
            "incl_vat_missing": self.incl_missing,
        }


def store_report(
    cpo: PartyRef,
    emsp: PartyRef,
    period_start: date,
    period_end: date,
    totals: Totals,
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
        # A CDR ingested now (MISSING) that is not in the period's CDRs (refused) adds nothing
        # to totals.
        report.totals = totals.as_json()
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
        kwh_tolerance = kwh_tolerance_setting()
        in_period = Cdr.objects.filter(
            country_code=party.country_code,
            party_id=party.party_id,
            end_date_time__gte=start,
            end_date_time__lt=end,
        )
        if emsp is not None:
            in_period = in_period.filter(
                token_country_code=emsp.country_code, token_party_id=emsp.party_id
            )
        # Each eMSP with CDRs in the period, with the token parties as stored that name it.
        proven = proven_clean(tolerance=tolerance, kwh_tolerance=kwh_tolerance)
        per_party = Totals.per_token_party(in_period, proven)
        with_cdrs: dict[PartyRef, list[tuple[str, str]]] = defaultdict(list)
        for stored in per_party:
            with_cdrs[PartyRef.of(*stored)].append(stored)
        pairs = set(with_cdrs) | {e for e in pulled.missing if emsp is None or e == emsp}
        credited = credited_ids(party)
        zones = ZoneLookup()
        for target in sorted(pairs, key=str):
            findings = list(pulled.missing.get(target, []))
            totals = Totals()
            if target in with_cdrs:
                for stored in with_cdrs[target]:
                    totals.merge(per_party[stored])
            if totals.unproven:
                of_target = _of_target(in_period, with_cdrs[target])
                # Only the CDRs a check could find something in are read (suspects module).
                suspects = needing_checks(
                    of_target,
                    cpo=party,
                    emsp=target,
                    tolerance=tolerance,
                    kwh_tolerance=kwh_tolerance,
                )
                with planned_without_jit():
                    for cdrs in _chunks(suspects):
                        findings += delivery_findings(cdrs, target, now)
                        findings += duplicate_findings(cdrs, party, credited)
                        findings += price_findings(cdrs, tolerance, zones)
                        findings += session_findings(cdrs, party, tolerance)
                        findings += credit_findings(cdrs, party)
            reports.append(
                store_report(
                    party, target, period_start, period_end, totals, findings, pulled.error
                )
            )
        if progress is not None:
            progress("CPOs", index + 1, len(roles))
        if not pairs and pulled.error:
            logger.warning("Reconciliation of %s: %s", party, pulled.error)
    return reports


def _of_target(in_period: QuerySet[Cdr], tokens: list[tuple[str, str]]) -> QuerySet[Cdr]:
    """The period's CDRs of one eMSP (`tokens`: its token parties as stored)."""
    named = Q(pk__in=[])
    for country_code, party_id in tokens:
        named |= Q(token_country_code=country_code, token_party_id=party_id)
    return in_period.filter(named)


def _chunks(rows: QuerySet[Cdr]) -> Iterator[list[Cdr]]:
    """`rows` in order of receipt, CHUNK_SIZE at a time: each check judges a CDR by itself and
    the store (the duplicate pool included), so checking chunk by chunk finds what checking
    them all at once would, in memory bounded by the chunk."""
    ordered = rows.order_by("received_at", "pk").iterator(chunk_size=CHUNK_SIZE)
    while chunk := list(islice(ordered, CHUNK_SIZE)):
        yield chunk


def reconcile_previous_day() -> list[int]:
    """The beat job: reconcile yesterday (UTC) for every CPO; returns the report ids."""
    today = timezone.now().astimezone(UTC).date()
    reports = reconcile(period_start=today - timedelta(days=1), period_end=today)
    return [r.pk for r in reports]
