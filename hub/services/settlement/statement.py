"""A month's settlement statement of one roaming agreement: its CDRs gathered, the disputed
ones kept apart, the fee lines computed (`compute`) and the statement stored, created or
replaced in place; `settle_previous_month` is the beat's monthly run.

The month's CDRs: the CPO party's CDRs whose cdr_token names the eMSP party
(`Cdr.token_country_code/token_party_id`) and whose end_date_time falls within the calendar
month in UTC (the session ended then, as reconciliation counts it). The agreement's validity
is read from its dates; its current status is not, so a statement of a past month does not
change because the agreement was suspended or ended since (ending one sets `valid_to`)."""

import logging
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from hub.models import (
    AgreementScope,
    Cdr,
    FeeTerm,
    RoamingAgreement,
    SettlementLine,
    SettlementStatement,
    StatementStatus,
)
from hub.ocpi.routing import PartyRef
from hub.services.settlement.compute import (
    CdrFacts,
    Computed,
    TermFacts,
    Window,
    compute_month,
    month_days,
)
from hub.services.settlement.disputes import Review, cdr_day, cdr_key, review_cdrs

logger = logging.getLogger(__name__)


class SettlementError(Exception):
    """A settlement cannot run: a bad period, an unknown agreement, an agreement not in force."""


def parse_period(text: str) -> date:
    """`YYYY-MM` → the month's first day."""
    try:
        year, month = text.split("-")
        if len(year) != 4 or len(month) != 2:
            raise ValueError(text)
        return date(int(year), int(month), 1)
    except ValueError:
        raise SettlementError(f"the period must be a month YYYY-MM (got {text!r})") from None


def this_month(now: datetime | None = None) -> date:
    return (now or timezone.now()).astimezone(UTC).date().replace(day=1)


def check_period(month: date, now: datetime | None = None) -> None:
    """A month not begun yet has nothing to settle (the current one is PROVISIONAL)."""
    if month.day != 1:
        raise SettlementError(f"the period must be a month's first day (got {month})")
    if month > this_month(now):
        raise SettlementError(f"{month:%Y-%m} is in the future: it cannot be settled yet")


def previous_month(month: date) -> date:
    return date(month.year - 1, 12, 1) if month.month == 1 else date(month.year, month.month - 1, 1)


def _last_day(month: date) -> date:
    return month_days(month)[-1]


def agreements_in_force(month: date) -> QuerySet[RoamingAgreement]:
    """The agreements whose validity covers a day of the month."""
    return RoamingAgreement.objects.filter(valid_from__lte=_last_day(month)).filter(
        Q(valid_to__isnull=True) | Q(valid_to__gte=month)
    )


def _window(start: date | None, end: date | None) -> Window:
    return Window(start, end)


def _parties(agreement: RoamingAgreement) -> tuple[PartyRef, PartyRef]:
    return (
        PartyRef.of(agreement.cpo_country_code, agreement.cpo_party_id),
        PartyRef.of(agreement.emsp_country_code, agreement.emsp_party_id),
    )


def period_cdrs(agreement: RoamingAgreement, month: date) -> list[Cdr]:
    """The CPO's CDRs for the eMSP that ended within the month (UTC), in a stable order."""
    cpo, emsp = _parties(agreement)
    start = datetime.combine(month, time.min, tzinfo=UTC)
    end_day = _last_day(month)
    end = datetime.combine(date.fromordinal(end_day.toordinal() + 1), time.min, tzinfo=UTC)
    return list(
        Cdr.objects.filter(
            country_code=cpo.country_code,
            party_id=cpo.party_id,
            token_country_code=emsp.country_code,
            token_party_id=emsp.party_id,
            end_date_time__gte=start,
            end_date_time__lt=end,
        ).order_by("end_date_time", "pk")
    )


def _number(value: Any) -> Decimal:
    if value is None or isinstance(value, bool):
        return Decimal(0)
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return Decimal(0)


def cdr_facts(cdr: Cdr) -> CdrFacts:
    """What settlement reads of a CDR. Charging hours = total_time − total_parking_time
    (2.2.1 mod_cdrs: total_time includes not charging; total_parking_time, optional, is the
    part without energy transfer), never below zero."""
    parking = _number(cdr.data.get("total_parking_time") if isinstance(cdr.data, dict) else None)
    hours = max(abs(cdr.total_time) - abs(parking), Decimal(0))
    return CdrFacts(
        key=cdr_key(cdr),
        day=cdr_day(cdr),
        currency=cdr.currency,
        credit=cdr.credit,
        kwh=cdr.total_energy,
        charging_hours=hours,
        cost_excl_vat=cdr.total_cost_excl_vat,
        cost_incl_vat=cdr.total_cost_incl_vat,
    )


def term_facts(term: FeeTerm) -> TermFacts:
    return TermFacts(
        id=term.pk,
        kind=term.kind,
        payer=term.payer,
        payee=term.payee,
        amount=term.amount,
        currency=term.currency,
        window=_window(term.valid_from, term.valid_to),
    )


def _disputed_list(cdrs: list[Cdr], review: Review) -> list[dict[str, Any]]:
    return [
        {
            "cdr": cdr.pk,
            "key": cdr_key(cdr),
            "day": cdr_day(cdr).isoformat(),
            "currency": cdr.currency,
            "total_cost_excl_vat": format(cdr.total_cost_excl_vat, "f"),
            "credit": cdr.credit,
            "reasons": review.reasons[cdr.pk],
        }
        for cdr in sorted(cdrs, key=lambda c: (cdr_key(c), c.pk))
        if cdr.pk in review.reasons
    ]


def compute_statement(
    agreement: RoamingAgreement, month: date, now: datetime | None = None
) -> tuple[Computed, list[dict[str, Any]], str]:
    """The statement's content, unstored: computed figures, disputed CDRs, status."""
    cpo, emsp = _parties(agreement)
    cdrs = period_cdrs(agreement, month)
    review = review_cdrs(cdrs, cpo, emsp)
    settled = [c for c in cdrs if c.pk not in review.reasons]
    computed = compute_month(
        month=month,
        agreement=_window(agreement.valid_from, agreement.valid_to),
        has_status_scope=agreement.allows(AgreementScope.EVSE_STATUS),
        terms=[term_facts(t) for t in agreement.fee_terms.order_by("pk")],
        cdrs=[cdr_facts(c) for c in settled],
    )
    disputed = _disputed_list(cdrs, review)
    computed.totals["disputed"] = len(disputed)
    unreconciled = len([c for c in settled if c.pk in review.unreconciled])
    computed.totals["unreconciled"] = unreconciled
    today = (now or timezone.now()).astimezone(UTC).date()
    over = today > _last_day(month)
    status = (
        StatementStatus.RECONCILED if over and not unreconciled else StatementStatus.PROVISIONAL
    )
    return computed, disputed, status


_LINE_FIELDS = (
    "fee_term_id",
    "kind",
    "quantity",
    "unit_amount",
    "amount",
    "currency",
    "payer",
    "payee",
    "detail",
    "position",
)


def _line_values(computed: Computed) -> list[dict[str, Any]]:
    return [
        {
            "fee_term_id": line.term_id,
            "kind": line.kind,
            "quantity": line.quantity,
            "unit_amount": line.unit_amount,
            "amount": line.amount,
            "currency": line.currency,
            "payer": line.payer,
            "payee": line.payee,
            "detail": line.detail,
            "position": position,
        }
        for position, line in enumerate(computed.lines)
    ]


def settle_agreement(
    *, agreement: RoamingAgreement, month: date, now: datetime | None = None
) -> SettlementStatement:
    """Compute and store the agreement's statement for the month (one row per agreement and
    month, replaced in place). A rerun that finds the same figures writes nothing, so its
    `computed_at` and line ids stay; changed figures are written over the same rows."""
    check_period(month, now)
    computed, disputed, status = compute_statement(agreement, month, now)
    values = _line_values(computed)
    fields = {"status": status, "totals": computed.totals, "net": computed.net}
    with transaction.atomic():
        statement, created = SettlementStatement.objects.select_for_update().get_or_create(
            agreement=agreement,
            period=month,
            defaults={**fields, "disputed": disputed, "computed_at": now or timezone.now()},
        )
        lines = list(statement.lines.order_by("position", "pk"))
        same = (
            not created
            and all(getattr(statement, k) == v for k, v in fields.items())
            and statement.disputed == disputed
            and [{k: getattr(row, k) for k in _LINE_FIELDS} for row in lines] == values
        )
        if same:
            return statement
        if not created:
            for name, value in fields.items():
                setattr(statement, name, value)
            statement.disputed = disputed
            statement.computed_at = now or timezone.now()
            statement.save()
        # Rows are reused in order, so an unchanged line keeps its id.
        for row, value in zip(lines, values, strict=False):
            for name, item in value.items():
                setattr(row, name, item)
            row.save()
        SettlementLine.objects.filter(pk__in=[row.pk for row in lines[len(values) :]]).delete()
        SettlementLine.objects.bulk_create(
            SettlementLine(statement=statement, **value) for value in values[len(lines) :]
        )
    return statement


def get_agreement(agreement_id: int | str) -> RoamingAgreement:
    try:
        return RoamingAgreement.objects.get(pk=int(agreement_id))
    except (ValueError, RoamingAgreement.DoesNotExist):
        raise SettlementError(f"no roaming agreement with id {agreement_id}") from None


def settle_month(
    *, month: date, agreement_id: int | None = None, now: datetime | None = None
) -> list[SettlementStatement]:
    """Settle the month for one agreement (which must have been in force in it) or for every
    agreement in force during it."""
    check_period(month, now)
    if agreement_id is not None:
        agreement = get_agreement(agreement_id)
        if not agreements_in_force(month).filter(pk=agreement.pk).exists():
            raise SettlementError(
                f"agreement {agreement.pk} ({agreement}) was not in force in {month:%Y-%m}: "
                f"valid {agreement.valid_from} .. {agreement.valid_to or 'open-ended'}"
            )
        agreements = [agreement]
    else:
        agreements = list(agreements_in_force(month).order_by("pk"))
    return [settle_agreement(agreement=a, month=month, now=now) for a in agreements]


def settle_previous_month(now: datetime | None = None) -> list[int]:
    """The beat job: settle last month (UTC) for every agreement in force during it."""
    month = previous_month(this_month(now))
    statements = settle_month(month=month, now=now)
    logger.info("Settlement of %s: %d statement(s)", f"{month:%Y-%m}", len(statements))
    return [s.pk for s in statements]
