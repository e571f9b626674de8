"""Direct routing (DESIGN §3; 2.2.1 transport_and_format, Message Routing): error mapping,
the headers of the forwarded request, relaying, and Link/Location rewriting.

HTTP goes to a SimulatedPartner on 127.0.0.1; a MockTransport is used only for the one answer
the partner cannot give (a Location header).
"""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import httpx
import pytest
from django.utils import timezone

from hub.api.routed import forwarded_response
from hub.models import ConnectionStatus, Platform, ProxiedUrl
from hub.ocpi.caller import Caller
from hub.ocpi.client import OcpiClient
from hub.ocpi.exceptions import (
    ConnectionProblemError,
    ForwardTimeoutError,
    HubError,
    NotFoundError,
    UnknownReceiverError,
)
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.services.routing import forwarding
from hub.services.routing.forwarding import (
    ForwardedResponse,
    forward_request,
    proxied_url_for,
    proxied_urls_delete_expired,
    proxy_url,
)
from partners.ocpi import envelope, role
from partners.server import free_port
from partners.simulated import SimulatedPartner
from tests.factories import (
    PlatformEndpointFactory,
    PlatformFactory,
    PlatformRoleFactory,
    registered_party,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

CPO = PartyRef.of("NL", "CPO")
EMSP = PartyRef.of("DE", "MSP")
CORRELATION = "corr-forward-1"


def location(n: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CPO",
        "id": f"LOC{n}",
        "last_updated": "2024-05-01T10:00:00Z",
    }


@pytest.fixture
def cpo_server() -> Iterator[SimulatedPartner]:
    """A CPO that has issued a token (by registering with a stand-in hub) for the hub to use."""
    with (
        SimulatedPartner(
            roles=[role("HUB", "NL", "HUB", name="NL*HUB HUB")], name="stand-in"
        ) as hub,
        SimulatedPartner(
            roles=[role("CPO", CPO.country_code, CPO.party_id, name=f"{CPO} CPO")],
            max_limit=2,
            name="cpo",
        ) as partner,
    ):
        partner.register_with(hub.versions_url, hub.token_a)
        partner.clear_received()
        yield partner


def cpo_platform(partner: SimulatedPartner | None, **fields: Any) -> Platform:
    """The hub's record of the CPO: its role, token and endpoints."""
    platform = PlatformFactory(
        name="CPO", outbound_token=partner.own_token if partner else "tok", **fields
    )
    PlatformRoleFactory(platform=platform, role="CPO", country_code="NL", party_id="CPO")
    for module, interface in partner.modules if partner else [("locations", "SENDER")]:
        url = partner.module_url(module) if partner else "http://127.0.0.1:9/ocpi/locations"
        PlatformEndpointFactory(platform=platform, identifier=module, role=interface, url=url)
    return platform


@pytest.fixture
def caller() -> Caller:
    platform, _ = registered_party("EMSP", EMSP.country_code, EMSP.party_id)
    return Caller.of(platform)


def context(
    to: PartyRef | None = CPO, frm: PartyRef | None = EMSP, request_id: str = "req-in-1"
) -> OcpiRequestContext:
    return OcpiRequestContext(
        request_id=request_id, correlation_id=CORRELATION, from_party=frm, to_party=to
    )


def forward(caller: Caller, **kwargs: Any) -> ForwardedResponse:
    args: dict[str, Any] = {
        "caller": caller,
        "context": context(),
        "module": "locations",
        "interface_role": "SENDER",
        "method": "GET",
        "segments": (),
        "query": None,
        "body": None,
        "gateway": "emsp",
    }
    args.update(kwargs)
    return forward_request(**args)


# ---- error mapping --------------------------------------------------------------------------


def test_unknown_to_party_is_4001(caller: Caller) -> None:
    with pytest.raises(UnknownReceiverError) as raised:
        forward(caller, context=context(to=PartyRef.of("FR", "XYZ")))
    assert raised.value.ocpi_status == 4001
    assert raised.value.http_status == 200
    assert "FR*XYZ" in raised.value.message


def test_missing_to_party_is_4001(caller: Caller) -> None:
    with pytest.raises(UnknownReceiverError):
        forward(caller, context=context(to=None))


@pytest.mark.parametrize(
    ("status", "registered"),
    [
        (ConnectionStatus.OFFLINE, True),
        (ConnectionStatus.SUSPENDED, False),
        (ConnectionStatus.PLANNED, False),
        (ConnectionStatus.CONNECTED, False),
    ],
)
def test_target_not_connected_is_4003(caller: Caller, status: str, registered: bool) -> None:
    cpo_platform(None, status=status, registered=registered)
    with pytest.raises(ConnectionProblemError) as raised:
        forward(caller)
    assert raised.value.ocpi_status == 4003
    assert "not connected" in raised.value.message


def test_target_without_the_endpoint_is_4001(caller: Caller) -> None:
    cpo_platform(None)
    with pytest.raises(UnknownReceiverError) as raised:
        forward(caller, module="tariffs")
    assert "does not implement the tariffs SENDER interface" in raised.value.message


def test_refused_by_may_route_is_4001(caller: Caller, monkeypatch: Any) -> None:
    cpo_platform(None)
    seen: list[tuple[PartyRef, PartyRef, str]] = []

    def refuse(from_party: PartyRef, to_party: PartyRef, module: str) -> bool:
        seen.append((from_party, to_party, module))
        return False

    monkeypatch.setattr(forwarding, "may_route", refuse)
    with pytest.raises(UnknownReceiverError) as raised:
        forward(caller)
    assert "may not be reached" in raised.value.message
    assert seen == [(EMSP, CPO, "locations")]


def test_timeout_is_4002(caller: Caller, cpo_server: SimulatedPartner, settings: Any) -> None:
    settings.OCPI_FORWARD_TIMEOUT_S = 0.3
    cpo_platform(cpo_server)
    cpo_server.set_behaviour("locations", delay=3)
    with pytest.raises(ForwardTimeoutError) as raised:
        forward(caller)
    assert raised.value.ocpi_status == 4002
    assert "0.3s" in raised.value.message


def test_connection_refused_is_4003(caller: Caller) -> None:
    platform = cpo_platform(None)
    platform.endpoints.update(url=f"http://127.0.0.1:{free_port()}/ocpi/2.2.1/locations")
    with pytest.raises(ConnectionProblemError) as raised:
        forward(caller)
    assert "could not be reached" in raised.value.message


def test_url_policy_refusal_is_4003(
    caller: Caller, cpo_server: SimulatedPartner, settings: Any
) -> None:
    settings.OCPI_ALLOW_PRIVATE_URLS = False
    cpo_platform(cpo_server)
    with pytest.raises(ConnectionProblemError) as raised:
        forward(caller)
    assert "URL policy" in raised.value.message
    assert "127.0.0.1" not in raised.value.message
    assert cpo_server.received == []


# ---- the forwarded request ------------------------------------------------------------------


def test_forwarded_request_headers(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    # when
    forward(caller, segments=("NL", "CPO", "LOC1"), context=context(request_id="req-in-1"))
    # then: new request id, same correlation id, FROM/TO as received, the CPO's own token
    (sent,) = cpo_server.received
    assert sent.path == "/ocpi/2.2.1/locations/NL/CPO/LOC1"
    assert sent.headers["X-Request-ID"] not in ("req-in-1", "")
    assert sent.headers["X-Correlation-ID"] == CORRELATION
    assert (sent.headers["OCPI-from-country-code"], sent.headers["OCPI-from-party-id"]) == (
        "DE",
        "MSP",
    )
    assert (sent.headers["OCPI-to-country-code"], sent.headers["OCPI-to-party-id"]) == ("NL", "CPO")
    assert sent.token == cpo_server.own_token and sent.token_form == "base64"


def test_forwarded_request_uses_the_receivers_token_form(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    cpo_platform(cpo_server, token_encoding="RAW")
    forward(caller)
    (sent,) = cpo_server.received
    assert sent.headers["Authorization"] == f"Token {cpo_server.own_token}"
    assert sent.token == cpo_server.own_token and sent.token_form == "raw"


def test_each_forward_gets_a_new_request_id(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    forward(caller)
    forward(caller)
    ids = [r.headers["X-Request-ID"] for r in cpo_server.received]
    assert len(set(ids)) == 2


def test_from_defaults_to_the_callers_single_party(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    cpo_platform(cpo_server)
    forward(caller, context=context(frm=None))
    (sent,) = cpo_server.received
    assert sent.headers["OCPI-from-party-id"] == "MSP"


def test_from_stays_absent_when_ambiguous(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    PlatformRoleFactory(platform=caller.platform, role="EMSP", country_code="DE", party_id="MS2")
    caller = Caller.of(caller.platform)
    forward(caller, context=context(frm=None))
    (sent,) = cpo_server.received
    assert "OCPI-from-party-id" not in sent.headers
    assert sent.headers["OCPI-to-party-id"] == "CPO"


def test_body_query_and_method_unchanged(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    body = {**location(1), "last_updated": "2015-06-29T20:39:09Z", "name": "Ünïcode"}
    # when: a PUT to the CPO's tokens RECEIVER-like path, with a repeated query key
    result = forward(
        caller,
        interface_role="RECEIVER",
        module="tokens",
        method="PUT",
        segments=("DE", "MSP", "TOK 1"),
        query={"type": "RFID", "tag": ["a", "b"]},
        body=body,
    )
    # then
    (sent,) = cpo_server.received
    assert sent.method == "PUT"
    assert sent.path == "/ocpi/2.2.1/tokens/DE/MSP/TOK%201"
    assert sent.query == {"type": ["RFID"], "tag": ["a", "b"]}
    assert sent.json == body
    assert result.http_status == 200 and result.body and result.body["status_code"] == 1000


# ---- relaying -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("http_status", "code"), [(200, 2001), (404, 2003), (500, 3000), (200, 1000)]
)
def test_receiver_envelope_relayed_with_its_http_status(
    caller: Caller, cpo_server: SimulatedPartner, http_status: int, code: int
) -> None:
    cpo_platform(cpo_server)
    answer = envelope({"kept": True}, code, "from the CPO")
    cpo_server.set_behaviour("locations", status=http_status, envelope=answer)
    result = forward(caller)
    assert result.http_status == http_status
    assert result.body == answer


@pytest.mark.parametrize(
    ("http_status", "behaviour"),
    [
        (502, {"raw_body": b"<html><body>Bad gateway</body></html>"}),
        (400, {"envelope": {"detail": "Bad request: secret internals"}}),
        (200, {"envelope": {"data": []}}),
    ],
)
def test_answer_without_envelope_is_4000(
    caller: Caller, cpo_server: SimulatedPartner, http_status: int, behaviour: dict[str, Any]
) -> None:
    cpo_platform(cpo_server)
    cpo_server.set_behaviour("locations", status=http_status, **behaviour)
    with pytest.raises(HubError) as raised:
        forward(caller)
    assert raised.value.ocpi_status == 4000
    assert f"HTTP {http_status}" in raised.value.message
    assert "secret" not in raised.value.message and "html" not in raised.value.message


def test_keys_outside_the_envelope_are_dropped(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    cpo_platform(cpo_server)
    answer = envelope([location(1)])
    cpo_server.set_behaviour("locations", envelope={**answer, "signature": "ocn-signature"})
    result = forward(caller)
    assert result.body == answer


def test_receiver_refusing_the_hubs_token_is_4003(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    platform = cpo_platform(cpo_server)
    platform.outbound_token = "stale-token"
    platform.save()
    with pytest.raises(ConnectionProblemError) as raised:
        forward(caller)
    assert "refused the hub's credentials" in raised.value.message


def test_receiver_403_without_an_envelope_is_a_refused_token_4003(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    # Frameworks answer an unknown token so (extrawest-ocpi: 403 {"detail": ...}); the
    # caller must not read it as its own credentials refused, nor get the body.
    cpo_platform(cpo_server)
    cpo_server.set_behaviour(
        "locations", status=403, envelope={"detail": "Not authenticated: secret"}
    )
    with pytest.raises(ConnectionProblemError) as raised:
        forward(caller)
    assert raised.value.message == "NL*CPO refused the hub's credentials (HTTP 403)"


def test_receiver_403_with_an_envelope_is_relayed(
    caller: Caller, cpo_server: SimulatedPartner
) -> None:
    cpo_platform(cpo_server)
    answer = envelope(None, 2001, "not yours")
    cpo_server.set_behaviour("locations", status=403, envelope=answer)
    result = forward(caller)
    assert (result.http_status, result.body) == (403, answer)


def test_receiver_redirect_is_4000(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    cpo_server.set_behaviour("locations", redirect_to="http://127.0.0.1:9/elsewhere")
    with pytest.raises(HubError):
        forward(caller)


def test_response_routing_headers_relayed(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    result = forward(caller)
    # the simulated CPO swaps FROM/TO in its answer, as the spec asks; the hub relays them
    assert result.headers["OCPI-from-country-code"] == "NL"
    assert result.headers["OCPI-from-party-id"] == "CPO"
    assert result.headers["OCPI-to-country-code"] == "DE"
    assert result.headers["OCPI-to-party-id"] == "MSP"
    assert "X-Request-ID" not in result.headers  # the middleware echoes the caller's own


# ---- Link and Location ----------------------------------------------------------------------


def test_next_link_rewritten_to_a_proxied_page(
    caller: Caller, cpo_server: SimulatedPartner, settings: Any
) -> None:
    settings.OCPI_BASE_URL = "https://hub.example.com"
    receiver = cpo_platform(cpo_server)
    cpo_server.set_objects("locations", [location(n) for n in range(5)])
    # when
    result = forward(caller, query={"date_from": "2024-01-01T00:00:00Z"})
    # then: the pagination headers are the CPO's, the link is the hub's
    assert result.headers["X-Total-Count"] == "5"
    assert result.headers["X-Limit"] == "2"
    row = ProxiedUrl.objects.get()
    assert result.headers["Link"] == (
        f'<https://hub.example.com/ocpi/2.2.1/emsp/locations/page/{row.pk}>; rel="next"'
    )
    assert row.target_url.startswith(cpo_server.module_url("locations") + "?")
    assert "offset=2" in row.target_url and "date_from=" in row.target_url
    assert (row.receiver, row.caller, row.kind) == (receiver, caller.platform, "page")
    assert (row.module, row.gateway) == ("locations", "emsp")
    assert (row.from_country_code, row.from_party_id) == ("DE", "MSP")
    assert (row.to_country_code, row.to_party_id) == ("NL", "CPO")
    assert timedelta(hours=23) < row.expires_at - timezone.now() <= timedelta(hours=24)
    assert cpo_server.own_token not in row.target_url


def test_last_page_has_no_link(caller: Caller, cpo_server: SimulatedPartner) -> None:
    cpo_platform(cpo_server)
    cpo_server.set_objects("locations", [location(1)])
    result = forward(caller)
    assert "Link" not in result.headers
    assert not ProxiedUrl.objects.exists()


def test_location_header_rewritten(caller: Caller, monkeypatch: Any, settings: Any) -> None:
    settings.OCPI_BASE_URL = "https://hub.example.com"
    settings.OCPI_PROXIED_URL_TTL_S = 60
    receiver = cpo_platform(None)
    cdr_url = "https://cpo.example.com/ocpi/2.2.1/cdrs/CDR1"

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"Location": cdr_url, "Link": '<https://cpo.example.com/x>; rel="prev"'}
        return httpx.Response(201, json=envelope(None), headers=headers)

    def client_for(platform: Platform, **kwargs: Any) -> OcpiClient:
        return OcpiClient(token="t", platform=platform, transport=httpx.MockTransport(handler))

    monkeypatch.setattr(OcpiClient, "for_platform", staticmethod(client_for))
    # when
    result = forward(caller, module="locations", method="POST", body={"id": "CDR1"})
    # then
    row = ProxiedUrl.objects.get()
    assert result.http_status == 201
    assert result.headers["Location"] == (
        f"https://hub.example.com/ocpi/2.2.1/emsp/locations/page/{row.pk}"
    )
    assert (row.kind, row.target_url, row.receiver) == ("location", cdr_url, receiver)
    assert row.expires_at - timezone.now() <= timedelta(seconds=60)
    assert "Link" not in result.headers  # a link that is not "next" is not passed on


def test_proxy_url_and_lookup_only_for_the_caller(caller: Caller, settings: Any) -> None:
    settings.OCPI_BASE_URL = "https://hub.example.com"
    receiver = cpo_platform(None)
    other, _ = registered_party("EMSP", "DE", "OTH")
    url = proxy_url(
        target_url="https://cpo.example.com/p?offset=2",
        receiver=receiver,
        caller=caller.platform,
        module="locations",
        gateway="emsp",
        kind="page",
        to_party=CPO,
    )
    row = ProxiedUrl.objects.get()
    assert url.endswith(f"/ocpi/2.2.1/emsp/locations/page/{row.pk}")
    # the caller finds it; another platform, another path or an expired row do not
    assert proxied_url_for(caller=caller, page_id=row.pk, gateway="emsp", module="locations") == row
    stranger = Caller.of(other)
    for who, gateway, module, page_id in (
        (stranger, "emsp", "locations", row.pk),
        (caller, "cpo", "locations", row.pk),
        (caller, "emsp", "tariffs", row.pk),
        (caller, "emsp", "locations", uuid4()),
    ):
        with pytest.raises(NotFoundError):
            proxied_url_for(caller=who, page_id=page_id, gateway=gateway, module=module)
    ProxiedUrl.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(NotFoundError):
        proxied_url_for(caller=caller, page_id=row.pk, gateway="emsp", module="locations")
    assert proxied_urls_delete_expired() == 1


def test_forwarded_response_relays_status_body_and_headers() -> None:
    body = envelope([1], 2001, "invalid")
    response = forwarded_response(
        ForwardedResponse(http_status=404, body=body, headers={"X-Total-Count": "7"})
    )
    assert response.status_code == 404
    assert response.data == body
    assert response["X-Total-Count"] == "7"


def test_a_url_built_out_of_the_endpoint_is_4001_and_not_sent(
    caller: Caller, cpo_server: SimulatedPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The backstop after the URL is built: whatever built it (here a join that lets `..`
    through, as the old quoting did), a URL outside the endpoint is not sent."""
    cpo_platform(cpo_server)
    monkeypatch.setattr(forwarding, "join_segments", lambda segments: "/" + "/".join(segments))
    with pytest.raises(UnknownReceiverError, match="leaves NL\\*CPO's locations endpoint"):
        forward(caller, segments=("..", "credentials"))
    assert cpo_server.received == []
