"""CDRs posted by CPOs: validated, de-duplicated, stored immutable and delivered through the
outbox to the eMSP owning `cdr_token` (2.2.1 mod_cdrs; DESIGN §3, §5, §6).

Ingest (mod_cdrs Receiver POST). A CDR is identified by (country_code, party_id, id); it can
never be changed, replaced or deleted: corrections arrive as credit CDRs. A second POST of an
identical CDR is a replay (the CPO lost our answer) and is answered like the first, with the
same `Location`; a different CDR under a stored id is refused (2001) and changes nothing.
Consistency checks beyond the schema (`hub.services.cdr_checks`) are recorded on the CDR as
findings, not refused: it is the CPO's bill and must reach the eMSP, which may dispute it. The
tariff engine's verdict on its cost is taken then too (`reconciliation.verdict`), once.

Routing. Like sessions, CDRs are never broadcast nor forwarded synchronously: whether TO names
the token's eMSP, the hub, or nothing, the CDR is stored and queued for the owner of `cdr_token`
(`cdr_token_receiver`, shared with sessions: 2001 for a TO contradicting the token, 4001 for
an owner the hub does not know, 4003 for one not connected for good; nothing is stored then).
The CDR, its findings and its delivery row commit in one transaction before the CPO gets 1000.

Delivery. The builder POSTs the stored CDR as received to the owner's cdrs RECEIVER endpoint
URL (no path: mod_cdrs "POST {cdrs_endpoint_url}"), FROM = the CPO party, TO = the eMSP. The
eMSP's `Location` answer is recorded by the outbox as the delivery's `receipt` (proof of
delivery, used by reconciliation). Transport errors, timeouts, 5xx and 429 are retried for
`OCPI_CDR_RETRY_WINDOW_S` (days; also while the eMSP is OFFLINE: cdrs is not a state module),
then the delivery is DEAD and staff resend it (admin action / `delivery_resend`).

Exactly-once, as far as it goes: a delivery the outbox recorded DELIVERED is never sent again
by retries or the sweeper (only the claim holder sends, and a finished row is never claimed
again). The outbox is at-least-once, however: if the worker dies after the eMSP accepted the
POST but before the hub recorded the answer, the lease expires, the sweeper releases the row
and another worker POSTs the same CDR again. The eMSP must de-duplicate on (country_code,
party_id, id), which mod_cdrs makes the CDR's identity; the hub cannot do better without a
two-phase protocol OCPI does not have.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from hub.models import Cdr, InterfaceRole, Platform, PushDelivery, TokenSource
from hub.modules import ModuleID
from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.exceptions import InvalidParametersError, NotFoundError
from hub.ocpi.routing import PartyRef
from hub.services.cdr_checks import cdr_findings
from hub.services.concurrency import retry_on_unique_race
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest
from hub.services.reconciliation.facts import (
    lock_for_proofs,
    no_copy_at_ingest,
    session_agreement,
)
from hub.services.reconciliation.findings import (
    ReconciliationError,
    kwh_tolerance_setting,
    price_tolerance,
)
from hub.services.reconciliation.verdict import ingest_verdict
from hub.services.results import WriteResult
from hub.services.routing.token_index import token_owner_learn, token_owners_of
from hub.services.sessions import cdr_token_receiver, token_owner_of

MODULE = ModuleID.CDRS
_MONEY = Decimal("0.0001")


class UnknownCdrError(NotFoundError):
    """GET of a CDR the hub does not hold for the caller: HTTP 404."""


def cdr_key(party: PartyRef, cdr_id: str) -> str:
    """The outbox object key `CC/PID/CDR_ID` (CiStrings upper-cased)."""
    return f"{party.country_code}/{party.party_id}/{cdr_id.upper()}"


def cdr_location_url(cdr: Cdr) -> str:
    """The hub's URL of its copy of a CDR: the `Location` answered to the CPO (mod_cdrs POST
    response header), readable by that CPO only. The CPO's spelling of the id is kept."""
    path = reverse(
        "cpo-cdr",
        kwargs={
            "country_code": cdr.country_code,
            "party_id": cdr.party_id,
            "cdr_id": str(cdr.data.get("id", cdr.cdr_id)),  # reverse() percent-encodes it
        },
    )
    return f"{settings.OCPI_BASE_URL}{path}"


def _money(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(_MONEY)


def _original_of(party: PartyRef, document: dict[str, Any]) -> Cdr | None:
    """The CDR a credit CDR credits: an existing CDR of the same CPO party (2001 otherwise)."""
    if not document.get("credit"):
        return None
    reference = str(document["credit_reference_id"])
    original = Cdr.objects.filter(
        country_code=party.country_code, party_id=party.party_id, cdr_id=reference.upper()
    ).first()
    if original is None:
        raise InvalidParametersError(
            f"credit_reference_id: {party} has no CDR {reference} at the hub; a credit CDR "
            "must reference a CDR sent before"
        )
    return original


def _store(
    owner: Platform,
    party: PartyRef,
    document: dict[str, Any],
    findings: list[dict[str, str]],
    original: Cdr | None,
    *,
    token_owner_finding: str = "",
    correlation_id: str = "",
) -> Cdr:
    token = document["cdr_token"]
    total = document["total_cost"]
    excl = _money(total["excl_vat"])
    incl = None if total.get("incl_vat") is None else _money(total["incl_vat"])
    price_check, computed = ingest_verdict(party, document, excl, incl)
    fields: dict[str, Any] = {
        "country_code": party.country_code,
        "party_id": party.party_id,
        "cdr_id": str(document["id"]).upper(),
        "owner": owner,
        "data": document,
        "token_country_code": str(token["country_code"]).upper(),
        "token_party_id": str(token["party_id"]).upper(),
        "token_uid": str(token["uid"]).upper(),
        "token_type": str(token["type"]),
        "session_id": str(document.get("session_id") or "").upper(),
        "currency": str(document["currency"]).upper(),
        "total_cost_excl_vat": excl,
        "total_cost_incl_vat": incl,
        "total_energy": _money(document["total_energy"]),
        "total_time": _money(document["total_time"]),
        "start_date_time": parse_datetime(document["start_date_time"]),
        "end_date_time": parse_datetime(document["end_date_time"]),
        "last_updated": parse_datetime(document["last_updated"]),
        "credit": bool(document.get("credit")),
        "credit_reference_id": str(document.get("credit_reference_id") or "").upper(),
        "credit_of": original,
        "findings": findings,
        "price_check": price_check,
        "computed": computed,
        "token_owner_finding": token_owner_finding,
        "correlation_id": correlation_id[:255],
    }
    # Reconciliation's proofs (reconciliation.facts), taken in this transaction.
    fields["no_copy"] = no_copy_at_ingest(party, fields)
    fields["session_agreed"] = _session_proof(party, fields)
    return Cdr.objects.create(**fields)


def proof_values(document: dict[str, Any]) -> dict[str, Any]:
    """The fields of a CDR about to be stored that its proofs' locks are keyed by (as `_store`
    writes them)."""
    return {
        "credit": bool(document.get("credit")),
        "session_id": str(document.get("session_id") or "").upper(),
        "start_date_time": parse_datetime(document["start_date_time"]),
        "end_date_time": parse_datetime(document["end_date_time"]),
        "token_type": str(document["cdr_token"]["type"]),
        "total_energy": _money(document["total_energy"]),
    }


def _session_proof(party: PartyRef, fields: dict[str, Any]) -> str:
    try:
        tolerance, kwh_tolerance = price_tolerance(party), kwh_tolerance_setting()
    except ReconciliationError:
        return ""  # misconfigured: no proof, reconciliation reports it when it runs
    return session_agreement(party, fields, tolerance=tolerance, kwh_tolerance=kwh_tolerance)


@retry_on_unique_race
@transaction.atomic
def cdr_ingest(
    *,
    owner: Platform,
    party: PartyRef,
    data: dict[str, Any],
    to_party: PartyRef | None = None,
    correlation_id: str = "",
) -> WriteResult[Cdr]:
    """Store a CPO's CDR and queue its delivery to the token's eMSP, in one transaction.

    `data` has been validated (CdrSerializer) and its country_code/party_id checked to be
    `party`, one of the caller's CPO parties; `to_party` is the TO header unless it names the
    hub. A concurrent POST of the same CDR loses the insert race and is retried once, finding
    the winner's row (then a replay, or a conflict).
    """
    cdr_id = str(data["id"])
    stored = (
        Cdr.objects.select_for_update()
        .filter(country_code=party.country_code, party_id=party.party_id, cdr_id=cdr_id.upper())
        .first()
    )
    if stored is not None:
        if stored.data == data:
            # A replay: the same answer, nothing new.
            return WriteResult(stored, created=False, changed=False)
        raise InvalidParametersError(
            f"id: CDR {party}/{cdr_id} already exists with different content; CDRs are "
            "immutable, send a credit CDR (credit: true, credit_reference_id) and a new CDR"
        )
    # Before any write of this transaction (reconciliation.facts: the order avoids deadlocks).
    lock_for_proofs(party, proof_values(data))
    original = _original_of(party, data)
    token_owner = token_owner_of(data)
    receiver = cdr_token_receiver(
        module=MODULE, cpo=party, token_owner=token_owner, to_party=to_party
    )
    token = data["cdr_token"]
    findings = cdr_findings(
        data,
        original=original.data if original is not None else None,
        token_owners=token_owners_of(str(token["uid"]), str(token["type"])),
    )
    # A CPO's word on the token's owner: never overrides the eMSP's own (a finding instead).
    mismatch = token_owner_learn(
        owner=token_owner, uid=token["uid"], token_type=token["type"], source=TokenSource.CDR
    )
    cdr = _store(
        owner,
        party,
        data,
        findings,
        original,
        token_owner_finding=mismatch,
        correlation_id=correlation_id,
    )
    if receiver is not None:
        push_enqueue(
            module=MODULE,
            object_key=cdr_key(party, cdr_id),
            operation="POST",
            receivers=[receiver],
            correlation_id=correlation_id,
            from_party=party,
            retry_window_s=settings.OCPI_CDR_RETRY_WINDOW_S,
        )
    return WriteResult(cdr, created=True, changed=True)


def cdr_get(party: PartyRef, cdr_id: str) -> dict[str, Any]:
    """The hub's copy of a CPO's CDR (GET on the `Location` the hub answered)."""
    cdr = Cdr.objects.filter(
        country_code=party.country_code, party_id=party.party_id, cdr_id=cdr_id.upper()
    ).first()
    if cdr is None:
        raise UnknownCdrError(f"Unknown CDR {party}/{cdr_id}")
    return dict(cdr.data)


def build_cdr_push(delivery: PushDelivery) -> PushRequest | None:
    """The request for a cdrs delivery: POST the stored CDR, as received, to the receiver's
    cdrs endpoint URL itself (mod_cdrs Receiver POST `{cdrs_endpoint_url}`).

    The URL is used exactly as the receiver published it, trailing slash included: some
    receivers route only that spelling and answer the other with a redirect, which the hub
    never follows (extrawest-ocpi answers `POST .../cdrs` with 307 to `.../cdrs/`).
    """
    country_code, party_id, cdr_id = delivery.object_key.split("/", 2)
    cdr = Cdr.objects.filter(country_code=country_code, party_id=party_id, cdr_id=cdr_id).first()
    if cdr is None:
        return None
    endpoint = delivery.receiver.endpoints.filter(
        identifier=MODULE, role=InterfaceRole.RECEIVER
    ).first()
    # Without an endpoint the outbox fails the delivery itself ("has no cdrs RECEIVER").
    return PushRequest("POST", "", cdr.data, url=endpoint.url if endpoint else None)
