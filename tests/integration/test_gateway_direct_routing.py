"""Direct routing through the gateway views: a request whose TO names one party goes to that
party only, synchronously, and its answer comes back (DESIGN §3)."""

from typing import Any

import pytest

from hub.models import Location, PushDelivery
from tests.integration.hubnet import network, routing_headers
from tests.integration.test_location_broadcast import location

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def net(hub_url: str) -> Any:
    with network(cpos=1, emsps=2) as parties:
        yield parties


def test_cpo_put_addressed_to_one_emsp_reaches_only_it(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (addressed, _), (other, _) = net["emsps"]
    headers = routing_headers(to=("DE", "MS1"), frm=("NL", "CP1"))
    # when
    response = cpo.request(
        "PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=location(), headers=headers
    )
    # then: the eMSP's own answer is relayed, synchronously
    assert response.status_code in (200, 201)
    assert response.json()["status_code"] == 1000
    (received,) = addressed.requests_to("/ocpi/2.2.1/locations/NL/CP1/LOC1", method="PUT")
    assert received.json == location()
    assert received.headers["OCPI-from-party-id"] == "CP1"  # FROM unchanged: not a broadcast
    assert received.headers["OCPI-to-party-id"] == "MS1"
    assert received.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    assert received.headers["X-Request-ID"] != headers["X-Request-ID"]
    # and nobody else got it, and the hub neither stored nor queued it
    assert not other.requests_to("/ocpi/2.2.1/locations")
    assert not Location.objects.exists()
    assert not PushDelivery.objects.filter(module="locations").exists()


def test_cpo_put_to_an_unknown_party_4001(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    response = cpo.request(
        "PUT",
        "locations/NL/CP1/LOC1",
        role="RECEIVER",
        json=location(),
        headers=routing_headers(to=("FR", "XYZ")),
    )
    assert response.status_code == 200
    assert response.json()["status_code"] == 4001
    assert not Location.objects.exists()


def test_invalid_body_is_refused_before_forwarding(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (addressed, _), _ = net["emsps"]
    body = location()
    body["coordinates"]["latitude"] = "north"
    response = cpo.request(
        "PUT",
        "locations/NL/CP1/LOC1",
        role="RECEIVER",
        json=body,
        headers=routing_headers(to=("DE", "MS1")),
    )
    assert response.json()["status_code"] == 2001
    assert not addressed.requests_to("/ocpi/2.2.1/locations")


def test_emsp_get_addressed_to_a_cpo_goes_to_that_cpo(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (emsp, _), _ = net["emsps"]
    cpo.set_objects("locations", [location("A1"), location("A2"), location("A3")])
    response = emsp.request(
        "GET",
        "locations",
        role="SENDER",
        params={"limit": 2},
        headers=routing_headers(to=("NL", "CP1"), frm=("DE", "MS1")),
    )
    assert response.status_code == 200
    assert [o["id"] for o in response.json()["data"]] == ["A1", "A2"]
    assert response.headers["X-Total-Count"] == "3"
    link = response.headers["Link"]
    assert link.startswith("<http://") and "/ocpi/2.2.1/emsp/locations/page/" in link
    # following the hub's link gives the rest, still from the CPO
    url = link[1 : link.index(">")]
    rest = emsp.request("GET", url)
    assert [o["id"] for o in rest.json()["data"]] == ["A3"]
    assert cpo.requests_to("/ocpi/2.2.1/locations", method="GET")
    # and the hub's own store was not involved (it is empty)
    assert not Location.objects.exists()
