"""Direct routing: forward a request to its TO party and relay the answer (DESIGN §3 "direct").

2.2.1 transport_and_format, Message Routing: a request whose OCPI-to-* headers name a connected
party is forwarded to it unchanged (the hub SHALL NOT update `last_updated`), with a new
X-Request-ID and the same X-Correlation-ID (Unique message IDs). The receiver's answer is relayed,
its 2xxx/3xxx errors included ("the Hub SHALL forward that error"); the hub answers 4xxx only for
what goes wrong on its own side: 4001 unknown receiver, 4002 timeout, 4003 connection problem,
4000 anything else.

URLs in a relayed response point at the receiver, which the caller cannot reach with its hub
credentials: the pagination `Link` and a `Location` are replaced by hub URLs (`ProxiedUrl`) that
`ProxiedPageView` serves through `proxied_url_follow` (HUB-CHECKLIST §2.5).

Every gateway view forwards through `forward_request`; the HTTP exchange itself (and its log
entry) is `OcpiClient`'s.
"""

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from django.conf import settings
from django.urls import reverse
from django.utils import timezone

from hub.models import (
    ConnectionStatus,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    ProxiedUrl,
    ProxiedUrlKind,
    Role,
)
from hub.ocpi.caller import Caller
from hub.ocpi.client import (
    OcpiClient,
    OcpiResponseTooLargeError,
    OcpiResult,
    OcpiTransportError,
    UrlNotAllowedError,
)
from hub.ocpi.envelope import ENVELOPE_KEYS
from hub.ocpi.exceptions import (
    ConnectionProblemError,
    ForwardTimeoutError,
    HubError,
    NotFoundError,
    OcpiError,
    UnknownReceiverError,
)
from hub.ocpi.links import parse_next_link
from hub.ocpi.partner_pages import next_page_url, usable_link
from hub.ocpi.routing import (
    FROM_COUNTRY,
    FROM_PARTY,
    TO_COUNTRY,
    TO_PARTY,
    OcpiRequestContext,
    PartyRef,
)
from hub.ocpi.tokens import redact_token, redact_token_in
from hub.ocpi.urlpaths import is_below, join_segments
from hub.selectors import PartyDirectory, may_route, missing_agreement, party_directory
from hub.services.routing.receiver_slots import forward_slot

logger = logging.getLogger(__name__)

__all__ = [
    "ForwardedResponse",
    "forward_request",
    "proxied_url_follow",
    "proxied_url_for",
    "proxied_urls_delete_expired",
    "proxy_url",
]

# Relayed as the receiver sent them (2.2.1 transport_and_format, Pagination: the hub keeps the
# receiver's totals and page-size cap).
_PAGINATION_HEADERS = ("X-Total-Count", "X-Limit")
# RFC 8288 link-values: `<url>; param; ...`, comma-separated; rel may be quoted and may list
# several relation types ("next last").
# Who calls a party of a given role, to pick the caller's FROM party when the header is absent
# (2.2.1 transport_and_format, Broadcast Push: "OTHER is seen as an eMSP type of role").
_CPO_CLIENT_ROLES = (Role.EMSP, Role.NSP, Role.OTHER, Role.SCSP, Role.NAP)


@dataclass
class ForwardedResponse:
    """What the hub answers the caller of a forwarded request.

    `body` is the receiver's envelope, unchanged (its 2xxx/3xxx included); `headers` are what
    the hub passes back: Link and Location rewritten to hub URLs, X-Total-Count and X-Limit as
    sent, and the receiver's OCPI-from-*/OCPI-to-* response headers.
    """

    http_status: int
    body: dict[str, Any] | None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Hop:
    """One forwarded exchange: who asked, who answers, and in which module and gateway."""

    caller: Platform
    receiver: Platform
    from_party: PartyRef | None
    to_party: PartyRef
    module: str
    gateway: str


def forward_request(
    *,
    caller: Caller,
    context: OcpiRequestContext,
    module: str,
    interface_role: str,
    method: str,
    segments: Sequence[str],
    query: Mapping[str, str | list[str]] | None,
    body: Any,
    gateway: str,
    timeout: float | None = None,
    unknown_object: type[OcpiError] | None = None,
    endpoint_fallback: Callable[[Platform], str | None] | None = None,
) -> ForwardedResponse:
    """Forward a request to `context.to_party`'s (`module`, `interface_role`) endpoint and relay
    the answer (2.2.1 transport_and_format, Message Routing, "direct" via a Hub).

    `segments` are the decoded path segments below the endpoint URL (e.g. ("NL", "CPO",
    "LOC1"), () for a list): each is refused (2001) if it is or decodes to a dot segment or holds
    a slash, and percent-encoded with nothing safe (`hub.ocpi.urlpaths`); the URL built must
    still lie below the receiver's endpoint URL, else 4001 and nothing is sent. `query` and
    `body` are sent as received. Raises 4001 (unknown receiver, not allowed, or no
    such endpoint), 4003 (not connected, unreachable), 4002 (timeout) and 4000 (no envelope).
    `timeout` replaces `OCPI_FORWARD_TIMEOUT_S` (e.g. a real-time authorization waits less);
    `unknown_object` is raised when the receiver answers HTTP 404 without an envelope where the
    spec makes the 404 itself the answer (mod_tokens authorize: "the eMSP SHALL respond with an
    HTTP status code: 404").
    `endpoint_fallback(platform)` may supply the endpoint URL of a receiver that published none
    (a partner workaround the caller configures; returning None keeps the 4001).
    """
    to_party = context.to_party
    if to_party is None:
        raise UnknownReceiverError("Direct routing needs the OCPI-to-* headers")
    directory = party_directory(to_party)
    roles = list(directory.roles)
    if not roles:
        raise UnknownReceiverError(f"{to_party} is not a party known to the hub")
    from_party = context.from_party or _default_from_party(caller, roles)
    _check_may_route(_senders(caller.platform, from_party), to_party, module)
    receiver, endpoint_url = _receiver_endpoint(
        to_party, directory, module, interface_role, endpoint_fallback
    )
    hop = _Hop(caller.platform, receiver, from_party, to_party, module, gateway)
    url = _target_url(endpoint_url, segments, query)
    _check_below(url, endpoint_url, hop)
    result = _send(hop, method, url, body, context.correlation_id, timeout)
    return _relay(result, hop, unknown_object, page=(url, endpoint_url))


def proxy_url(
    *,
    target_url: str,
    receiver: Platform,
    caller: Platform,
    module: str,
    gateway: str,
    kind: str = ProxiedUrlKind.GENERIC,
    from_party: PartyRef | None = None,
    to_party: PartyRef | None = None,
) -> str:
    """Remember `target_url` of `receiver` for `caller` and return the hub URL that proxies it
    (HUB-CHECKLIST §2.5: Link of a routed GET, Location of a CDR POST, kept for
    `OCPI_PROXIED_URL_TTL_S`).

    `from_party`/`to_party` are the routing headers following the URL will carry; `to_party`
    defaults to nothing, which `proxied_url_follow` refuses (4001), so pass it.
    """
    proxied = ProxiedUrl.objects.create(
        target_url=target_url,
        receiver=receiver,
        caller=caller,
        module=module,
        gateway=gateway,
        kind=kind,
        from_country_code=from_party.country_code if from_party else "",
        from_party_id=from_party.party_id if from_party else "",
        to_country_code=to_party.country_code if to_party else "",
        to_party_id=to_party.party_id if to_party else "",
        expires_at=timezone.now() + timedelta(seconds=settings.OCPI_PROXIED_URL_TTL_S),
    )
    path = reverse(
        "ocpi-proxied-page", kwargs={"gateway": gateway, "module": module, "page_id": proxied.pk}
    )
    return f"{settings.OCPI_BASE_URL}{path}"


def proxied_url_for(*, caller: Caller, page_id: UUID, gateway: str, module: str) -> ProxiedUrl:
    """The unexpired proxied URL `page_id` handed to `caller` under this gateway and module.

    Anything else — another platform's URL, an expired one, a wrong path — is 404 with the same
    message, so nobody learns which ids exist (2.2.1 status_codes: GET of an unknown resource).
    """
    proxied = (
        ProxiedUrl.objects.select_related("receiver", "caller")
        .filter(
            pk=page_id,
            caller=caller.platform,
            gateway=gateway,
            module=module,
            expires_at__gt=timezone.now(),
        )
        .first()
    )
    if proxied is None:
        raise NotFoundError("Unknown or expired URL")
    return proxied


def proxied_url_follow(*, proxied: ProxiedUrl, context: OcpiRequestContext) -> ForwardedResponse:
    """GET a proxied URL from its receiver and relay the answer, rewriting its next Link again
    (2.2.1 transport_and_format, Pagination, through a Hub).

    The request carries the original exchange's routing headers (FROM = the original caller's
    party, TO = the receiver's), a new X-Request-ID and the caller's X-Correlation-ID.
    """
    to_party = _party(proxied.to_country_code, proxied.to_party_id)
    if to_party is None:
        raise UnknownReceiverError("This URL names no receiver")
    from_party = _party(proxied.from_country_code, proxied.from_party_id)
    hop = _Hop(
        proxied.caller, proxied.receiver, from_party, to_party, proxied.module, proxied.gateway
    )
    _check_may_route(_senders(proxied.caller, from_party), to_party, proxied.module)
    _check_connected(to_party, [proxied.receiver])
    result = _send(hop, "GET", proxied.target_url, None, context.correlation_id)
    return _relay(result, hop, page=(proxied.target_url, _endpoint_below(proxied)))


def _endpoint_below(proxied: ProxiedUrl) -> str:
    """The receiver's endpoint URL a proxied URL lies below (for its next page), else the
    proxied URL itself."""
    for url in PlatformEndpoint.objects.filter(
        platform=proxied.receiver, identifier=proxied.module
    ).values_list("url", flat=True):
        if usable_link(proxied.target_url, url):
            return str(url)
    return str(proxied.target_url)


def proxied_urls_delete_expired() -> int:
    """Delete proxied URLs past their expiry (for a periodic sweep); returns how many."""
    deleted, _ = ProxiedUrl.objects.filter(expires_at__lte=timezone.now()).delete()
    return deleted


def _party(country_code: str, party_id: str) -> PartyRef | None:
    return PartyRef.of(country_code, party_id) if country_code and party_id else None


def _default_from_party(caller: Caller, to_roles: Sequence[PlatformRole]) -> PartyRef | None:
    """The FROM party when the caller sent none: its only party, else its only party of a role
    that talks to the receiver's roles; None when that is still ambiguous (the receiver then
    gets no FROM rather than a guessed one)."""
    parties = caller.parties()
    if len(parties) == 1:
        return next(iter(parties))
    client_roles: set[str] = set()
    for role in to_roles:
        client_roles.update(_CPO_CLIENT_ROLES if role.role == Role.CPO else (Role.CPO,))
    candidates = caller.parties(*client_roles)
    return next(iter(candidates)) if len(candidates) == 1 else None


def _senders(caller: Platform, from_party: PartyRef | None) -> set[PartyRef]:
    """Who a request is from: the FROM party, else any of the calling platform's parties."""
    if from_party is not None:
        return {from_party}
    return {PartyRef.of(role.country_code, role.party_id) for role in caller.roles.all()}


def _check_may_route(senders: set[PartyRef], to_party: PartyRef, module: str) -> None:
    """Roaming agreements decide who may reach whom (DESIGN §6b, `may_route`); without a FROM
    party, one of the caller's parties being allowed is enough.

    Refused with 4001: 2.2.1 status_codes puts the errors a hub meets while routing in 4xxx
    (2xxx say the request itself is wrong, which it is not), and of those "Unknown receiver
    (TO address is unknown)" is the one that fits: a party the sender has no agreement with
    is no receiver the hub routes to for it. The message names the missing agreement."""
    if not any(may_route(sender, to_party, module) for sender in senders):
        reason = f"{to_party} may not be reached for {module}"
        missing = missing_agreement(senders, to_party, module)
        raise UnknownReceiverError(f"{reason}: {missing}" if missing else reason)


def _is_connected(platform: Platform) -> bool:
    return (
        platform.registered
        and platform.status == ConnectionStatus.CONNECTED
        and bool(platform.outbound_token)
    )


def _check_connected(to_party: PartyRef, platforms: Sequence[Platform]) -> list[Platform]:
    """The connected platforms among `platforms`; 4003 when there is none (2.2.1 status_codes:
    "the receiving party is not connected"; OFFLINE, PLANNED and SUSPENDED all mean that)."""
    connected = [platform for platform in platforms if _is_connected(platform)]
    if not connected:
        status = platforms[0].status if platforms else ConnectionStatus.PLANNED
        if platforms and not platforms[0].registered:
            status = f"{status}, not registered"
        raise ConnectionProblemError(f"{to_party} is not connected to the hub ({status})")
    return connected


def _receiver_endpoint(
    to_party: PartyRef,
    directory: PartyDirectory,
    module: str,
    interface_role: str,
    fallback: Callable[[Platform], str | None] | None = None,
) -> tuple[Platform, str]:
    """The connected platform hosting `to_party` and its (module, interface_role) URL."""
    platforms = list({role.platform_id: role.platform for role in directory.roles}.values())
    connected = {p.pk: p for p in _check_connected(to_party, platforms)}
    endpoint = directory.endpoint_of(connected, module, interface_role)
    if endpoint is None and fallback is not None:
        for platform in sorted(connected.values(), key=lambda p: p.pk):
            url = fallback(platform)
            if url:
                return platform, url
    if endpoint is None:
        # The spec has no code for "the receiver lacks this interface". 4001 says what it is:
        # for this module there is no such receiver. 4003 would tell the caller to retry later
        # (nothing will change until the receiver re-registers), and 2xxx would blame a request
        # that is itself fine.
        raise UnknownReceiverError(
            f"{to_party} does not implement the {module} {interface_role} interface"
        )
    platform_id, url = endpoint
    return connected[platform_id], url


def _target_url(
    endpoint_url: str, segments: Sequence[str], query: Mapping[str, str | list[str]] | None
) -> str:
    """`endpoint_url` + the segments (each checked and percent-encoded, `join_segments`) + the
    query, every value of a repeated key kept."""
    url = endpoint_url
    if segments:
        url = f"{endpoint_url.rstrip('/')}{join_segments(segments)}"
    pairs: list[tuple[str, str]] = []
    lists = getattr(query, "lists", None)  # a QueryDict keeps every value of a key
    items = lists() if callable(lists) else (query or {}).items()
    for key, value in items:
        values = value if isinstance(value, list | tuple) else [value]
        pairs.extend((key, str(item)) for item in values)
    if not pairs:
        return url
    return f"{url}{'&' if '?' in url else '?'}{urlencode(pairs)}"


def _check_below(url: str, endpoint_url: str, hop: _Hop) -> None:
    """The last check before the hub sends its token: the URL, as it will go out, is still
    below the endpoint the receiver published (else 4001: for this path there is no
    receiver). `join_segments` already refuses escaping ids; this holds whatever built `url`."""
    if not is_below(url, endpoint_url):
        logger.warning(
            "Forward to %s refused: %s is not below its %s endpoint", hop.to_party, url, hop.module
        )
        raise UnknownReceiverError(
            f"The request's path leaves {hop.to_party}'s {hop.module} endpoint; nothing was sent"
        )


def _send(
    hop: _Hop,
    method: str,
    url: str,
    body: Any,
    correlation_id: str,
    timeout: float | None = None,
) -> OcpiResult:
    """One call to the receiver with its token; transport failures become 4002/4003, an answer
    past the byte cap 4000.

    `timeout` bounds the whole call (it is the client's deadline: a receiver trickling its
    answer gets 4002 as one that sends nothing does), and the call holds one of the receiver's
    forward slots (`forward_slot`: 4003 at once when they are all taken, nothing sent).
    """
    if timeout is None:
        timeout = settings.OCPI_FORWARD_TIMEOUT_S
    client = OcpiClient.for_platform(hop.receiver, timeout=timeout, deadline=timeout)
    try:
        with forward_slot(hop.receiver, str(hop.to_party)):
            return client.request(
                method,
                url,
                json=body,
                correlation_id=correlation_id,
                from_party=hop.from_party,
                to_party=hop.to_party,
                module=hop.module,
                require_success=False,
            )
    except UrlNotAllowedError as exc:
        # The reason names the receiver's host and addresses: logged, not told to the caller.
        logger.warning("Forward to %s refused by the URL policy: %s", hop.to_party, exc)
        raise ConnectionProblemError(
            f"The hub's URL policy refuses {hop.to_party}'s {hop.module} URL"
        ) from exc
    except OcpiResponseTooLargeError as exc:
        # Nothing of it is relayed: a cut envelope or page would read as the whole answer.
        raise HubError(
            f"{hop.to_party}'s answer exceeded {exc.limit} bytes; the hub relays none of it"
        ) from exc
    except OcpiTransportError as exc:
        if exc.timeout:
            raise ForwardTimeoutError(
                f"{hop.to_party} did not answer within {client.deadline:g}s"
            ) from exc
        raise ConnectionProblemError(f"{hop.to_party} could not be reached") from exc


def _relay(
    result: OcpiResult,
    hop: _Hop,
    unknown_object: type[OcpiError] | None = None,
    page: tuple[str, str] | None = None,
) -> ForwardedResponse:
    """The receiver's envelope with its HTTP status and the headers the caller may see.

    2.2.1 status_codes: the hub forwards a receiver's 2xxx/3xxx as they are. An answer without
    an envelope (an HTML 502 from a proxy, a framework's `{"detail": ...}`) is not OCPI: the
    caller gets 4000 naming only the HTTP status (the body may carry internals).
    `page` is (the URL sent, the endpoint it is below), to check a next-page Link against.
    """
    status = result.http_status
    if status == 401 or (status == 403 and result.ocpi_status is None):
        # The receiver refused the hub's token, not the caller's: relaying the 401 would tell
        # the caller that its own credentials are wrong. The hub's link to it is broken: 4003.
        # A 403 without an envelope is the same refusal from frameworks that answer an unknown
        # token so (extrawest-ocpi: 403 {"detail": "Your authorization token is invalid."}).
        raise ConnectionProblemError(
            f"{hop.to_party} refused the hub's credentials (HTTP {status})"
        )
    if status < 200 or 300 <= status < 400:
        raise HubError(f"{hop.to_party} answered HTTP {status} (redirects are not followed)")
    if result.ocpi_status is None or not isinstance(result.body, dict):
        if status == 404 and unknown_object is not None:
            raise unknown_object(f"{hop.to_party} does not know it (HTTP 404)")
        raise HubError(f"{hop.to_party} answered HTTP {status} without an OCPI envelope")
    # Keys outside the envelope (e.g. a signature) are dropped so the body stays an envelope.
    body = {key: value for key, value in result.body.items() if key in ENVELOPE_KEYS}
    headers = _relay_headers(result, hop, page)
    # The hub's token at the receiver must not reach the caller in any part of the answer: a
    # receiver (or a path that reached its credentials module) may echo it anywhere.
    token = hop.receiver.outbound_token
    body = redact_token_in(body, token)
    headers = {name: redact_token(value, token) for name, value in headers.items()}
    return ForwardedResponse(http_status=status, body=body, headers=headers)


def _relay_headers(
    result: OcpiResult, hop: _Hop, page: tuple[str, str] | None = None
) -> dict[str, str]:
    """Pagination and routing headers to pass back; receiver URLs replaced by hub URLs (a next
    page the receiver's Link gets wrong is asked for by offset: `hub.ocpi.partner_pages`)."""
    received = result.headers
    headers = {name: received[name] for name in _PAGINATION_HEADERS if name in received}
    next_url = parse_next_link(received.get("Link"))
    if next_url and page is not None:
        received_count = len(result.data) if isinstance(result.data, list) else 0
        next_url = next_page_url(next_url, page[0], page[1], received_count)
    if next_url:
        proxied = _proxy(next_url, hop, ProxiedUrlKind.PAGE)
        headers["Link"] = f'<{proxied}>; rel="next"'
    location = received.get("Location")
    if location:
        headers["Location"] = _proxy(location, hop, ProxiedUrlKind.LOCATION)
    headers.update(_response_routing_headers(received, hop))
    return headers


def _proxy(target_url: str, hop: _Hop, kind: str) -> str:
    return proxy_url(
        target_url=target_url,
        receiver=hop.receiver,
        caller=hop.caller,
        module=hop.module,
        gateway=hop.gateway,
        kind=kind,
        from_party=hop.from_party,
        to_party=hop.to_party,
    )


def _response_routing_headers(received: Mapping[str, str], hop: _Hop) -> dict[str, str]:
    """The receiver's OCPI-from/to response headers; where it sent none, the hub fills them in
    as the receiver should have: FROM = receiver, TO = requester (2.2.1 transport_and_format,
    Message Routing, "Direct request via a Hub", response)."""
    headers: dict[str, str] = {}
    defaults = ((FROM_COUNTRY, FROM_PARTY, hop.to_party), (TO_COUNTRY, TO_PARTY, hop.from_party))
    for country_header, party_header, default in defaults:
        country, party = received.get(country_header), received.get(party_header)
        if country and party:
            headers[country_header], headers[party_header] = country, party
        elif default is not None:
            headers[country_header] = default.country_code
            headers[party_header] = default.party_id
    return headers
