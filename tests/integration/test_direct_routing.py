"""Direct routing end to end (DESIGN §3 "direct"; 2.2.1 transport_and_format, Message Routing
and Pagination): a simulated eMSP reads a simulated CPO's locations through the live hub.

The first hop is driven through `forward_request` (the gateway views that call it are not
part of this test); every following page goes over HTTP through the hub's proxied page URL.
"""

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from hub.models import ConnectionStatus, Platform, ProxiedUrl
from hub.ocpi.caller import Caller
from hub.ocpi.exceptions import ConnectionProblemError, ForwardTimeoutError
from hub.ocpi.routing import OcpiRequestContext, PartyRef
from hub.services.routing.forwarding import ForwardedResponse, forward_request
from partners.ocpi import envelope
from partners.simulated import SimulatedPartner
from tests.integration.hubnet import connect, role

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CPO = PartyRef.of("NL", "CP1")
EMSP = PartyRef.of("DE", "MS1")
_LINK_RE = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


@dataclass
class Net:
    cpo: SimulatedPartner
    emsp: SimulatedPartner
    other: SimulatedPartner
    cpo_platform: Platform
    emsp_platform: Platform


def location(n: int) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CP1",
        "id": f"LOC{n}",
        "last_updated": f"2024-05-01T10:00:0{n}Z",
    }


@pytest.fixture
def net(hub_url: str) -> Iterator[Net]:
    """A CPO, an eMSP and a second eMSP, each registered with the live hub."""
    with (
        SimulatedPartner(roles=[role("CPO", "NL", "CP1")], name="cpo") as cpo,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS1")], name="emsp") as emsp,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS2")], name="other") as other,
    ):
        cpo_platform = connect(cpo, "CPO 1")
        emsp_platform = connect(emsp, "eMSP 1")
        connect(other, "eMSP 2")
        cpo.set_objects("locations", [location(n) for n in range(5)])
        cpo.clear_received()
        yield Net(cpo, emsp, other, cpo_platform, emsp_platform)


def first_hop(net: Net, correlation_id: str, **query: str) -> ForwardedResponse:
    """What an eMSP gateway view does for `GET locations` with TO = the CPO."""
    caller = Caller.of(net.emsp_platform)
    context = OcpiRequestContext(
        request_id="req-from-emsp", correlation_id=correlation_id, from_party=EMSP, to_party=CPO
    )
    return forward_request(
        caller=caller,
        context=context,
        module="locations",
        interface_role="SENDER",
        method="GET",
        segments=(),
        query=query,
        body=None,
        gateway="emsp",
    )


def next_link(headers: Any) -> str | None:
    value = headers.get("Link")
    if not value:
        return None
    match = _LINK_RE.match(value)
    assert match, value
    return match.group("url")


def follow(partner: SimulatedPartner, url: str, correlation_id: str) -> httpx.Response:
    return partner.request(
        "GET",
        url,
        headers={"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": correlation_id},
    )


def test_paginated_get_followed_through_the_hub_to_the_last_page(net: Net, hub_url: str) -> None:
    correlation_id = str(uuid.uuid4())
    # when: the eMSP's first page is forwarded, then it follows every Link the hub gives it
    first = first_hop(net, correlation_id, limit="2")
    assert first.http_status == 200 and first.body is not None
    pages = [first.body["data"]]
    assert (first.headers["X-Total-Count"], first.headers["X-Limit"]) == ("5", "50")
    link = next_link(first.headers)
    sent_ids = []
    while link is not None:
        assert link.startswith(f"{hub_url}/ocpi/2.2.1/emsp/locations/page/")
        response = follow(net.emsp, link, correlation_id)
        body = response.json()
        assert response.status_code == 200 and body["status_code"] == 1000
        assert response.headers["X-Correlation-ID"] == correlation_id
        assert response.headers["X-Total-Count"] == "5"
        assert response.headers["X-Limit"] == "50"
        assert response.headers["OCPI-from-party-id"] == "CP1"
        assert response.headers["OCPI-to-party-id"] == "MS1"
        sent_ids.append(response.headers["X-Request-ID"])
        pages.append(body["data"])
        link = next_link(response.headers)
    # then: every object once, in the CPO's order, over three pages
    assert [len(page) for page in pages] == [2, 2, 1]
    assert [obj["id"] for page in pages for obj in page] == [f"LOC{n}" for n in range(5)]
    assert pages[0][0] == location(0)  # relayed untouched, last_updated included
    # and the CPO saw one request per page: new request ids, the same correlation id
    hops = net.cpo.requests_to("locations", "GET")
    assert [r.param("offset") for r in hops] == [None, "2", "4"]
    request_ids = [r.headers["X-Request-ID"] for r in hops]
    assert len(set(request_ids)) == 3
    assert not set(request_ids) & {*sent_ids, "req-from-emsp"}
    assert {r.headers["X-Correlation-ID"] for r in hops} == {correlation_id}
    assert {(r.headers["OCPI-from-party-id"], r.headers["OCPI-to-party-id"]) for r in hops} == {
        ("MS1", "CP1")
    }
    assert {r.token for r in hops} == {net.cpo.own_token}
    assert ProxiedUrl.objects.filter(kind="page").count() == 2


def test_link_only_for_the_platform_it_was_given_to(net: Net) -> None:
    link = next_link(first_hop(net, "corr-1", limit="2").headers)
    assert link is not None
    net.cpo.clear_received()
    # another eMSP, and the CPO itself, get 404 as for an id that does not exist
    for stranger in (net.other, net.cpo):
        response = follow(stranger, link, "corr-1")
        assert response.status_code == 404
        assert response.json()["status_code"] == 2000
        unknown = follow(stranger, link.rsplit("/", 1)[0] + f"/{uuid.uuid4()}", "corr-1")
        assert unknown.json()["status_message"] == response.json()["status_message"]
    # a link is followed with GET only
    assert net.emsp.request("POST", link, json={}).status_code == 405
    # an expired link is gone
    ProxiedUrl.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    assert follow(net.emsp, link, "corr-1").status_code == 404
    assert net.cpo.requests_to("locations") == []


def test_cpo_errors_are_relayed(net: Net) -> None:
    # given: a first page with a link, then the CPO refuses the request
    link = next_link(first_hop(net, "corr-2", limit="2").headers)
    assert link is not None
    net.cpo.set_behaviour("locations", envelope=envelope(None, 2001, "date_from is invalid"))
    # when / then: direct, the 2001 comes back as the CPO sent it
    refused = first_hop(net, "corr-2", date_from="yesterday")
    assert refused.http_status == 200 and refused.body is not None
    assert (refused.body["status_code"], refused.body["status_message"]) == (
        2001,
        "date_from is invalid",
    )
    # and through the hub's page URL, a 3000 keeps its HTTP 500
    net.cpo.set_behaviour("locations", status=500)
    response = follow(net.emsp, link, "corr-2")
    assert response.status_code == 500
    assert response.json()["status_code"] == 3000
    assert response.json()["status_message"] == "Simulated HTTP 500"


def test_cpo_hanging_past_the_timeout_is_4002(net: Net, settings: Any) -> None:
    link = next_link(first_hop(net, "corr-3", limit="2").headers)
    assert link is not None
    settings.OCPI_FORWARD_TIMEOUT_S = 0.5
    net.cpo.set_behaviour("locations", delay=5)
    # direct
    with pytest.raises(ForwardTimeoutError):
        first_hop(net, "corr-3")
    # through the page URL: HTTP 200 with 4002 (the hub's errors are OCPI-layer answers)
    response = follow(net.emsp, link, "corr-3")
    assert response.status_code == 200
    assert response.json()["status_code"] == 4002


def test_cpo_down_is_4003(net: Net) -> None:
    link = next_link(first_hop(net, "corr-4", limit="2").headers)
    assert link is not None
    net.cpo.stop()
    with pytest.raises(ConnectionProblemError):
        first_hop(net, "corr-4")
    response = follow(net.emsp, link, "corr-4")
    assert response.status_code == 200
    assert response.json()["status_code"] == 4003


def test_cpo_offline_at_the_hub_is_4003_without_calling_it(net: Net) -> None:
    link = next_link(first_hop(net, "corr-5", limit="2").headers)
    assert link is not None
    net.cpo.clear_received()
    Platform.objects.filter(pk=net.cpo_platform.pk).update(status=ConnectionStatus.OFFLINE)
    response = follow(net.emsp, link, "corr-5")
    assert response.json()["status_code"] == 4003
    assert "CP1" in response.json()["status_message"]
    assert net.cpo.requests_to("locations") == []
