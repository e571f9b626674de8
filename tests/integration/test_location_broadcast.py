"""Locations and tariffs from a CPO reach every eMSP through the outbox and a real Celery
worker, with the headers a hub must send (2.2.1 transport_and_format, Broadcast Push)."""

import copy
import time
from typing import Any

import pytest

from hub.models import Location, PushDelivery
from tests.integration.hubnet import network, routing_headers
from tests.payloads import connector
from tests.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def location(
    location_id: str = "LOC1", last_updated: str = "2024-05-01T10:00:00Z", status: str = "AVAILABLE"
) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CP1",
        "id": location_id,
        "publish": True,
        "name": "Stationsplein",
        "address": "Stationsplein 1",
        "city": "Utrecht",
        "postal_code": "3511ED",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": "EVSE1",
                "evse_id": "NL*CP1*E1",
                "status": status,
                "capabilities": ["RFID_READER"],
                "connectors": [connector(last_updated)],
                "last_updated": last_updated,
            }
        ],
        "last_updated": last_updated,
    }


def tariff(tariff_id: str = "T1", last_updated: str = "2024-05-01T10:00:00Z") -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": "CP1",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
        "last_updated": last_updated,
    }


def pushes(partner: Any, path: str, method: str | None = None) -> list[Any]:
    return [r for r in partner.requests_to(path, method=method) if r.response_status]


def evse_state(partner: Any, location_path: str = "/ocpi/2.2.1/locations/NL/CP1/LOC1") -> Any:
    """(status, last_updated) of EVSE1 as the partner holds it after applying, in order, every
    push it accepted (a location PUT may carry changes that then need no PATCH)."""
    state = None
    for request in pushes(partner, location_path):
        if not 200 <= request.response_status < 300:
            continue
        if request.method == "PUT" and request.path == location_path:
            evse = request.json["evses"][0]
            state = (evse["status"], evse["last_updated"])
        elif request.method == "PATCH" and request.path == location_path + "/EVSE1" and state:
            state = (request.json.get("status", state[0]), request.json["last_updated"])
    return state


@pytest.fixture
def net(hub_url: str, celery_worker_process: Any) -> Any:
    with network(cpos=1, emsps=2) as parties:
        yield parties


def test_cpo_put_and_evse_patch_reach_both_emsps(net: Any) -> None:
    # given
    ((cpo, _),) = net["cpos"]
    (emsp1, _), (emsp2, _) = net["emsps"]
    headers = routing_headers(frm=("NL", "CP1"))
    # when: the CPO PUTs a location, addressed to the hub
    response = cpo.request(
        "PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=location(), headers=headers
    )
    # then: the hub answers at once
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    path = "/ocpi/2.2.1/locations/NL/CP1/LOC1"
    for emsp, party in ((emsp1, "MS1"), (emsp2, "MS2")):
        received = emsp.wait_for(lambda r: r.path == path and r.method == "PUT", timeout=20)
        assert received.json == location()  # unchanged, last_updated included
        assert received.headers["OCPI-from-country-code"] == "NL"
        assert received.headers["OCPI-from-party-id"] == "HUB"
        assert received.headers["OCPI-to-country-code"] == "DE"
        assert received.headers["OCPI-to-party-id"] == party
        assert received.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
        assert received.headers["X-Request-ID"] != headers["X-Request-ID"]
    # when: the CPO PATCHes the EVSE's status
    patch = {"status": "CHARGING", "last_updated": "2024-05-01T10:05:00Z"}
    response = cpo.request(
        "PATCH",
        "locations/NL/CP1/LOC1/EVSE1",
        role="RECEIVER",
        json=patch,
        headers=routing_headers(),
    )
    assert response.status_code == 200
    # then: both eMSPs receive a PATCH of that EVSE carrying the new status
    for emsp in (emsp1, emsp2):
        received = emsp.wait_for(
            lambda r: r.path == path + "/EVSE1" and r.method == "PATCH", timeout=20
        )
        assert received.json == patch
    # and the hub's store has the EVSE's status and bumped the location's last_updated
    stored = Location.objects.get(location_id="LOC1")
    assert stored.data["evses"][0]["status"] == "CHARGING"
    assert stored.data["last_updated"] == "2024-05-01T10:05:00Z"
    assert stored.evse_rows.get().status == "CHARGING"


def test_tariff_put_and_delete_broadcast(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (emsp1, _), (emsp2, _) = net["emsps"]
    response = cpo.request("PUT", "tariffs/NL/CP1/T1", role="RECEIVER", json=tariff())
    assert response.status_code == 201
    for emsp in (emsp1, emsp2):
        received = emsp.wait_for(
            lambda r: r.path == "/ocpi/2.2.1/tariffs/NL/CP1/T1" and r.method == "PUT", timeout=20
        )
        assert received.json == tariff()
    assert cpo.request("DELETE", "tariffs/NL/CP1/T1", role="RECEIVER").status_code == 200
    for emsp in (emsp1, emsp2):
        emsp.wait_for(
            lambda r: r.path == "/ocpi/2.2.1/tariffs/NL/CP1/T1" and r.method == "DELETE",
            timeout=20,
        )


def test_rapid_status_changes_coalesce_to_the_last_state(net: Any) -> None:
    # given: a location known to both eMSPs, and eMSP 1 slow (1 s per request)
    ((cpo, _),) = net["cpos"]
    (slow, _), (fast, _) = net["emsps"]
    cpo.request("PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=location())
    for emsp in (slow, fast):
        emsp.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/LOC1"), timeout=20)
    slow.set_behaviour("/ocpi/2.2.1/locations", delay=1.0)
    statuses = ["CHARGING", "AVAILABLE", "BLOCKED"] * 10
    # when: 30 status changes in quick succession
    for second, status in enumerate(statuses, start=1):
        patch = {"status": status, "last_updated": f"2024-05-01T11:00:{second:02d}Z"}
        answer = cpo.request("PATCH", "locations/NL/CP1/LOC1/EVSE1", role="RECEIVER", json=patch)
        assert answer.status_code == 200
    # then: the slow eMSP ends with the last status, after far fewer than 30 deliveries

    def slow_has_last() -> bool:
        return evse_state(slow) == ("BLOCKED", "2024-05-01T11:00:30Z")

    assert wait_until(slow_has_last, timeout=40)
    assert len(pushes(slow, "/ocpi/2.2.1/locations")) < 15
    # and the fast one too
    assert wait_until(lambda: evse_state(fast) == ("BLOCKED", "2024-05-01T11:00:30Z"), 20)


def test_stale_and_duplicate_updates_change_nothing(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (emsp1, _), _ = net["emsps"]
    newer = location(last_updated="2024-05-01T12:00:00Z", status="CHARGING")
    older = location(last_updated="2024-05-01T09:00:00Z", status="OUTOFORDER")
    assert (
        cpo.request("PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=newer).status_code == 201
    )
    emsp1.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/LOC1"), timeout=20)
    for payload in (older, newer):
        assert (
            cpo.request("PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=payload).status_code
            == 200
        )
    stored = Location.objects.get(location_id="LOC1")
    assert stored.data == newer
    assert PushDelivery.objects.filter(module="locations").count() == 2  # one per eMSP
    time.sleep(0.5)
    assert len(pushes(emsp1, "/ocpi/2.2.1/locations", "PUT")) == 1


def test_unpublished_location_is_not_broadcast(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    private = copy.deepcopy(location("PRIV"))
    private["publish"] = False
    assert (
        cpo.request("PUT", "locations/NL/CP1/PRIV", role="RECEIVER", json=private).status_code
        == 201
    )
    assert not PushDelivery.objects.filter(object_key__endswith="/PRIV").exists()
