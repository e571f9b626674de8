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
  it (no tariff, not enough data). Credit CDRs are not priced.
- NO_SESSION: the CDR names a `session_id` the hub never saw (from that CPO).
  SESSION_MISMATCH: the Session's `total_cost` (excl VAT) or `kwh` differs from the CDR's beyond
  the tolerances.
- CREDIT_WITHOUT_ORIGINAL: a credit CDR whose `credit_reference_id` names no CDR of the CPO.

Totals per report: `cdrs` (non-credit) and `credits` counted, `kwh` summed over non-credit
CDRs, and `cost` per currency: the net of all CDRs (credits are negative), excl and incl VAT,
as Decimal strings (incl_vat sums the CDRs that report it; `incl_vat_missing` counts the rest).
"""

import io
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from hub.models import (
    Cdr,
    ConnectionStatus,
    InterfaceRole,
    Platform,
    PlatformRole,
    PushDelivery,
    ReconciliationFinding,
    ReconciliationReport,
    Role,
    Session,
    Tariff,
)
from hub.models.cdrs import FindingKind, PriceCheck, ReportStatus
from hub.models.deliveries import DeliveryStatus
from hub.ocpi.client import OcpiClient, OcpiClientError, UrlNotAllowedError
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.exceptions import InvalidParametersError, OcpiError, validation_message
from hub.ocpi.routing import PartyRef, hub_party, new_message_id
from hub.schemas.cdrs import CdrSerializer
from hub.services.cdrs import cdr_ingest
from hub.services.pricing.engine import price_cdr
from hub.services.pricing.restrictions import PricingInputError
from hub.services.pricing.zones import cdr_time_zone
from hub.services.staff import SafeCsvWriter
from hub.services.sync import next_link

logger = logging.getLogger(__name__)

MODULE = "cdrs"


# Finding kinds (in report order) and report states are the models' choices; `Kind` is the
# name this module and its callers use for the kinds.
Kind = FindingKind


class ReconciliationError(Exception):
    """A reconciliation could not run (bad arguments, unknown party)."""


Progress = Callable[[str, int, int | None], None]
"""Called with a step label, items done and the total (if known)."""


@dataclass
class _Finding:
    kind: str
    cdr: Cdr | None
    cdr_key: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Pull:
    """What pulling one CPO's list gave."""

    error: str = ""
    pulled: int = 0
    # MISSING findings by the eMSP (token party) they concern.
    missing: dict[PartyRef, list[_Finding]] = field(default_factory=lambda: defaultdict(list))


# ---- keys and tolerances ----------------------------------------------------------------------


def cdr_key(cdr: Cdr) -> str:
    """The outbox object key of a CDR (`CC/PID/ID`, upper-cased as stored)."""
    return f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}"


def price_tolerance(cpo: PartyRef) -> Decimal:
    """The CPO's price tolerance: OCPI_PRICE_TOLERANCE_BY_PARTY["CC-PID"] or the default."""
    overrides = {str(k).upper().replace("*", "-"): v for k, v in _overrides().items()}
    value = overrides.get(f"{cpo.country_code}-{cpo.party_id}", settings.OCPI_PRICE_TOLERANCE)
    return _decimal(value, "OCPI_PRICE_TOLERANCE")


def _overrides() -> dict[str, Any]:
    value = settings.OCPI_PRICE_TOLERANCE_BY_PARTY
    if not isinstance(value, dict):
        raise ReconciliationError("OCPI_PRICE_TOLERANCE_BY_PARTY must be a JSON object")
    return value


def _decimal(value: Any, name: str) -> Decimal:
    try:
        return Decimal(str(value))
    except InvalidOperation as exc:
        raise ReconciliationError(f"{name}: not a number: {value!r}") from exc


def _number(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _fmt(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.0001")), "f")


def _period_bounds(period_start: date, period_end: date) -> tuple[datetime, datetime]:
    return (
        datetime.combine(period_start, time.min, tzinfo=UTC),
        datetime.combine(period_end, time.min, tzinfo=UTC),
    )


# ---- which CPOs ---------------------------------------------------------------------------------


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


def _sender_url(platform: Platform) -> str | None:
    endpoint = platform.endpoints.filter(identifier=MODULE, role=InterfaceRole.SENDER).first()
    return str(endpoint.url) if endpoint is not None else None


# ---- pulling and ingesting ------------------------------------------------------------------


def _pull(
    role: PlatformRole,
    period_start: date,
    period_end: date,
    progress: Progress | None,
) -> _Pull:
    """GET the CPO's CDR list for the period and ingest the CDRs the hub lacks."""
    result = _Pull()
    platform = role.platform
    party = PartyRef.of(role.country_code, role.party_id)
    endpoint = _sender_url(platform)
    if endpoint is None:
        result.error = f"{platform.name} publishes no cdrs SENDER endpoint: list not pulled"
        return result
    if not platform.registered or platform.status != ConnectionStatus.CONNECTED:
        result.error = f"{platform.name} is {platform.status}: list not pulled"
        return result
    start, end = _period_bounds(period_start, period_end)
    params = {
        "date_from": format_datetime(start),
        "date_to": format_datetime(end + timedelta(seconds=settings.OCPI_RECONCILE_PULL_SLACK_S)),
        "offset": "0",
        "limit": str(settings.OCPI_PULL_SYNC_PAGE_SIZE),
    }
    url: str | None = f"{endpoint}{'&' if '?' in endpoint else '?'}{urlencode(params)}"
    client = OcpiClient.for_platform(platform)
    correlation_id = new_message_id()
    visited: set[str] = set()
    try:
        while url is not None:
            if len(visited) >= settings.OCPI_PULL_SYNC_MAX_PAGES or url in visited:
                raise ReconciliationError(f"the CPO's next-page links do not end: {url}")
            visited.add(url)
            answer = client.get(
                url,
                module=MODULE,
                correlation_id=correlation_id,
                from_party=hub_party(),
                to_party=party,
            )
            if not isinstance(answer.data, list):
                raise ReconciliationError(f"page {len(visited)}: data is not a list")
            for obj in answer.data:
                result.pulled += 1
                _compare_one(obj, platform, party, start, end, correlation_id, result)
            if progress is not None:
                total = answer.headers.get("X-Total-Count")
                progress(f"{party} pull", result.pulled, int(total) if total else None)
            url = next_link(answer.headers.get("Link"), url)
    except (OcpiClientError, UrlNotAllowedError, ReconciliationError, ValueError) as exc:
        result.error = f"pulling {party}'s CDRs failed after {result.pulled}: {exc}"
        logger.warning("Reconciliation: %s", result.error)
    return result


def _compare_one(
    obj: Any,
    platform: Platform,
    party: PartyRef,
    start: datetime,
    end: datetime,
    correlation_id: str,
    result: _Pull,
) -> None:
    if not isinstance(obj, dict) or not isinstance(obj.get("id"), str):
        return
    cdr_id = obj["id"].upper()
    owner = PartyRef.of(str(obj.get("country_code", "")), str(obj.get("party_id", "")))
    if owner != party:  # a CPO lists only its own CDRs; anything else is not ours to ingest
        return
    stored = Cdr.objects.filter(
        country_code=party.country_code, party_id=party.party_id, cdr_id=cdr_id
    ).first()
    if stored is not None:
        return
    key = f"{party.country_code}/{party.party_id}/{cdr_id}"
    error = ""
    try:
        stored = _ingest(platform, party, obj, correlation_id)
    except OcpiError as exc:  # refused like a POST would be (invalid, unknown eMSP): reported
        error = exc.message
    except Exception as exc:  # one bad CDR must not stop the run: reported and logged
        logger.exception("Reconciliation: ingesting %s failed", key)
        error = f"{type(exc).__name__}: {exc}"
    raw_token = obj.get("cdr_token")
    token: dict[str, Any] = raw_token if isinstance(raw_token, dict) else {}
    emsp = PartyRef.of(str(token.get("country_code", "")), str(token.get("party_id", "")))
    ended = stored.end_date_time if stored is not None else _when(obj.get("end_date_time"))
    if ended is None or not start <= ended < end:
        # It bills another period, whose report cannot say MISSING any more (it is stored
        # now): the log keeps the trace.
        logger.warning(
            "Reconciliation: %s was missing (%s); it ends outside %s..%s",
            key,
            f"refused: {error}" if error else "ingested",
            format_datetime(start),
            format_datetime(end),
        )
        return
    message = "Listed by the CPO but never received by the hub"
    detail: dict[str, Any] = {"ingested": stored is not None}
    if error:
        message += f"; ingest refused it: {error}"
        detail["error"] = error
    result.missing[emsp].append(_Finding(Kind.MISSING, stored, key, message, detail))


def _when(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _ingest(platform: Platform, party: PartyRef, obj: dict[str, Any], correlation_id: str) -> Cdr:
    """Store a pulled CDR exactly as if the CPO had POSTed it: the same schema validation
    (CdrSerializer), consistency findings, de-duplication and delivery to the token's eMSP."""
    serializer = CdrSerializer(data=obj)
    if not serializer.is_valid():
        raise InvalidParametersError(validation_message(serializer.errors))
    return cdr_ingest(owner=platform, party=party, data=obj, correlation_id=correlation_id).cdr


# ---- store-side checks -----------------------------------------------------------------------


def _delivery_findings(cdrs: list[Cdr], emsp: PartyRef, now: datetime) -> list[_Finding]:
    by_key: dict[str, list[PushDelivery]] = defaultdict(list)
    keys = [cdr_key(c) for c in cdrs]
    deliveries = PushDelivery.objects.filter(module=MODULE, object_key__in=keys).filter(
        Q(to_country_code=emsp.country_code, to_party_id=emsp.party_id) | Q(to_country_code="")
    )
    for delivery in deliveries:
        by_key[delivery.object_key].append(delivery)
    grace = timedelta(seconds=settings.OCPI_RECONCILE_DELIVERY_GRACE_S)
    found: list[_Finding] = []
    for cdr in cdrs:
        key = cdr_key(cdr)
        rows = by_key.get(key, [])
        statuses = sorted({d.status for d in rows})
        if any(d.status == DeliveryStatus.DELIVERED for d in rows):
            continue
        detail: dict[str, Any] = {"statuses": statuses}
        if any(d.status == DeliveryStatus.DEAD for d in rows):
            last = max((d for d in rows if d.status == DeliveryStatus.DEAD), key=lambda d: d.pk)
            detail["last_error"] = last.last_error
            found.append(
                _Finding(
                    Kind.DEAD_LETTER,
                    cdr,
                    key,
                    f"Delivery to {emsp} gave up after {last.attempts} attempts",
                    detail,
                )
            )
        elif cdr.received_at <= now - grace:
            what = ", ".join(statuses) if statuses else "never enqueued"
            found.append(
                _Finding(
                    Kind.UNDELIVERED,
                    cdr,
                    key,
                    f"Not delivered to {emsp} {grace} after receipt ({what})",
                    detail,
                )
            )
    return found


def _credited_ids(cpo: PartyRef) -> set[int]:
    """Pks of the CPO's CDRs that a credit CDR cancels (by link or by credit_reference_id)."""
    credits = Cdr.objects.filter(
        country_code=cpo.country_code, party_id=cpo.party_id, credit=True
    ).values_list("credit_of_id", "credit_reference_id")
    linked = {pk for pk, _ in credits if pk is not None}
    refs = {ref.upper() for pk, ref in credits if pk is None and ref}
    if refs:
        linked |= set(
            Cdr.objects.filter(
                country_code=cpo.country_code, party_id=cpo.party_id, cdr_id__in=refs
            ).values_list("pk", flat=True)
        )
    return linked


def _content_keys(cdr: Cdr) -> list[tuple[Any, ...]]:
    keys: list[tuple[Any, ...]] = [
        (
            "token",
            cdr.token_uid.upper(),
            cdr.token_type,
            cdr.start_date_time,
            cdr.end_date_time,
            cdr.total_energy,
        )
    ]
    if cdr.session_id:
        keys.append(("session", cdr.session_id.upper()))
    return keys


def _duplicate_findings(cdrs: list[Cdr], cpo: PartyRef, credited: set[int]) -> list[_Finding]:
    candidates = [c for c in cdrs if not c.credit and c.pk not in credited]
    if not candidates:
        return []
    # Earlier copies may bill an earlier period: compare with all the CPO's CDRs that could
    # share a key (same session ids or same start times), received before.
    session_ids = {c.session_id.upper() for c in candidates if c.session_id}
    starts = {c.start_date_time for c in candidates}
    pool = (
        Cdr.objects.filter(country_code=cpo.country_code, party_id=cpo.party_id, credit=False)
        .filter(Q(session_id__in=session_ids) | Q(start_date_time__in=starts))
        .exclude(pk__in=credited)
        .order_by("received_at", "pk")
    )
    first: dict[tuple[Any, ...], Cdr] = {}
    for other in pool:
        for key in _content_keys(other):
            first.setdefault(key, other)
    found: list[_Finding] = []
    for cdr in candidates:
        for key in _content_keys(cdr):
            original = first.get(key)
            if original is not None and original.pk != cdr.pk:
                same = "session_id" if key[0] == "session" else "token, start, end and energy"
                found.append(
                    _Finding(
                        Kind.DUPLICATE,
                        cdr,
                        cdr_key(cdr),
                        f"Same {same} as {original.cdr_id}, received earlier",
                        {"duplicate_of": cdr_key(original), "same": key[0]},
                    )
                )
                break
    return found


def _computed_total(cdr: Cdr) -> tuple[Decimal | None, Decimal | None] | str | None:
    """The tariff engine's total_cost of a CDR as (excl_vat, incl_vat); a string says why it
    cannot be priced; None when the ingest judged it without storing numbers.

    A verdict stored at ingest (`computed["total_cost"]`, `price_check`) is used as is;
    otherwise the CDR is priced now (in memory: the stored CDR is never touched) with the
    tariffs it embeds, else the CPO's tariffs its periods name, in its Location's time zone.
    """
    computed = cdr.computed if isinstance(cdr.computed, dict) else None
    total = computed.get("total_cost") if computed else None
    if isinstance(total, dict):
        return _number(total.get("excl_vat")), _number(total.get("incl_vat"))
    if cdr.price_check == PriceCheck.UNPRICEABLE:
        reason = computed.get("reason") if computed else None
        return str(reason or "the tariff engine could not price it")
    if cdr.price_check != PriceCheck.UNCHECKED:
        return None
    tariffs = _tariffs_of(cdr)
    if not tariffs:
        return "no tariff: neither embedded in the CDR nor known to the hub"
    try:
        result = price_cdr(cdr.data, tariffs, _time_zone_of(cdr))
    except (PricingInputError, ValueError, KeyError, TypeError) as exc:
        return f"the tariff engine could not price it: {exc}"
    return result.total_cost.excl_vat, result.total_cost.incl_vat


def _tariffs_of(cdr: Cdr) -> list[dict[str, Any]]:
    embedded = cdr.data.get("tariffs")
    if isinstance(embedded, list) and embedded:
        return [t for t in embedded if isinstance(t, dict)]
    periods = cdr.data.get("charging_periods")
    ids = {
        str(p["tariff_id"]).upper()
        for p in (periods if isinstance(periods, list) else [])
        if isinstance(p, dict) and p.get("tariff_id")
    }
    if not ids:
        return []
    return [
        t.data
        for t in Tariff.objects.filter(
            country_code=cdr.country_code, party_id=cdr.party_id, tariff_id__in=ids
        )
    ]


def _time_zone_of(cdr: Cdr) -> str:
    """The zone the tariff's local-time restrictions are read in: the stored Location's, else
    the country's when it has a single one (as `ocpi_price_cdr` does); UTC only when neither
    is known (a multi-zone country included)."""
    try:
        zone = cdr_time_zone(cdr.data)
    except PricingInputError:
        zone = None
    return zone or "UTC"


def _price_findings(cdrs: list[Cdr], tolerance: Decimal) -> list[_Finding]:
    found: list[_Finding] = []
    for cdr in cdrs:
        if cdr.credit:  # a credit reverses a priced CDR; it has no tariff of its own
            continue
        key = cdr_key(cdr)
        computed = _computed_total(cdr)
        if isinstance(computed, str):
            found.append(_Finding(Kind.UNPRICEABLE, cdr, key, f"Not priceable: {computed}", {}))
            continue
        if computed is None:
            if cdr.price_check == PriceCheck.MISMATCH:  # the ingest's verdict, without numbers
                found.append(_Finding(Kind.MISPRICED, cdr, key, "Priced differently at ingest", {}))
            continue
        excl, incl = computed
        diffs: dict[str, str] = {}
        if excl is not None and abs(excl - cdr.total_cost_excl_vat) > tolerance:
            diffs["excl_vat"] = _fmt(cdr.total_cost_excl_vat - excl)
        if (
            incl is not None
            and cdr.total_cost_incl_vat is not None
            and abs(incl - cdr.total_cost_incl_vat) > tolerance
        ):
            diffs["incl_vat"] = _fmt(cdr.total_cost_incl_vat - incl)
        if not diffs:
            continue
        incl_reported = cdr.total_cost_incl_vat
        detail = {
            "reported": {
                "excl_vat": _fmt(cdr.total_cost_excl_vat),
                "incl_vat": _fmt(incl_reported) if incl_reported is not None else None,
            },
            "computed": {
                "excl_vat": _fmt(excl) if excl is not None else None,
                "incl_vat": _fmt(incl) if incl is not None else None,
            },
            "difference": diffs,
            "tolerance": str(tolerance),
        }
        engine = _fmt(excl) if excl is not None else "?"
        found.append(
            _Finding(
                Kind.MISPRICED,
                cdr,
                key,
                f"Reported {cdr.currency} {_fmt(cdr.total_cost_excl_vat)} excl. VAT, tariff "
                f"engine {engine} (tolerance {tolerance})",
                detail,
            )
        )
    return found


def _session_findings(cdrs: list[Cdr], cpo: PartyRef, tolerance: Decimal) -> list[_Finding]:
    relevant = [c for c in cdrs if not c.credit and c.session_id]
    sessions = {
        s.session_id: s
        for s in Session.objects.filter(
            country_code=cpo.country_code,
            party_id=cpo.party_id,
            session_id__in={c.session_id.upper() for c in relevant},
        )
    }
    kwh_tolerance = _decimal(settings.OCPI_RECONCILE_KWH_TOLERANCE, "OCPI_RECONCILE_KWH_TOLERANCE")
    found: list[_Finding] = []
    for cdr in relevant:
        key = cdr_key(cdr)
        session = sessions.get(cdr.session_id.upper())
        if session is None:
            found.append(
                _Finding(
                    Kind.NO_SESSION,
                    cdr,
                    key,
                    f"Session {cdr.session_id} is unknown to the hub",
                    {"session_id": cdr.session_id},
                )
            )
            continue
        diffs: dict[str, dict[str, str]] = {}
        if abs(session.kwh - cdr.total_energy) > kwh_tolerance:
            diffs["kwh"] = {"session": _fmt(session.kwh), "cdr": _fmt(cdr.total_energy)}
        total = session.data.get("total_cost") if isinstance(session.data, dict) else None
        session_cost = _number(total.get("excl_vat")) if isinstance(total, dict) else None
        if session_cost is not None and abs(session_cost - cdr.total_cost_excl_vat) > tolerance:
            diffs["total_cost.excl_vat"] = {
                "session": _fmt(session_cost),
                "cdr": _fmt(cdr.total_cost_excl_vat),
            }
        if diffs:
            what = ", ".join(f"{k} {v['session']} vs {v['cdr']}" for k, v in diffs.items())
            found.append(
                _Finding(
                    Kind.SESSION_MISMATCH,
                    cdr,
                    key,
                    f"Session {cdr.session_id} differs (session vs CDR): {what}",
                    {"session_id": cdr.session_id, "differences": diffs},
                )
            )
    return found


def _credit_findings(cdrs: list[Cdr], cpo: PartyRef) -> list[_Finding]:
    credits = [c for c in cdrs if c.credit and c.credit_of_id is None]
    refs = {c.credit_reference_id.upper() for c in credits if c.credit_reference_id}
    known = set(
        Cdr.objects.filter(
            country_code=cpo.country_code, party_id=cpo.party_id, cdr_id__in=refs
        ).values_list("cdr_id", flat=True)
    )
    return [
        _Finding(
            Kind.CREDIT_WITHOUT_ORIGINAL,
            c,
            cdr_key(c),
            f"Credit CDR for {c.credit_reference_id or '(no credit_reference_id)'}, "
            "which the hub does not have",
            {"credit_reference_id": c.credit_reference_id},
        )
        for c in credits
        if c.credit_reference_id.upper() not in known
    ]


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
        "kwh": _fmt(kwh),
        "cost": {
            currency: {k: _fmt(v) for k, v in amounts.items()}
            for currency, amounts in sorted(cost.items())
        },
        "incl_vat_missing": incl_missing,
    }


# ---- reports ---------------------------------------------------------------------------------


def _store_report(
    cpo: PartyRef,
    emsp: PartyRef,
    period_start: date,
    period_end: date,
    cdrs: list[Cdr],
    findings: list[_Finding],
    error: str,
) -> ReconciliationReport:
    """Create or replace the (CPO, eMSP, period) report: one row, its findings rewritten."""
    with transaction.atomic():
        existing = list(
            ReconciliationReport.objects.select_for_update()
            .filter(
                cpo_country_code=cpo.country_code,
                cpo_party_id=cpo.party_id,
                emsp_country_code=emsp.country_code,
                emsp_party_id=emsp.party_id,
                period_start=period_start,
                period_end=period_end,
            )
            .order_by("pk")
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
                        _Finding(old.kind, old.cdr, old.cdr_key, old.message, old.detail)
                    )
            report.findings.all().delete()
        else:
            report = ReconciliationReport(
                cpo_country_code=cpo.country_code,
                cpo_party_id=cpo.party_id,
                emsp_country_code=emsp.country_code,
                emsp_party_id=emsp.party_id,
                period_start=period_start,
                period_end=period_end,
            )
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
    _overrides()  # a malformed override is an error before anything is pulled
    roles = _cpo_roles(cpo)
    start, end = _period_bounds(period_start, period_end)
    now = timezone.now()
    reports: list[ReconciliationReport] = []
    for index, role in enumerate(roles):
        party = PartyRef.of(role.country_code, role.party_id)
        pulled = _pull(role, period_start, period_end, progress)
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
        credited = _credited_ids(party)
        for target in sorted(pairs, key=str):
            cdrs = by_emsp.get(target, [])
            findings = list(pulled.missing.get(target, []))
            findings += _delivery_findings(cdrs, target, now)
            findings += _duplicate_findings(cdrs, party, credited)
            findings += _price_findings(cdrs, tolerance)
            findings += _session_findings(cdrs, party, tolerance)
            findings += _credit_findings(cdrs, party)
            reports.append(
                _store_report(party, target, period_start, period_end, cdrs, findings, pulled.error)
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


# ---- export ------------------------------------------------------------------------------------

CSV_COLUMNS = ("kind", "cdr_key", "message", "detail")


def reconciliation_findings_csv(report: ReconciliationReport) -> str:
    """The report's findings as CSV (header row, one row per finding, detail as JSON)."""
    import json

    out = io.StringIO()
    # Partner data (CDR ids, messages quoting them) is opened in spreadsheets: no formulas.
    writer = SafeCsvWriter(out, lineterminator="\n")
    writer.writerow(
        ("cpo", "emsp", "period_start", "period_end", *CSV_COLUMNS),
    )
    cpo = f"{report.cpo_country_code}-{report.cpo_party_id}"
    emsp = f"{report.emsp_country_code}-{report.emsp_party_id}"
    for finding in report.findings.order_by("kind", "cdr_key", "pk"):
        writer.writerow(
            (
                cpo,
                emsp,
                report.period_start.isoformat(),
                report.period_end.isoformat(),
                finding.kind,
                finding.cdr_key,
                finding.message,
                json.dumps(finding.detail, sort_keys=True),
            )
        )
    return out.getvalue()
