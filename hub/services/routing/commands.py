"""Commands from eMSPs routed to CPOs (2.2.1 mod_commands; DESIGN §3 "response_url").

An eMSP POSTs a command to the hub's commands RECEIVER; the hub decides which CPO it is for,
proxies its `response_url` (`hub.services.routing.async_results`) and forwards it. Routing:

- TO names a party (not the hub): that party (direct routing); the hub does not second-guess
  the location or session, the CPO answers for them.
- Otherwise (no TO, or TO = the hub: open routing) the hub picks the CPO:
  START_SESSION, RESERVE_NOW, UNLOCK_CONNECTOR → the owner of `location_id` in the hub's
  location store (unknown → 2003 "Unknown Location", the spec's code for exactly this; an id
  several CPOs use → 2001 asking for TO); STOP_SESSION → the CPO of the stored Session, among
  sessions whose `cdr_token` belongs to the requester; CANCEL_RESERVATION → the CPO the
  requester's RESERVE_NOW with that `reservation_id` went to.

Decisions where the spec is silent:

- A STOP_SESSION for a session the hub does not know (among the requester's) is answered by the
  hub with OCPI 1000 and CommandResponse UNKNOWN_SESSION, timeout 0 — what the CPO would
  answer, in the form the eMSP already handles; TO reaches a CPO anyway. Nothing is stored.
- A CANCEL_RESERVATION for a reservation the hub never routed is 4001 (nobody fits: the spec has
  no code for an unknown reservation in the synchronous answer); TO reaches a CPO anyway.
- "An eMSP ... SHALL only use Tokens that are owned by this eMSP" (StartSession, ReserveNow):
  the token's country_code/party_id must be one of the calling platform's parties, and equal
  FROM when FROM is given — else 2001 naming `token`. The hub learns the token's owner
  (`token_owner_learn`, source COMMAND) for routing its sessions and CDRs later.
- The requesting party (FROM of the forwarded command, TO of its result) is FROM, else the
  token's owner, else the session's or reservation's requester, else the caller's only party;
  a platform hosting several parties must say which with OCPI-from-* (2001).
"""

import re
from collections.abc import Callable
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from hub.models import AsyncKind, AsyncRequest, AsyncState, Location, Platform, TokenSource
from hub.modules import ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.exceptions import InvalidParametersError, UnknownLocationError, UnknownReceiverError
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.services.routing.async_results import (
    async_request_forward,
    async_request_open,
    hub_answer,
    only_party,
    session_of_another_owner,
    sessions_of_token_owners,
    unknown_session_text,
)
from hub.services.routing.forwarding import ForwardedResponse
from hub.services.routing.token_index import token_owner_learn

__all__ = ["command_send", "inferred_commands_endpoint"]

_LOCATION_COMMANDS = frozenset({"START_SESSION", "RESERVE_NOW", "UNLOCK_CONNECTOR"})
_TOKEN_COMMANDS = frozenset({"START_SESSION", "RESERVE_NOW"})
# `.../locations` or `.../locations/` at the end of a CPO's locations SENDER URL.
_LOCATIONS_TAIL = re.compile(r"/locations(/?)$")


def _hub_result_url(command: str) -> Callable[[UUID], str]:
    def url(request_id: UUID) -> str:
        path = reverse(
            "cpo-commands-result", kwargs={"command": command, "request_id": str(request_id)}
        )
        return f"{settings.OCPI_BASE_URL}{path}"

    return url


def inferred_commands_endpoint(platform: Platform) -> str | None:
    """A CPO's commands RECEIVER URL derived from its locations SENDER URL, for CPOs that serve
    the interface without listing it (extrawest-ocpi); None when the URL does not end in
    `/locations` (nothing sensible to derive)."""
    endpoint = platform.endpoints.filter(identifier=ModuleID.LOCATIONS, role="SENDER").first()
    if endpoint is None or not _LOCATIONS_TAIL.search(endpoint.url):
        return None
    return _LOCATIONS_TAIL.sub(r"/commands\1", endpoint.url)


def _token_owner(caller: Caller, context: OcpiRequestContext, token: dict[str, Any]) -> PartyRef:
    owner = PartyRef.of(str(token["country_code"]), str(token["party_id"]))
    if owner not in caller.parties():
        raise InvalidParametersError(
            f"token: {owner} is not a party of the calling platform; an eMSP may only use its "
            "own tokens (2.2.1 mod_commands)"
        )
    if context.from_party is not None and context.from_party != owner:
        raise InvalidParametersError(
            f"token: owned by {owner}, but the command is from {context.from_party}; an eMSP "
            "may only use its own tokens"
        )
    return owner


def _direct_target(context: OcpiRequestContext) -> PartyRef | None:
    if context.to_party is None or context.to_hub:
        return None
    return context.to_party


def _location_owner(location_id: str) -> PartyRef:
    owners = sorted(
        {
            PartyRef(cc, pid)
            for cc, pid in Location.objects.filter(location_id=location_id.upper()).values_list(
                "country_code", "party_id"
            )[:10]
        }
    )
    if not owners:
        raise UnknownLocationError(f"Unknown Location: location_id {location_id}")
    if len(owners) > 1:
        raise InvalidParametersError(
            f"location_id: {location_id} exists at several CPOs "
            f"({', '.join(map(str, owners))}); name the CPO with OCPI-to-country-code/"
            "OCPI-to-party-id"
        )
    return owners[0]


def _session_target(
    session_id: str, requester: PartyRef | None, caller: Caller
) -> tuple[PartyRef, PartyRef] | None:
    """(CPO, token owner) of the requester's stored session `session_id`; None if unknown."""
    owners = {requester} if requester is not None else caller.parties()
    sessions = sessions_of_token_owners(session_id, owners)
    cpos = sorted({PartyRef(s.country_code, s.party_id) for s in sessions})
    if not cpos:
        return None
    if len(cpos) > 1:
        raise InvalidParametersError(
            f"session_id: {session_id} is a session at several CPOs ({', '.join(map(str, cpos))});"
            " name the CPO with OCPI-to-country-code/OCPI-to-party-id"
        )
    session = sessions[0]
    return cpos[0], PartyRef(session.token_country_code, session.token_party_id)


def _reservation_target(
    reservation_id: str, requester: PartyRef | None, caller: Caller
) -> tuple[PartyRef, PartyRef]:
    """(CPO, requester) of the requester's RESERVE_NOW with this `reservation_id`."""
    reservations = AsyncRequest.objects.filter(
        kind=AsyncKind.COMMAND,
        operation="RESERVE_NOW",
        requester=caller.platform,
        request_body__reservation_id__iexact=reservation_id,
    ).exclude(state__in=(AsyncState.REFUSED, AsyncState.FAILED))
    if requester is not None:
        reservations = reservations.filter(
            requester_country_code=requester.country_code, requester_party_id=requester.party_id
        )
    latest = reservations.order_by("-created_at").first()
    if latest is None:
        raise UnknownReceiverError(
            f"reservation_id: the hub routed no reservation {reservation_id} of yours; name the "
            "CPO with OCPI-to-country-code/OCPI-to-party-id"
        )
    return (
        PartyRef(latest.receiver_country_code, latest.receiver_party_id),
        PartyRef(latest.requester_country_code, latest.requester_party_id),
    )


def _unknown_session(session_id: str, at: PartyRef | None = None) -> ForwardedResponse:
    text = unknown_session_text(session_id, at, "the command")
    return hub_answer(
        {"result": "UNKNOWN_SESSION", "timeout": 0, "message": [{"language": "en", "text": text}]}
    )


def command_send(
    *, caller: Caller, context: OcpiRequestContext, command: str, body: dict[str, Any]
) -> ForwardedResponse:
    """Route a validated command (`body` as received) to its CPO with the hub's `response_url`
    and return the CPO's CommandResponse for relaying (2.2.1 mod_commands, Receiver POST)."""
    requester: PartyRef | None = context.from_party
    token = body.get("token")
    if command in _TOKEN_COMMANDS and isinstance(token, dict):
        requester = _token_owner(caller, context, token)
    target = _direct_target(context)
    if (
        target is not None
        and command == "STOP_SESSION"
        and session_of_another_owner(
            str(body["session_id"]), target, {requester} if requester else caller.parties()
        )
    ):
        return _unknown_session(str(body["session_id"]), at=target)
    if target is None:
        if command in _LOCATION_COMMANDS:
            target = _location_owner(str(body["location_id"]))
        elif command == "STOP_SESSION":
            found = _session_target(str(body["session_id"]), requester, caller)
            if found is None:
                return _unknown_session(str(body["session_id"]))
            target, requester = found
        elif command == "CANCEL_RESERVATION":
            target, requester = _reservation_target(str(body["reservation_id"]), requester, caller)
    if target is None:  # every CommandType has a routing rule above; kept for the type checker
        raise UnknownReceiverError(f"No routing rule for {command}; name the CPO with OCPI-to-*")
    if requester is None:
        requester = only_party(caller)
    with transaction.atomic():
        if command in _TOKEN_COMMANDS and isinstance(token, dict):
            token_owner_learn(
                owner=requester,
                uid=str(token["uid"]),
                token_type=str(token["type"]),
                source=TokenSource.COMMAND,
            )
        row, hub_url = async_request_open(
            kind=AsyncKind.COMMAND,
            operation=command,
            caller=caller,
            requester=requester,
            receiver=target,
            response_url=str(body["response_url"]),
            request_body=body,
            correlation_id=context.correlation_id,
            hub_url=_hub_result_url(command),
            location_id=str(body.get("location_id") or ""),
            session_id=str(body.get("session_id") or ""),
        )
    fallback = inferred_commands_endpoint if settings.OCPI_INFER_COMMANDS_ENDPOINT else None
    return async_request_forward(
        row=row,
        caller=caller,
        context=context,
        method="POST",
        segments=(command,),
        query=None,
        body={**body, "response_url": hub_url},
        gateway="emsp",
        endpoint_fallback=fallback,
    )
