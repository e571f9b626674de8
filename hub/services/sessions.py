"""Sessions written by CPOs, stored and delivered to the eMSP owning `cdr_token` (2.2.1
mod_sessions, Receiver interface; DESIGN §3).

Receiver semantics (mod_sessions, PUT and PATCH): a PUT replaces the whole Session,
`charging_periods` included (omitted or empty removes them); a PATCH merges the fields it
carries and APPENDS its `charging_periods` (omitted or empty leaves them unchanged) and must
carry `last_updated`. An update older than the stored one changes nothing, and so does a
replay of the same update (a replayed PATCH appends nothing: a period identical to one already
held is not appended twice). The hub never touches `last_updated`.

Routing (DESIGN §3): sessions are never broadcast. Whether TO names the token's eMSP, the hub,
or nothing (open routing), the session is stored and delivered through the outbox to the owner
of `cdr_token` (its `country_code`/`party_id`), FROM = the CPO party, TO = that eMSP. A TO naming
anyone else is refused (2001), an owner the hub does not know is refused (4001), an owner that is
not connected for good (never registered, SUSPENDED) is refused (4003): nothing is stored, so the
CPO learns at once that the session has nowhere to go. An owner that is OFFLINE is accepted: the
delivery keeps trying for `OCPI_SESSION_RETRY_WINDOW_S` (sessions are billing-relevant), and the
eMSP can pull with GET. An owner without a sessions RECEIVER endpoint gets no push and pulls.
The token owner of a stored session cannot change (2001): it would move billing data between
eMSPs, and the first one would keep a copy.

Delivery semantics (decided here; the spec says "PUT new, PATCH changes"): the first delivery to
an eMSP is a PUT of the current object; once the eMSP has acknowledged a version, changes of
top-level fields go as a PATCH of those fields (current values, plus `last_updated`) with a PUT
as the fallback when the eMSP does not know the session. Any change of `charging_periods` goes
as a PUT of the whole session: a PATCH would append, and the hub cannot know which periods a
receiver holds after folded, failed or replaced deliveries, whereas a PUT always converges.
"""

import copy
import dataclasses
from decimal import Decimal
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction

from hub.models import (
    DeliveryStatus,
    InterfaceRole,
    Platform,
    PlatformRole,
    PushDelivery,
    Session,
    TokenSource,
)
from hub.modules import ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.exceptions import (
    ConnectionProblemError,
    InvalidParametersError,
    NotFoundError,
    UnknownReceiverError,
    validation_message,
)
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.schemas.sessions import SessionSerializer
from hub.selectors import (
    SESSION_RECEIVER_ROLES,
    platform_roles_of,
    route_refusal,
    sessions_visible_to,
)
from hub.services.concurrency import retry_on_unique_race
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest, Receiver
from hub.services.freshness import supersedes
from hub.services.reconciliation.facts import session_changed, session_cost
from hub.services.results import WriteResult
from hub.services.routing.forwarding import ForwardedResponse, forward_request
from hub.services.routing.token_index import token_owner_learn

MODULE = ModuleID.SESSIONS

# Fields that address the session rather than describe it: never PATCHed on delivery.
_IDENTITY_FIELDS = frozenset({"country_code", "party_id", "id"})
# RFC 3986 pchar without "/": an id is one path segment.
_SEGMENT_SAFE = "-._~:@!$&'()*+,;="
_KWH_QUANTUM = Decimal("0.0001")


class UnknownSessionError(NotFoundError):
    """GET or PATCH of a session the hub does not have: HTTP 404 (a CPO whose PATCH fails is
    expected to PUT the session, 2.2.1 transport_and_format)."""


def session_key(party: PartyRef, session_id: str) -> str:
    """The outbox object key `CC/PID/SESSION_ID` (CiStrings upper-cased)."""
    return f"{party.country_code}/{party.party_id}/{session_id.upper()}"


def _locked(party: PartyRef, session_id: str) -> Session | None:
    return (
        Session.objects.select_for_update()
        .filter(
            country_code=party.country_code,
            party_id=party.party_id,
            session_id=session_id.upper(),
        )
        .first()
    )


def token_owner_of(document: dict[str, Any]) -> PartyRef:
    """The eMSP owning a session's `cdr_token` (mod_cdrs CdrToken, new in 2.2.1)."""
    token = document["cdr_token"]
    return PartyRef.of(token["country_code"], token["party_id"])


def cdr_token_receiver(
    *, module: str, cpo: PartyRef, token_owner: PartyRef, to_party: PartyRef | None
) -> Receiver | None:
    """Where a CPO's session or CDR goes: the platform hosting the `cdr_token` owner (DESIGN
    §3; shared by the sessions and cdrs modules).

    `to_party` is the TO header unless it names the hub (None: open routing). Raises 2001 for
    a TO contradicting the token, 4001 for an owner the hub does not know (or may not reach),
    4003 for one that never completed registration. A SUSPENDED owner is a receiver: the
    outbox holds its deliveries until staff reactivate it (billing records are kept, not
    refused, so a CPO never has to find out about the hub's dispute with an eMSP). None: the
    owner is known but publishes no `module` RECEIVER, so it pulls (2.2.1 mod_sessions/mod_cdrs,
    Pull model): nothing is pushed.
    """
    if to_party is not None and to_party != token_owner:
        raise InvalidParametersError(
            f"OCPI-to-country-code/OCPI-to-party-id: {to_party} is not the owner of "
            f"cdr_token ({token_owner}); {module} go to the token's eMSP only"
        )
    roles: list[PlatformRole] = list(
        platform_roles_of(token_owner).filter(role__in=SESSION_RECEIVER_ROLES)
    )
    if not roles:
        raise UnknownReceiverError(
            f"cdr_token: {token_owner} is not an eMSP known to the hub; nobody can receive this"
        )
    refusal = route_refusal({cpo}, token_owner, module)
    if refusal is not None:
        # 4001 like direct routing's refusal (`services.routing.forwarding._check_may_route`).
        raise UnknownReceiverError(f"cdr_token: {refusal}")
    reachable = [role for role in roles if role.platform.registered]
    if not reachable:
        platform = roles[0].platform
        raise ConnectionProblemError(
            f"cdr_token: {token_owner} is not connected to the hub ({platform.status}"
            f"{'' if platform.registered else ', not registered'})"
        )
    for role in reachable:
        if role.platform.endpoints.filter(identifier=module, role=InterfaceRole.RECEIVER).exists():
            return Receiver(role.platform, token_owner)
    return None


def _merge_patch(stored: dict[str, Any], patch: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The session after a PATCH, and whether periods were appended (mod_sessions PATCH)."""
    document = copy.deepcopy(stored)
    for name, value in patch.items():
        if name != "charging_periods":
            document[name] = copy.deepcopy(value)
    periods = list(document.get("charging_periods") or [])
    appended = False
    for period in patch.get("charging_periods") or []:
        # A period identical to one already held is a replay, not a new period.
        if period not in periods:
            periods.append(copy.deepcopy(period))
            appended = True
    if appended:
        document["charging_periods"] = periods
    return document, appended


def _check_merged(document: dict[str, Any]) -> None:
    """A PATCH must leave a valid Session (e.g. not end before it starts)."""
    serializer = SessionSerializer(data=document)
    if not serializer.is_valid():
        raise InvalidParametersError(
            "After this PATCH the session would be invalid: "
            + validation_message(serializer.errors)
        )


def _store(
    session: Session | None,
    party: PartyRef,
    session_id: str,
    document: dict[str, Any],
    owner: Platform,
    *,
    token_owner_finding: str = "",
    correlation_id: str = "",
) -> Session:
    token_owner = token_owner_of(document)
    end = document.get("end_date_time")
    fields: dict[str, Any] = {
        "data": document,
        "owner": owner,
        "status": str(document["status"])[:12],
        "token_country_code": token_owner.country_code,
        "token_party_id": token_owner.party_id,
        "location_id": str(document["location_id"]).upper()[:36],
        "kwh": Decimal(str(document["kwh"])).quantize(_KWH_QUANTUM),
        "start_date_time": parse_datetime(document["start_date_time"]),
        "end_date_time": parse_datetime(end) if end else None,
        "last_updated": parse_datetime(document["last_updated"]),
        "token_owner_finding": token_owner_finding,
        "correlation_id": correlation_id[:255],
    }
    if session is None:
        return Session.objects.create(
            country_code=party.country_code,
            party_id=party.party_id,
            session_id=session_id.upper(),
            **fields,
        )
    # What reconciliation compares with the Session's CDRs: a change clears their proof.
    compared = (session.kwh, session_cost(session.data))
    for name, value in fields.items():
        setattr(session, name, value)
    session.save()
    if (session.kwh, session_cost(session.data)) != compared:
        session_changed(party, session_id)
    return session


@retry_on_unique_race
@transaction.atomic
def session_write(
    *,
    owner: Platform,
    party: PartyRef,
    session_id: str,
    method: str,
    data: dict[str, Any],
    to_party: PartyRef | None = None,
    correlation_id: str = "",
) -> WriteResult[Session]:
    """Store a CPO's PUT or PATCH of a session and queue its delivery to the token's eMSP.

    `data` has been validated (SessionSerializer / SessionPatchSerializer) and its identity
    checked against the URL; `to_party` is the TO header unless it names the hub.
    """
    session = _locked(party, session_id)
    stored = session.data if session is not None else None
    if method == "PUT":
        document, appended = copy.deepcopy(data), False
    else:
        if stored is None:
            raise UnknownSessionError(
                f"Unknown session {party}/{session_id}: PUT it first (a PATCH needs the session)"
            )
        document, appended = _merge_patch(stored, data)
    token_owner = token_owner_of(document)
    if stored is not None and token_owner != token_owner_of(stored):
        raise InvalidParametersError(
            f"cdr_token: the session belongs to {token_owner_of(stored)}'s token; the token "
            f"owner of a session cannot change to {token_owner}"
        )
    receiver = cdr_token_receiver(
        module=MODULE, cpo=party, token_owner=token_owner, to_party=to_party
    )
    if session is not None and not supersedes(document, session.data, whole=True):
        return WriteResult(session, created=False, changed=False)  # stale or replayed
    if method == "PATCH":
        _check_merged(document)
    token = document["cdr_token"]
    # A CPO's word on the token's owner: never overrides the eMSP's own (a finding instead).
    finding = token_owner_learn(
        owner=token_owner, uid=token["uid"], token_type=token["type"], source=TokenSource.SESSION
    )
    written = _store(
        session,
        party,
        session_id,
        document,
        owner,
        token_owner_finding=finding,
        correlation_id=correlation_id,
    )
    if receiver is not None:
        full = session is None or method == "PUT" or appended
        push_enqueue(
            module=MODULE,
            object_key=session_key(party, session_id),
            operation="PUT" if full else "PATCH",
            receivers=[receiver],
            correlation_id=correlation_id,
            patch_fields=sorted(set(data) - _IDENTITY_FIELDS),
            from_party=party,
            retry_window_s=settings.OCPI_SESSION_RETRY_WINDOW_S,
        )
    return WriteResult(written, created=session is None, changed=True)


def session_get(party: PartyRef, session_id: str) -> dict[str, Any]:
    """The hub's copy of a CPO's session (Receiver GET: the CPO checks what the hub holds)."""
    session = Session.objects.filter(
        country_code=party.country_code, party_id=party.party_id, session_id=session_id.upper()
    ).first()
    if session is None:
        raise UnknownSessionError(f"Unknown session {party}/{session_id}")
    return dict(session.data)


def _path(document: dict[str, Any]) -> str:
    # The owner's spelling of the ids, as received (CiStrings are compared, never rewritten).
    parts = (document["country_code"], document["party_id"], document["id"])
    return "/" + "/".join(quote(str(part), safe=_SEGMENT_SAFE) for part in parts)


def _acknowledged(delivery: PushDelivery) -> bool:
    """Has the receiver accepted any version of this session yet?"""
    return PushDelivery.objects.filter(
        receiver_id=delivery.receiver_id,
        module=MODULE,
        object_key=delivery.object_key,
        status=DeliveryStatus.DELIVERED,
    ).exists()


def build_session_push(delivery: PushDelivery) -> PushRequest | None:
    """The request for a sessions delivery, from the session's state now (see the module
    docstring for when it is a PUT and when a PATCH)."""
    country_code, party_id, session_id = delivery.object_key.split("/", 2)
    session = Session.objects.filter(
        country_code=country_code, party_id=party_id, session_id=session_id
    ).first()
    if session is None:
        return None
    document = session.data
    full = PushRequest("PUT", _path(document), document)
    if (
        delivery.operation != "PATCH"
        or "charging_periods" in delivery.patch_fields
        or not _acknowledged(delivery)
    ):
        return full
    fields = set(delivery.patch_fields) | {"last_updated"}
    body = {name: document[name] for name in sorted(fields) if name in document}
    return PushRequest("PATCH", _path(document), body, fallback=full)


def charging_preferences_set(
    *, caller: Caller, context: OcpiRequestContext, session_id: str, body: Any
) -> ForwardedResponse:
    """Route an eMSP's ChargingPreferences PUT to the CPO of the session and relay the CPO's
    answer (2.2.1 mod_sessions, Sender PUT `{sessions_url}/{session_id}/charging_preferences`):
    a ChargingPreferencesResponse, or the CPO's HTTP 404 + 2001 for an EVSE that is not
    CHARGING_PREFERENCES_CAPABLE, relayed as they are.

    The CPO is the stored session's (open routing: session ids are unique per CPO only, so
    several matches need TO) or the TO party. A session the hub holds for another eMSP's token
    is answered 404 as if unknown: preferences are the token owner's to set, and the answer
    must not reveal other eMSPs' sessions. With TO = a CPO and no stored session the request is
    forwarded (the hub only knows the sessions routed through it) and the CPO decides.
    """
    to_party = None if context.to_party is None or context.to_hub else context.to_party
    same_id = Session.objects.filter(session_id=session_id.upper())
    if to_party is not None:
        same_id = same_id.filter(country_code=to_party.country_code, party_id=to_party.party_id)
    mine = list(
        sessions_visible_to(caller, context.from_party)
        .filter(pk__in=same_id.values("pk"))
        .order_by("pk")[:2]
    )
    if len(mine) > 1:
        raise InvalidParametersError(
            f"session_id: {session_id} exists at several CPOs; name the CPO with "
            "OCPI-to-country-code/OCPI-to-party-id"
        )
    from_party = context.from_party
    path_id = session_id
    if mine:
        session = mine[0]
        target = PartyRef(session.country_code, session.party_id)
        from_party = from_party or PartyRef(session.token_country_code, session.token_party_id)
        path_id = str(session.data.get("id", session_id))
    elif to_party is not None and not same_id.exists():
        target = to_party
    else:
        raise UnknownSessionError(f"Unknown session {session_id}")
    return forward_request(
        caller=caller,
        context=dataclasses.replace(context, to_party=target, from_party=from_party),
        module=MODULE,
        interface_role=InterfaceRole.SENDER,
        method="PUT",
        segments=(path_id, "charging_preferences"),
        query=None,
        body=body,
        gateway="emsp",
    )
