"""Charging profiles routed between eMSPs/SCSPs and CPOs (2.2.1 mod_charging_profiles).

Receiver side (an eMSP or SCSP asks a CPO): GET the ActiveChargingProfile (`duration`,
`response_url` as URL parameters), PUT a SetChargingProfile (`response_url` in the body), DELETE
(clear; `response_url` as URL parameter). The hub routes them to the session's CPO — TO when
given, else the CPO of the stored Session whose `cdr_token` belongs to the requester — replaces
`response_url` with a hub URL and relays the CPO's ChargingProfileResponse; the CPO's result
(ActiveChargingProfileResult / ChargingProfileResult / ClearProfileResult) posted to the hub URL
reaches the original URL through the outbox (`hub.services.routing.async_results`).

Sender side (the CPO tells the eMSP/SCSP): PUT `{url}/{session_id}` with the ActiveChargingProfile,
forwarded synchronously to the chargingprofiles SENDER interface of the party that last set a
profile on that session successfully through the hub ("The Receiver SHALL NOT call this
interface for any session where the Sender has never successfully called the charging profile
Receiver PUT interface"), else of the session's token owner; TO overrides both.

Decisions where the spec is silent:

- A session the hub does not know among the requester's (without TO) is answered by the hub
  with ChargingProfileResponse UNKNOWN_SESSION, timeout 0, as for STOP_SESSION. An SCSP, which
  owns no token, must therefore name the CPO with TO (the CPO decides whether it may).
- The ActiveChargingProfile PUT is relayed as the receiver answers it (synchronous, not through
  the outbox): it is state the CPO sends again when it changes, and the CPO learns at once
  whether it arrived. Nobody to send it to → 4001.
"""

from typing import Any
from uuid import UUID

from django.conf import settings
from django.db.models import Q
from django.urls import reverse
from rest_framework import serializers

from hub.models import AsyncKind, AsyncRequest, Session
from hub.modules import ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.exceptions import InvalidParametersError, UnknownReceiverError
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.schemas.chargingprofiles import (
    ActiveChargingProfileResultSerializer,
    ChargingProfileResultSerializer,
    ClearProfileResultSerializer,
)
from hub.services.routing.async_results import (
    async_request_forward,
    async_request_open,
    hub_answer,
    only_party,
    session_of_another_owner,
    sessions_of_token_owners,
    unknown_session_text,
)
from hub.services.routing.forwarding import ForwardedResponse, forward_request

__all__ = [
    "OPERATIONS",
    "active_charging_profile_forward",
    "charging_profile_request",
    "charging_profile_result_serializer",
]

# The hub's names for the three requests (AsyncRequest.operation) and their HTTP methods.
OPERATIONS = {"GET": "GET", "SET": "PUT", "CLEAR": "DELETE"}
_RESULT_SERIALIZERS: dict[str, type[serializers.Serializer]] = {  # type: ignore[type-arg]
    "GET": ActiveChargingProfileResultSerializer,
    "SET": ChargingProfileResultSerializer,
    "CLEAR": ClearProfileResultSerializer,
}


def charging_profile_result_serializer(row: AsyncRequest) -> type[serializers.Serializer]:  # type: ignore[type-arg]
    """The result object the CPO must post for `row`: it depends on the request (2.2.1
    mod_charging_profiles Sender POST, "Choice: one of three")."""
    return _RESULT_SERIALIZERS[row.operation]


def _hub_result_url(request_id: UUID) -> str:
    path = reverse("cpo-chargingprofiles-result", kwargs={"request_id": str(request_id)})
    return f"{settings.OCPI_BASE_URL}{path}"


def _unknown_session(session_id: str, at: PartyRef | None = None) -> ForwardedResponse:
    text = unknown_session_text(session_id, at, "the request")
    # ChargingProfileResponse has no message field: the envelope's status_message says it.
    return hub_answer({"result": "UNKNOWN_SESSION", "timeout": 0}, message=text)


def charging_profile_request(
    *,
    caller: Caller,
    context: OcpiRequestContext,
    operation: str,
    session_id: str,
    response_url: str,
    body: dict[str, Any] | None = None,
    duration: str | None = None,
) -> ForwardedResponse:
    """Route a validated GET/SET/CLEAR for `session_id` to the session's CPO with the hub's
    `response_url`, and return the CPO's ChargingProfileResponse for relaying."""
    requester = context.from_party
    target = context.to_party if context.to_party is not None and not context.to_hub else None
    owners = {requester} if requester is not None else caller.parties()
    if target is not None and session_of_another_owner(session_id, target, owners):
        return _unknown_session(session_id, at=target)
    if target is None:
        sessions = sessions_of_token_owners(session_id, owners)
        cpos = sorted({PartyRef(s.country_code, s.party_id) for s in sessions})
        if not cpos:
            return _unknown_session(session_id)
        if len(cpos) > 1:
            raise InvalidParametersError(
                f"session_id: {session_id} is a session at several CPOs "
                f"({', '.join(map(str, cpos))}); name the CPO with OCPI-to-country-code/"
                "OCPI-to-party-id"
            )
        target = cpos[0]
        requester = PartyRef(sessions[0].token_country_code, sessions[0].token_party_id)
    if requester is None:
        requester = only_party(caller)
    row, hub_url = async_request_open(
        kind=AsyncKind.CHARGING_PROFILE,
        operation=operation,
        caller=caller,
        requester=requester,
        receiver=target,
        response_url=response_url,
        request_body=body if body is not None else {"duration": duration},
        correlation_id=context.correlation_id,
        hub_url=_hub_result_url,
        session_id=session_id,
    )
    query: dict[str, str] | None = None
    forward_body: dict[str, Any] | None = None
    if operation == "GET":
        query = {"duration": str(duration), "response_url": hub_url}
    elif operation == "SET":
        forward_body = {**(body or {}), "response_url": hub_url}
    else:
        query = {"response_url": hub_url}
    return async_request_forward(
        row=row,
        caller=caller,
        context=context,
        method=OPERATIONS[operation],
        segments=(session_id,),
        query=query,
        body=forward_body,
        gateway="emsp",
    )


def _profile_owner(session_id: str, cpo_parties: set[PartyRef], caller: Caller) -> PartyRef:
    """Who gets a CPO's ActiveChargingProfile for `session_id`: the party whose SET the CPO
    accepted last (its ChargingProfileResult ACCEPTED), else the session's token owner."""
    last_set = (
        AsyncRequest.objects.filter(
            kind=AsyncKind.CHARGING_PROFILE,
            operation="SET",
            receiver=caller.platform,
            session_id__iexact=session_id,
            result_body__result="ACCEPTED",
        )
        .order_by("-created_at")
        .first()
    )
    if last_set is not None:
        return PartyRef(last_set.requester_country_code, last_set.requester_party_id)
    cpo_filter = Q()
    for party in cpo_parties:
        cpo_filter |= Q(country_code=party.country_code, party_id=party.party_id)
    session = (
        Session.objects.filter(session_id=session_id.upper())
        .filter(cpo_filter)
        .order_by("-last_updated")
        .first()
        if cpo_parties
        else None
    )
    if session is None:
        raise UnknownReceiverError(
            f"Nobody set a charging profile on session {session_id} through the hub, and the "
            "hub has no such session of yours; name the receiver with OCPI-to-*"
        )
    return PartyRef(session.token_country_code, session.token_party_id)


def active_charging_profile_forward(
    *, caller: Caller, context: OcpiRequestContext, session_id: str, body: dict[str, Any]
) -> ForwardedResponse:
    """Forward a CPO's ActiveChargingProfile PUT (validated) to the eMSP/SCSP's chargingprofiles
    SENDER interface and return its answer for relaying (2.2.1 mod_charging_profiles, Sender
    PUT)."""
    cpo_parties = {context.from_party} if context.from_party else caller.parties("CPO")
    target = context.to_party if context.to_party is not None and not context.to_hub else None
    if target is None:
        target = _profile_owner(session_id, cpo_parties, caller)
    from_party = context.from_party or (next(iter(cpo_parties)) if len(cpo_parties) == 1 else None)
    hop_context = OcpiRequestContext(
        request_id=context.request_id,
        correlation_id=context.correlation_id,
        from_party=from_party,
        to_party=target,
    )
    return forward_request(
        caller=caller,
        context=hop_context,
        module=ModuleID.CHARGING_PROFILES,
        interface_role="SENDER",
        method="PUT",
        segments=(session_id,),
        query=None,
        body=body,
        gateway="cpo",
    )
