"""The reconciliation's findings: its vocabulary (`Kind`, `Finding`, the CDR key, the CPO's
price tolerance) and the store-side checks that each turn a CPO's CDRs for one eMSP into
findings: delivery, duplicates, price, session, credits (definitions in the package doc)."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.db.models import Q

from hub.models import Cdr, PushDelivery, Session, Tariff
from hub.models.cdrs import FindingKind, PriceCheck
from hub.models.deliveries import DeliveryStatus
from hub.modules import ModuleID
from hub.ocpi.routing import PartyRef
from hub.services.pricing.engine import price_cdr
from hub.services.pricing.restrictions import PricingInputError
from hub.services.pricing.zones import cdr_time_zone

MODULE = ModuleID.CDRS


# Finding kinds (in report order) are the model's choices; `Kind` is the name this package
# and its callers use for them.
Kind = FindingKind


class ReconciliationError(Exception):
    """A reconciliation could not run (bad arguments, unknown party)."""


@dataclass
class Finding:
    kind: str
    cdr: Cdr | None
    cdr_key: str
    message: str
    detail: dict[str, Any] = field(default_factory=dict)


def cdr_key(cdr: Cdr) -> str:
    """The outbox object key of a CDR (`CC/PID/ID`, upper-cased as stored)."""
    return f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}"


def price_tolerance(cpo: PartyRef) -> Decimal:
    """The CPO's price tolerance: OCPI_PRICE_TOLERANCE_BY_PARTY["CC-PID"] or the default."""
    overrides = {str(k).upper().replace("*", "-"): v for k, v in tolerance_overrides().items()}
    value = overrides.get(f"{cpo.country_code}-{cpo.party_id}", settings.OCPI_PRICE_TOLERANCE)
    return _decimal(value, "OCPI_PRICE_TOLERANCE")


def tolerance_overrides() -> dict[str, Any]:
    value = settings.OCPI_PRICE_TOLERANCE_BY_PARTY
    if not isinstance(value, dict):
        raise ReconciliationError("OCPI_PRICE_TOLERANCE_BY_PARTY must be a JSON object")
    return value


def kwh_tolerance_setting() -> Decimal:
    """OCPI_RECONCILE_KWH_TOLERANCE: how far a Session's kWh may be from its CDR's."""
    return _decimal(settings.OCPI_RECONCILE_KWH_TOLERANCE, "OCPI_RECONCILE_KWH_TOLERANCE")


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


def fmt_decimal(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.0001")), "f")


def delivery_findings(cdrs: list[Cdr], emsp: PartyRef, now: datetime) -> list[Finding]:
    by_key: dict[str, list[PushDelivery]] = defaultdict(list)
    keys = [cdr_key(c) for c in cdrs]
    deliveries = (
        PushDelivery.objects.filter(module=MODULE, object_key__in=keys)
        .filter(
            Q(to_country_code=emsp.country_code, to_party_id=emsp.party_id) | Q(to_country_code="")
        )
        .only("object_key", "status", "attempts", "last_error")  # one row per CDR: only these
    )
    for delivery in deliveries:
        by_key[delivery.object_key].append(delivery)
    grace = timedelta(seconds=settings.OCPI_RECONCILE_DELIVERY_GRACE_S)
    found: list[Finding] = []
    for cdr in cdrs:
        if cdr.delivered_at is not None:
            continue  # the outbox recorded it delivered (reconciliation.facts)
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
                Finding(
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
                Finding(
                    Kind.UNDELIVERED,
                    cdr,
                    key,
                    f"Not delivered to {emsp} {grace} after receipt ({what})",
                    detail,
                )
            )
    return found


def credited_ids(cpo: PartyRef) -> set[int]:
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


_POOL_FIELDS = (
    "country_code",
    "party_id",
    "cdr_id",
    "session_id",
    "token_uid",
    "token_type",
    "start_date_time",
    "end_date_time",
    "total_energy",
    "received_at",
)


def duplicate_findings(cdrs: list[Cdr], cpo: PartyRef, credited: set[int]) -> list[Finding]:
    """DUPLICATE: a non-credit CDR sharing a content key with one of the CPO's received before
    (`reconciliation.suspects` leaves out, in SQL, the CDRs that share none)."""
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
        # Each candidate is in its own pool: the columns of the keys and of cdr_key, not `data`.
        .only(*_POOL_FIELDS)
    )
    first: dict[tuple[Any, ...], Cdr] = {}
    for other in pool:
        for key in _content_keys(other):
            first.setdefault(key, other)
    found: list[Finding] = []
    for cdr in candidates:
        for key in _content_keys(cdr):
            original = first.get(key)
            if original is not None and original.pk != cdr.pk:
                same = "session_id" if key[0] == "session" else "token, start, end and energy"
                found.append(
                    Finding(
                        Kind.DUPLICATE,
                        cdr,
                        cdr_key(cdr),
                        f"Same {same} as {original.cdr_id}, received earlier",
                        {"duplicate_of": cdr_key(original), "same": key[0]},
                    )
                )
                break
    return found


def _computed_total(
    cdr: Cdr, zones: Callable[[Cdr], str] | None = None
) -> tuple[Decimal | None, Decimal | None] | str | None:
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
        result = price_cdr(cdr.data, tariffs, (zones or _time_zone_of)(cdr))
    except (PricingInputError, ValueError, KeyError, TypeError) as exc:
        return f"the tariff engine could not price it: {exc}"
    return result.total_cost.excl_vat, result.total_cost.incl_vat


def tariffs_named_by(cpo: PartyRef, document: dict[str, Any]) -> list[dict[str, Any]]:
    """The tariffs a CDR document is priced with: those it embeds, else the CPO's stored
    tariffs its charging periods name (none: it cannot be priced yet)."""
    embedded = document.get("tariffs")
    if isinstance(embedded, list) and embedded:
        return [t for t in embedded if isinstance(t, dict)]
    periods = document.get("charging_periods")
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
            country_code=cpo.country_code, party_id=cpo.party_id, tariff_id__in=ids
        )
    ]


def _tariffs_of(cdr: Cdr) -> list[dict[str, Any]]:
    return tariffs_named_by(PartyRef.of(cdr.country_code, cdr.party_id), cdr.data)


def time_zone_of(document: dict[str, Any]) -> str:
    """The zone a CDR's local-time tariff restrictions are read in: the stored Location's,
    else the country's when it has a single one (as `ocpi_price_cdr` does); UTC only when
    neither is known (a multi-zone country included)."""
    try:
        zone = cdr_time_zone(document)
    except PricingInputError:
        zone = None
    return zone or "UTC"


def _time_zone_of(cdr: Cdr) -> str:
    return time_zone_of(cdr.data)


class ZoneLookup:
    """`_time_zone_of` remembered for one reconciliation run: a CPO's CDRs name few locations,
    and each lookup is a query on the Location table (a case-insensitive one, no index), which
    dominated a run (17.5 s of 23.4 s for 5,000 CDRs). The key is everything `cdr_time_zone`
    reads (cdr_location's id and country, the CDR's country_code and party_id)."""

    def __init__(self) -> None:
        self._zones: dict[tuple[Any, ...], str] = {}

    def __call__(self, cdr: Cdr) -> str:
        data = cdr.data if isinstance(cdr.data, dict) else {}
        location = data.get("cdr_location")
        if not isinstance(location, dict):
            location = {}
        # With each value's type: 1 and True are equal keys, but not the same lookup.
        key = tuple(
            (type(value), value)
            for value in (
                location.get("id"),
                location.get("country"),
                data.get("country_code"),
                data.get("party_id"),
            )
        )
        try:
            return self._zones[key]
        except KeyError:
            zone = self._zones[key] = _time_zone_of(cdr)
            return zone
        except TypeError:  # a key part that is not hashable (not a string): not remembered
            return _time_zone_of(cdr)


def price_findings(
    cdrs: list[Cdr], tolerance: Decimal, zones: Callable[[Cdr], str] | None = None
) -> list[Finding]:
    """`zones` (a `ZoneLookup`) spares the Location query per CDR over a run."""
    found: list[Finding] = []
    for cdr in cdrs:
        if cdr.credit:  # a credit reverses a priced CDR; it has no tariff of its own
            continue
        key = cdr_key(cdr)
        computed = _computed_total(cdr, zones)
        if isinstance(computed, str):
            found.append(Finding(Kind.UNPRICEABLE, cdr, key, f"Not priceable: {computed}", {}))
            continue
        if computed is None:
            if cdr.price_check == PriceCheck.MISMATCH:  # the ingest's verdict, without numbers
                found.append(Finding(Kind.MISPRICED, cdr, key, "Priced differently at ingest", {}))
            continue
        excl, incl = computed
        diffs: dict[str, str] = {}
        if excl is not None and abs(excl - cdr.total_cost_excl_vat) > tolerance:
            diffs["excl_vat"] = fmt_decimal(cdr.total_cost_excl_vat - excl)
        if (
            incl is not None
            and cdr.total_cost_incl_vat is not None
            and abs(incl - cdr.total_cost_incl_vat) > tolerance
        ):
            diffs["incl_vat"] = fmt_decimal(cdr.total_cost_incl_vat - incl)
        if not diffs:
            continue
        incl_reported = cdr.total_cost_incl_vat
        detail = {
            "reported": {
                "excl_vat": fmt_decimal(cdr.total_cost_excl_vat),
                "incl_vat": fmt_decimal(incl_reported) if incl_reported is not None else None,
            },
            "computed": {
                "excl_vat": fmt_decimal(excl) if excl is not None else None,
                "incl_vat": fmt_decimal(incl) if incl is not None else None,
            },
            "difference": diffs,
            "tolerance": str(tolerance),
        }
        engine = fmt_decimal(excl) if excl is not None else "?"
        found.append(
            Finding(
                Kind.MISPRICED,
                cdr,
                key,
                f"Reported {cdr.currency} {fmt_decimal(cdr.total_cost_excl_vat)} excl. VAT, tariff "
                f"engine {engine} (tolerance {tolerance})",
                detail,
            )
        )
    return found


def session_findings(cdrs: list[Cdr], cpo: PartyRef, tolerance: Decimal) -> list[Finding]:
    relevant = [c for c in cdrs if not c.credit and c.session_id]
    sessions = {
        s.session_id: s
        for s in Session.objects.filter(
            country_code=cpo.country_code,
            party_id=cpo.party_id,
            session_id__in={c.session_id.upper() for c in relevant},
        ).only("session_id", "kwh", "data")
    }
    kwh_tolerance = kwh_tolerance_setting()
    found: list[Finding] = []
    for cdr in relevant:
        key = cdr_key(cdr)
        session = sessions.get(cdr.session_id.upper())
        if session is None:
            found.append(
                Finding(
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
            diffs["kwh"] = {
                "session": fmt_decimal(session.kwh),
                "cdr": fmt_decimal(cdr.total_energy),
            }
        total = session.data.get("total_cost") if isinstance(session.data, dict) else None
        session_cost = _number(total.get("excl_vat")) if isinstance(total, dict) else None
        if session_cost is not None and abs(session_cost - cdr.total_cost_excl_vat) > tolerance:
            diffs["total_cost.excl_vat"] = {
                "session": fmt_decimal(session_cost),
                "cdr": fmt_decimal(cdr.total_cost_excl_vat),
            }
        if diffs:
            what = ", ".join(f"{k} {v['session']} vs {v['cdr']}" for k, v in diffs.items())
            found.append(
                Finding(
                    Kind.SESSION_MISMATCH,
                    cdr,
                    key,
                    f"Session {cdr.session_id} differs (session vs CDR): {what}",
                    {"session_id": cdr.session_id, "differences": diffs},
                )
            )
    return found


def credit_findings(cdrs: list[Cdr], cpo: PartyRef) -> list[Finding]:
    credits = [c for c in cdrs if c.credit and c.credit_of_id is None]
    refs = {c.credit_reference_id.upper() for c in credits if c.credit_reference_id}
    known = set(
        Cdr.objects.filter(
            country_code=cpo.country_code, party_id=cpo.party_id, cdr_id__in=refs
        ).values_list("cdr_id", flat=True)
    )
    return [
        Finding(
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
