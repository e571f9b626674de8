"""Tokens pushed by eMSPs, stored, broadcast to CPOs; real-time authorization routed to the
token's eMSP (2.2.1 mod_tokens; DESIGN §3-4).

The hub is the Receiver of every eMSP's tokens (PUT/PATCH, never deleted: `valid=false`) and
the Sender of them to CPOs (GET all via hub, and a push to every connected CPO with a tokens
RECEIVER). Tokens are unique per (country_code, party_id, uid, type); keys are upper-cased
(CiString), the payload is stored as received and `last_updated` is never touched. An update
older than what is stored, or a replay of it, changes nothing.

Real-time authorization (mod_tokens Sender POST `{uid}/authorize`) goes to the eMSP named in
TO, else (open routing) to the token's owner from the token-owner index, with a short timeout:
a driver waits at the charger.
"""

import copy
import dataclasses
import time
from typing import Any
from urllib.parse import quote

from django.conf import settings
from django.db import transaction

from hub.models import Platform, PushDelivery, Role, Token, TokenSource
from hub.modules import ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.exceptions import OcpiError, UnknownReceiverError, UnknownTokenError
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.selectors import receivers_for
from hub.services.analytics.records import authorization_answered, authorization_failed
from hub.services.concurrency import retry_on_unique_race
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest
from hub.services.freshness import supersedes
from hub.services.results import WriteResult
from hub.services.routing.forwarding import ForwardedResponse, forward_request
from hub.services.routing.token_index import token_owner_learn, token_owners_of

MODULE = ModuleID.TOKENS
# RFC 3986 pchar without "/": a token uid is printable ASCII and may hold "/", "?" or "#".
_SEGMENT_SAFE = "-._~!$&'()*+,;=:@"


def token_key(party: PartyRef, uid: str, token_type: str) -> str:
    """The outbox object key `CC/PID/UID/TYPE`. The type is last so that the ordering group
    (the first three segments) is one token uid, and a uid holding "/" still parses
    (`rsplit` for the type, `split(maxsplit=2)` for the rest)."""
    return f"{party.country_code}/{party.party_id}/{uid.upper()}/{token_type}"


def _split_key(object_key: str) -> tuple[str, str, str, str]:
    head, token_type = object_key.rsplit("/", 1)
    country_code, party_id, uid = head.split("/", 2)
    return country_code, party_id, uid, token_type


def _locked(party: PartyRef, uid: str, token_type: str) -> Token | None:
    return (
        Token.objects.select_for_update()
        .filter(
            country_code=party.country_code,
            party_id=party.party_id,
            uid=uid.upper(),
            type=token_type,
        )
        .first()
    )


@retry_on_unique_race
@transaction.atomic
def token_write(
    *,
    owner: Platform,
    party: PartyRef,
    uid: str,
    token_type: str,
    method: str,
    data: dict[str, Any],
    correlation_id: str = "",
) -> WriteResult[Token]:
    """Store an eMSP's PUT or PATCH of a token, learn its owner and broadcast it to the CPOs
    (2.2.1 mod_tokens Receiver PUT/PATCH). A PATCH of a token the hub does not have is
    404 + 2004 (the eMSP is expected to PUT it then)."""
    token = _locked(party, uid, token_type)
    if method == "PATCH":
        if token is None:
            raise UnknownTokenError(f"Unknown token {uid} of type {token_type}; PUT it first")
        if not supersedes(data, token.data):
            return WriteResult(token, created=False, changed=False)
        document = {**token.data, **copy.deepcopy(data)}
    else:
        if token is not None and not supersedes(data, token.data):
            return WriteResult(token, created=False, changed=False)
        document = copy.deepcopy(data)
    fields = {
        "data": document,
        "owner": owner,
        "contract_id": str(document.get("contract_id") or "").upper()[:36],
        "valid": bool(document.get("valid", True)),
        "last_updated": parse_datetime(document["last_updated"]),
    }
    created = token is None
    if token is None:
        token = Token.objects.create(
            country_code=party.country_code,
            party_id=party.party_id,
            uid=uid.upper(),
            type=token_type,
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(token, name, value)
        token.save()
    token_owner_learn(owner=party, uid=uid, token_type=token_type, source=TokenSource.TOKENS)
    operation = "PATCH" if method == "PATCH" else "PUT"
    push_enqueue(
        module=MODULE,
        object_key=token_key(party, uid, token_type),
        operation=operation,
        receivers=receivers_for(MODULE, owner=party, roles=("CPO",), exclude_platform_id=owner.pk),
        correlation_id=correlation_id,
        patch_fields=sorted(data) if operation == "PATCH" else (),
    )
    return WriteResult(token, created=created, changed=True)


def token_get(party: PartyRef, uid: str, token_type: str) -> dict[str, Any]:
    """The hub's copy of an eMSP's token (the Receiver GET: the eMSP checks what the hub has);
    404 + 2004 when the hub has none."""
    token = Token.objects.filter(
        country_code=party.country_code, party_id=party.party_id, uid=uid.upper(), type=token_type
    ).first()
    if token is None:
        raise UnknownTokenError(f"Unknown token {uid} of type {token_type}")
    return token.data


def build_token_push(delivery: PushDelivery) -> PushRequest | None:
    """The request for a tokens delivery, from the token's state now: PUT (or PATCH of the
    changed fields, falling back to PUT) to `{tokens RECEIVER}/{cc}/{pid}/{uid}?type=TYPE`,
    with the owner's spelling of the ids (the URL keeps the owner's country/party)."""
    country_code, party_id, uid, token_type = _split_key(delivery.object_key)
    token = Token.objects.filter(
        country_code=country_code, party_id=party_id, uid=uid, type=token_type
    ).first()
    if token is None:
        return None
    data = token.data
    segments = (data["country_code"], data["party_id"], data["uid"])
    path = "/" + "/".join(quote(str(segment), safe=_SEGMENT_SAFE) for segment in segments)
    # `type` is always sent: a receiver defaults a missing one to RFID, wrong for other types.
    query = {"type": token_type}
    full = PushRequest("PUT", path, data, query=query)
    if delivery.operation == "PATCH":
        fields = set(delivery.patch_fields) | {"last_updated"}
        body = {name: data[name] for name in sorted(fields) if name in data}
        return PushRequest("PATCH", path, body, fallback=full, query=query)
    return full


def authorize_target(context: OcpiRequestContext, uid: str, token_type: str) -> PartyRef:
    """Who answers a real-time authorization: the TO party (direct routing), else — no TO, or
    TO = the hub — the token's owner (open routing, DESIGN §3). 4001 when the hub knows no
    owner, or several eMSPs issued the same (uid, type) and the CPO must say which."""
    if context.to_party is not None and not context.to_hub:
        return context.to_party
    owners = token_owners_of(uid, token_type)
    if not owners:
        raise UnknownReceiverError(
            f"No eMSP is known to own token {uid} of type {token_type}; name the eMSP with "
            "OCPI-to-country-code/OCPI-to-party-id"
        )
    if len(owners) > 1:
        names = ", ".join(str(owner) for owner in owners)
        raise UnknownReceiverError(
            f"Token {uid} of type {token_type} is issued by several eMSPs ({names}); name one "
            "with OCPI-to-country-code/OCPI-to-party-id"
        )
    return owners[0]


def token_authorize(
    *,
    caller: Caller,
    context: OcpiRequestContext,
    uid: str,
    token_type: str,
    location: dict[str, Any] | None,
    gateway: str,
) -> ForwardedResponse:
    """Route a CPO's real-time authorization to the token's eMSP (its tokens SENDER,
    `/{uid}/authorize?type=`) and relay the answer unchanged: AuthorizationInfo, 404 + 2004 for
    an unknown token, 2002 when the eMSP needs LocationReferences (2.2.1 mod_tokens POST).

    The eMSP gets `OCPI_AUTHORIZE_TIMEOUT_S` to answer, then the CPO gets 4002. An eMSP that
    answers a bare HTTP 404 (no envelope) means "unknown token" (the spec makes the 404 the
    answer): the CPO gets 404 + 2004, not a hub error it might read as "eMSP offline" and
    apply ALLOWED_OFFLINE to a token nobody knows.
    """
    # Every routed authorization is recorded for analytics (allow/deny rates, failures apart).
    started = time.monotonic()
    cpo = _authorizing_cpo(caller, context)
    target: PartyRef | None = None
    try:
        target = authorize_target(context, uid, token_type)
        result = forward_request(
            caller=caller,
            context=dataclasses.replace(context, to_party=target),
            module=MODULE,
            interface_role="SENDER",
            method="POST",
            segments=(uid, "authorize"),
            query={"type": token_type},
            body=location,
            gateway=gateway,
            timeout=settings.OCPI_AUTHORIZE_TIMEOUT_S,
            unknown_object=UnknownTokenError,
        )
    except OcpiError as error:
        authorization_failed(cpo=cpo, emsp=target, error=error, started=started)
        raise
    authorization_answered(
        cpo=cpo, emsp=target, http_status=result.http_status, body=result.body, started=started
    )
    return result


def _authorizing_cpo(caller: Caller, context: OcpiRequestContext) -> PartyRef | None:
    """The CPO party asking: the FROM party, else the caller's only CPO party (None when the
    platform hosts several and named none)."""
    if context.from_party is not None:
        return context.from_party
    cpos = caller.parties(Role.CPO)
    return next(iter(cpos)) if len(cpos) == 1 else None
