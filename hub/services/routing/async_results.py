"""The `response_url` proxy of commands and charging profiles (DESIGN §3; HUB-CHECKLIST §2.5).

2.2.1 mod_commands and mod_charging_profiles are asynchronous: the eMSP (or SCSP) gives a
`response_url`, the CPO answers synchronously (CommandResponse / ChargingProfileResponse with a
`timeout`) and later POSTs the result to that URL. Behind a hub the CPO holds credentials for
the hub only, and must not learn (nor be able to call) the eMSP's URL. So the hub:

1. records an `AsyncRequest` (FORWARDED) and replaces `response_url` with a hub URL naming it,
   then forwards the request to the CPO (direct routing, `forward_request`);
2. relays the CPO's synchronous answer and remembers it: ACCEPTED → WAITING until `timeout`
   plus `OCPI_COMMAND_TIMEOUT_MARGIN_S`; anything else → REFUSED (no result will come);
3. accepts the CPO's result on the hub URL — only from the platform the request went to — and
   relays it to the original `response_url` through the outbox (FROM = CPO, TO = requester),
   so a requester that is briefly down still gets it, once;
4. times out what stays WAITING: a command's requester gets a CommandResult TIMEOUT from the
   hub; a charging-profile request has no such value (ChargingProfileResultType is ACCEPTED,
   REJECTED, UNKNOWN), so its requester gets nothing ("the eMSP can assume that the message
   might never be sent").

Decisions where the spec is silent (prior art: OCN node `OcpiRequestHandler.forwardAsync`,
which proxies the URL the same way but keeps no state beyond the mapping):

- A result may arrive before the CPO's synchronous answer (a fast charge point): it is accepted
  while FORWARDED too, and the late synchronous answer then only records its `timeout`.
- The same result posted twice is a no-op answered 1000 (CPOs retry on network errors); a
  different second result is refused with 2001, except a RESERVE_NOW's CANCELED_RESERVATION
  after an ACCEPTED result, until the reservation's `expiry_date` plus the margin: the spec has
  the CPO post it "with the same URL as was given by the Sender when the RESERVE_NOW command
  was send".
- A command's result after the hub sent TIMEOUT is refused (2001): the requester has already
  been told TIMEOUT, and two contradicting results are worse than one. A charging-profile result
  after its timeout is still relayed, since the hub told the requester nothing.
- If the CPO's synchronous answer is lost (4002 timeout), the command may still have reached
  the charge point: the request stays WAITING for `OCPI_COMMAND_DEFAULT_TIMEOUT_S`, so a result
  that does come is relayed, and otherwise the requester is told TIMEOUT.
- An unknown request id, a wrong command type in the URL and a request sent to another platform
  all answer the same 404: nobody learns which ids exist.
- CPO libraries that put a single object in a list (`"data": [{...}]`, extrawest-ocpi) are read
  as that object, and the requester gets the object (2.2.1 Response format).
"""

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from rest_framework import serializers

from hub.models import (
    AsyncKind,
    AsyncRequest,
    AsyncState,
    Platform,
    PlatformEndpoint,
    PushDelivery,
    Session,
)
from hub.modules import ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.datetimes import DateTimeFormatError, parse_datetime
from hub.ocpi.envelope import ocpi_envelope
from hub.ocpi.exceptions import (
    ForwardTimeoutError,
    InvalidParametersError,
    NotFoundError,
    OcpiError,
)
from hub.ocpi.routing import OcpiRequestContext, PartyRef, hub_party
from hub.ocpi.urlpolicy import UrlNotAllowedError, check_url
from hub.selectors import platform_roles_of
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest, Receiver
from hub.services.routing.forwarding import ForwardedResponse, forward_request

logger = logging.getLogger(__name__)

__all__ = [
    "MODULE_OF",
    "async_request_forward",
    "async_request_open",
    "async_requests_expire",
    "async_result_receive",
    "build_async_result_push",
    "hub_answer",
    "only_party",
    "session_of_another_owner",
    "sessions_of_token_owners",
]

# The OCPI module of each kind: the outbox module of its result deliveries, and the module the
# request is forwarded in.
MODULE_OF = {
    AsyncKind.COMMAND: ModuleID.COMMANDS,
    AsyncKind.CHARGING_PROFILE: ModuleID.CHARGING_PROFILES,
}
# First segment of the deliveries' object keys: `{prefix}/{id}/result/{n}` (n = 0 for the first
# result, 1.. for later ones), so a request's results share an ordering group.
_KEY_PREFIX = {AsyncKind.COMMAND: "command", AsyncKind.CHARGING_PROFILE: "chargingprofile"}
_ACCEPTED = "ACCEPTED"
# A CPO's `timeout` is honoured up to a week: a larger one (or a typo such as milliseconds)
# would keep the request open for years, and overflow the database column.
_MAX_WAIT_S = 7 * 86400
_OPEN_STATES = (AsyncState.FORWARDED, AsyncState.WAITING)


def hub_answer(data: Mapping[str, Any], message: str | None = None) -> ForwardedResponse:
    """A 1000 answer the hub gives itself (e.g. UNKNOWN_SESSION for a session it does not know),
    in the form of a relayed one so the views treat both alike."""
    return ForwardedResponse(http_status=200, body=ocpi_envelope(dict(data), message=message))


def check_response_url(url: str, field: str = "response_url") -> None:
    """The requester's `response_url` must be one the hub may call (DESIGN §7): 2001 otherwise,
    before anything is stored or forwarded."""
    try:
        check_url(url)
    except UrlNotAllowedError as exc:
        raise InvalidParametersError(f"{field}: the hub may not call this URL ({exc})") from None


def only_party(caller: Caller) -> PartyRef:
    """The requesting party when nothing else names it: the caller's only party (2001 for a
    platform hosting several, which must send OCPI-from-*)."""
    parties = caller.parties()
    if len(parties) != 1:
        raise InvalidParametersError(
            "OCPI-from-country-code/OCPI-from-party-id: required, the calling platform hosts "
            f"several parties ({', '.join(sorted(map(str, parties)))})"
        )
    return next(iter(parties))


def sessions_of_token_owners(session_id: str, token_owners: set[PartyRef]) -> list[Session]:
    """The stored sessions with this id whose `cdr_token` belongs to one of `token_owners`
    (session ids are unique per CPO only, so several CPOs may match)."""
    owner_filter = Q()
    for party in token_owners:
        owner_filter |= Q(token_country_code=party.country_code, token_party_id=party.party_id)
    if not token_owners:
        return []
    return list(
        Session.objects.filter(session_id=session_id.upper())
        .filter(owner_filter)
        .order_by("-last_updated")[:10]
    )


def unknown_session_text(session_id: str, at: PartyRef | None, what: str) -> str:
    """Why a command or charging-profile request about a session was not sent. With TO given
    the session is another eMSP's: say only that none of the caller's is there."""
    if at is not None:
        return f"The hub knows no session {session_id} of yours at {at}; nothing was sent"
    return (
        f"The hub knows no session {session_id} of yours; name the CPO with "
        f"OCPI-to-country-code/OCPI-to-party-id to send {what} anyway"
    )


def session_of_another_owner(session_id: str, cpo: PartyRef, token_owners: set[PartyRef]) -> bool:
    """Does the hub hold `cpo`'s session `session_id` for a `cdr_token` of none of
    `token_owners`? Then a request on it with TO = that CPO is about another eMSP's driver: it is
    answered as for an unknown session, nothing is sent (as `charging_preferences_set` does), so
    that one eMSP can neither stop nor reshape another's charging, nor learn that it exists."""
    session = Session.objects.filter(
        session_id=session_id.upper(), country_code=cpo.country_code, party_id=cpo.party_id
    ).first()
    if session is None:
        return False
    return PartyRef(session.token_country_code, session.token_party_id) not in token_owners


def _receiver_platform(party: PartyRef, module: str) -> Platform | None:
    """The platform a request to `party` in `module` goes to: the one publishing the module's
    RECEIVER endpoint (as `forward_request` picks it), else the party's first platform."""
    roles = list(platform_roles_of(party).order_by("platform_id"))
    with_endpoint = set(
        PlatformEndpoint.objects.filter(
            platform_id__in=[role.platform_id for role in roles],
            identifier=module,
            role="RECEIVER",
        ).values_list("platform_id", flat=True)
    )
    for role in roles:
        if role.platform_id in with_endpoint:
            return role.platform
    return roles[0].platform if roles else None


def async_request_open(
    *,
    kind: str,
    operation: str,
    caller: Caller,
    requester: PartyRef,
    receiver: PartyRef,
    response_url: str,
    request_body: Mapping[str, Any],
    correlation_id: str,
    hub_url: Callable[[uuid.UUID], str],
    location_id: str = "",
    session_id: str = "",
) -> tuple[AsyncRequest, str]:
    """Record a request about to be forwarded (FORWARDED) and return it with the hub URL that
    replaces its `response_url`. Committed before forwarding: the CPO may post its result
    before it answers."""
    check_response_url(response_url)
    row = AsyncRequest(
        kind=kind,
        operation=operation,
        requester=caller.platform,
        requester_country_code=requester.country_code,
        requester_party_id=requester.party_id,
        receiver=_receiver_platform(receiver, MODULE_OF[AsyncKind(kind)]),
        receiver_country_code=receiver.country_code,
        receiver_party_id=receiver.party_id,
        response_url=response_url,
        location_id=location_id[:36],
        session_id=session_id[:36],
        request_body=dict(request_body),
        state=AsyncState.FORWARDED,
        correlation_id=correlation_id[:255],
    )
    row.save()
    return row, hub_url(row.pk)


def _single_object(data: Any) -> tuple[Any, bool]:
    """`data`, or the object of a one-element list (a partner quirk); and whether it was one."""
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        return data[0], True
    return data, False


def _timeout_of(data: Any) -> int | None:
    value = data.get("timeout") if isinstance(data, dict) else None
    if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
        return min(value, _MAX_WAIT_S)
    return None


def _expiry(timeout_s: float) -> datetime:
    return timezone.now() + timedelta(seconds=timeout_s + settings.OCPI_COMMAND_TIMEOUT_MARGIN_S)


def async_request_forward(
    *,
    row: AsyncRequest,
    caller: Caller,
    context: OcpiRequestContext,
    method: str,
    segments: Sequence[str],
    query: Mapping[str, str] | None,
    body: Any,
    gateway: str,
    endpoint_fallback: Callable[[Platform], str | None] | None = None,
) -> ForwardedResponse:
    """Forward `row`'s request to its receiver's RECEIVER interface, record the synchronous
    answer and return it for relaying (2.2.1 mod_commands POST / mod_charging_profiles
    GET/PUT/DELETE, Response Data).

    FROM = the requester, TO = the receiver (2.2.1 transport_and_format, Open Routing: "TO =
    receiver chosen by the Hub, FROM = requester"). Routing failures (4001/4003/4000) mark the
    request FAILED and reach the caller; a 4002 leaves it WAITING (see the module docstring).
    """
    receiver = PartyRef(row.receiver_country_code, row.receiver_party_id)
    requester = PartyRef(row.requester_country_code, row.requester_party_id)
    hop_context = dataclasses.replace(context, from_party=requester, to_party=receiver)
    try:
        result = forward_request(
            caller=caller,
            context=hop_context,
            module=MODULE_OF[AsyncKind(row.kind)],
            interface_role="RECEIVER",
            method=method,
            segments=segments,
            query=query,
            body=body,
            gateway=gateway,
            endpoint_fallback=endpoint_fallback,
        )
    except ForwardTimeoutError as exc:
        _record_answer(row, None, state=AsyncState.WAITING, error=exc.message)
        raise
    except OcpiError as exc:
        _record_answer(row, None, state=AsyncState.FAILED, error=exc.message)
        raise
    envelope = dict(result.body or {})
    data, unwrapped = _single_object(envelope.get("data"))
    if unwrapped:
        envelope["data"] = data
        result = dataclasses.replace(result, body=envelope)
    status = envelope.get("status_code")
    accepted = (
        200 <= result.http_status < 300
        and isinstance(status, int)
        and 1000 <= status < 2000
        and isinstance(data, dict)
        and data.get("result") == _ACCEPTED
    )
    _record_answer(
        row,
        data if isinstance(data, dict) else envelope,
        state=AsyncState.WAITING if accepted else AsyncState.REFUSED,
        timeout_s=_timeout_of(data),
    )
    return result


def _record_answer(
    row: AsyncRequest,
    answer: Any,
    *,
    state: str,
    timeout_s: int | None = None,
    error: str = "",
) -> None:
    """Store the receiver's synchronous answer and move FORWARDED on; a result that arrived
    first (RESULT_RECEIVED) keeps its state."""
    with transaction.atomic():
        locked = AsyncRequest.objects.select_for_update().get(pk=row.pk)
        locked.response_body = answer if answer is not None else {"hub_error": error[:500]}
        if timeout_s is not None:
            locked.timeout_s = timeout_s
        if locked.state == AsyncState.FORWARDED:
            locked.state = state
            if state == AsyncState.WAITING:
                wait = (
                    timeout_s if timeout_s is not None else settings.OCPI_COMMAND_DEFAULT_TIMEOUT_S
                )
                locked.expires_at = _expiry(wait)
        locked.save()
    row.refresh_from_db()


def _result_key(row: AsyncRequest, index: int) -> str:
    return f"{_KEY_PREFIX[AsyncKind(row.kind)]}/{row.pk}/result/{index}"


def _relay_result(row: AsyncRequest, index: int, from_party: PartyRef) -> PushDelivery:
    """Queue result number `index` of `row` for its requester (inside the writer's
    transaction). FROM is the author of the result: the CPO, or the hub for a TIMEOUT."""
    (delivery,) = push_enqueue(
        module=MODULE_OF[AsyncKind(row.kind)],
        object_key=_result_key(row, index),
        operation="POST",
        receivers=[
            Receiver(row.requester, PartyRef(row.requester_country_code, row.requester_party_id))
        ],
        correlation_id=row.correlation_id,
        from_party=from_party,
        retry_window_s=settings.OCPI_ASYNC_RESULT_RETRY_WINDOW_S,
    )
    return delivery


def _unknown() -> NotFoundError:
    # One message for every reason, so nobody learns which ids exist.
    return NotFoundError("Unknown response URL")


def _reservation_cancellable(row: AsyncRequest, result: Mapping[str, Any]) -> bool:
    """A RESERVE_NOW whose reservation was ACCEPTED may be cancelled by the CPO until its
    `expiry_date` (plus the margin)."""
    if row.operation != "RESERVE_NOW" or result.get("result") != "CANCELED_RESERVATION":
        return False
    if not isinstance(row.result_body, dict) or row.result_body.get("result") != _ACCEPTED:
        return False
    try:
        expiry = parse_datetime(str(row.request_body.get("expiry_date", "")))
    except DateTimeFormatError:
        return False
    margin = timedelta(seconds=settings.OCPI_COMMAND_TIMEOUT_MARGIN_S)
    return timezone.now() <= expiry + margin


def async_result_receive(
    *,
    caller: Caller,
    kind: str,
    request_id: str,
    body: Any,
    serializer_for: Callable[[AsyncRequest], type[serializers.Serializer]],  # type: ignore[type-arg]
    operation: str | None = None,
) -> None:
    """A CPO posts the result of request `request_id` to the hub URL (2.2.1 mod_commands Sender
    POST, mod_charging_profiles Sender POST): check who posts, validate, store, and queue its
    relay to the requester's original `response_url`.

    404 unless `request_id` names a request of this kind (and `operation`) that was sent to the
    calling platform; 2001 for an invalid body or a result the request no longer takes.
    """
    try:
        pk = uuid.UUID(request_id)
    except ValueError:
        raise _unknown() from None
    row = AsyncRequest.objects.filter(pk=pk, kind=kind).first()
    if row is None or row.receiver_id != caller.platform.pk:
        raise _unknown()
    if operation is not None and row.operation != operation:
        raise _unknown()
    serializer = serializer_for(row)(data=body)
    serializer.is_valid(raise_exception=True)
    result = dict(serializer.validated_data)
    author = PartyRef(row.receiver_country_code, row.receiver_party_id)
    with transaction.atomic():
        row = AsyncRequest.objects.select_for_update().get(pk=pk)
        _accept_result(row, result, author)


def _accept_result(row: AsyncRequest, result: dict[str, Any], author: PartyRef) -> None:
    now = timezone.now()
    late_profile = row.kind == AsyncKind.CHARGING_PROFILE and row.state == AsyncState.TIMED_OUT
    if row.state in _OPEN_STATES or late_profile:
        row.result_body = result
        row.state = AsyncState.RESULT_RECEIVED
        row.result_received_at = now
        row.save()
        _relay_result(row, 0, author)
        return
    if row.state == AsyncState.RESULT_RECEIVED:
        if result == row.result_body or result in row.later_results:
            return  # the same result again (a CPO retrying): already relayed once
        if _reservation_cancellable(row, result):
            row.later_results = [*row.later_results, result]
            row.save()
            _relay_result(row, len(row.later_results), author)
            return
        raise InvalidParametersError(
            f"A result was already received for this {row.operation} "
            f"({(row.result_body or {}).get('result')}); it was relayed and cannot be changed"
        )
    if row.state == AsyncState.TIMED_OUT:
        raise InvalidParametersError(
            f"This {row.operation} timed out at {row.expires_at:%Y-%m-%dT%H:%M:%SZ}: the "
            "requester was sent a TIMEOUT result; a later result is not relayed"
        )
    if row.state == AsyncState.REFUSED:
        raise InvalidParametersError(
            f"This {row.operation} was not accepted "
            f"({(row.response_body or {}).get('result', 'refused')}): no result is expected"
        )
    raise InvalidParametersError(f"This {row.operation} was never delivered: no result expected")


def _timeout_result(row: AsyncRequest) -> dict[str, Any]:
    receiver = PartyRef(row.receiver_country_code, row.receiver_party_id)
    waited = row.timeout_s or settings.OCPI_COMMAND_DEFAULT_TIMEOUT_S
    text = (
        f"No result from {receiver} within {waited:g} s "
        f"(+{settings.OCPI_COMMAND_TIMEOUT_MARGIN_S:g} s); the hub timed the command out"
    )
    return {"result": "TIMEOUT", "message": [{"language": "en", "text": text[:512]}]}


def async_requests_expire(*, now: datetime | None = None, batch: int = 500) -> dict[str, int]:
    """Time out WAITING requests past `expires_at` (beat, `hub.async_requests_expire`): a
    command's requester is sent a CommandResult TIMEOUT from the hub, once. FORWARDED requests
    whose forwarding never finished (a process died mid-call) are marked FAILED."""
    now = now or timezone.now()
    timed_out = 0
    due = list(
        AsyncRequest.objects.filter(state=AsyncState.WAITING, expires_at__lte=now).values_list(
            "pk", flat=True
        )[:batch]
    )
    for pk in due:
        with transaction.atomic():
            row = (
                AsyncRequest.objects.select_for_update()
                .filter(pk=pk, state=AsyncState.WAITING, expires_at__lte=now)
                .first()
            )
            if row is None:  # a result arrived meanwhile
                continue
            row.state = AsyncState.TIMED_OUT
            if row.kind == AsyncKind.COMMAND:
                row.result_body = _timeout_result(row)
                row.save()
                _relay_result(row, 0, hub_party())
            else:
                row.save()
            timed_out += 1
    stale = now - timedelta(seconds=settings.OCPI_FORWARD_TIMEOUT_S + 60)
    abandoned = AsyncRequest.objects.filter(
        state=AsyncState.FORWARDED, created_at__lt=stale
    ).update(state=AsyncState.FAILED, updated_at=now)
    return {"timed_out": timed_out, "abandoned": abandoned}


def build_async_result_push(delivery: PushDelivery) -> PushRequest | None:
    """POST result number n of a request to the requester's original `response_url`, as the
    request holds it now (registered for "commands" and "chargingprofiles")."""
    parts = delivery.object_key.split("/")
    if len(parts) != 4 or parts[2] != "result" or not parts[3].isdigit():
        return None
    try:
        pk = uuid.UUID(parts[1])
    except ValueError:
        return None
    row = AsyncRequest.objects.filter(pk=pk).first()
    if row is None:
        return None
    index = int(parts[3])
    if index == 0:
        body = row.result_body
    elif index <= len(row.later_results):
        body = row.later_results[index - 1]
    else:
        body = None
    if body is None:
        return None
    return PushRequest(method="POST", path="", body=body, url=row.response_url)
