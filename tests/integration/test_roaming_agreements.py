"""Roaming agreements end to end (DESIGN §6b), in `OCPI_ROAMING_MODE=agreements`, with
simulated partners registered through the real handshake and a real Celery worker running in
agreements mode too: what a CPO publishes reaches only the eMSPs it has an agreement with,
GET all via the hub shows only agreed CPOs, routing between parties without an agreement is
refused with an error naming it, EVSE status flows only with `evse_status`, and starting or
suspending an agreement pushes what each side needs."""

import copy
from typing import Any

import pytest

from hub.models import PushDelivery
from hub.ocpi.routing import PartyRef
from hub.services.agreements.lifecycle import AgreementTerms, agreement_add, agreement_suspend
from hub.services.agreements.policy import today
from tests.cpo_gateway.api.test_sessions import session
from tests.emsp_gateway.api.test_commands import start_session, store_location
from tests.integration.hubnet import network, routing_headers
from tests.integration.test_clientinfo_push import clientinfo_put
from tests.integration.test_location_broadcast import location

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CP1, CP2 = PartyRef("NL", "CP1"), PartyRef("NL", "CP2")
MS1, MS2 = PartyRef("DE", "MS1"), PartyRef("DE", "MS2")
LOC1 = "/ocpi/2.2.1/locations/NL/CP1/LOC1"
LOC_CP2 = "/ocpi/2.2.1/locations/NL/CP2/LOC9"


@pytest.fixture
def net(hub_url: str, settings: Any, celery_worker_factory: Any) -> Any:
    """CP1, CP2 and eMSPs MS1, MS2, no agreement yet; hub and worker in agreements mode."""
    settings.OCPI_ROAMING_MODE = "agreements"
    celery_worker_factory(OCPI_ROAMING_MODE="agreements")
    with network(cpos=2, emsps=2) as parties:
        yield parties


def partners(net: Any) -> tuple[Any, Any, Any, Any]:
    (cp1, _), (cp2, _) = net["cpos"]
    (ms1, _), (ms2, _) = net["emsps"]
    return cp1, cp2, ms1, ms2


def agree(cpo: PartyRef, emsp: PartyRef, *scopes: str) -> int:
    agreement, _ = agreement_add(
        AgreementTerms(
            cpo=cpo, emsp=emsp, valid_from=today(), **({"scopes": scopes} if scopes else {})
        )
    )
    return agreement.pk


def put_location(cpo: Any, body: dict[str, Any], path: str = "locations/NL/CP1/LOC1") -> None:
    response = cpo.request("PUT", path, role="RECEIVER", json=body, headers=routing_headers())
    assert response.json()["status_code"] == 1000, response.json()


def queued_to(party: PartyRef, **filters: Any) -> list[PushDelivery]:
    return list(
        PushDelivery.objects.filter(
            to_country_code=party.country_code, to_party_id=party.party_id, **filters
        )
    )


def cp2_location() -> dict[str, Any]:
    body = copy.deepcopy(location("LOC9"))
    body["party_id"] = "CP2"
    return body


def test_broadcast_and_gets_follow_the_agreements(net: Any) -> None:
    cp1, cp2, ms1, ms2 = partners(net)
    agree(CP1, MS1)  # every scope
    agree(CP1, MS2, "locations", "tariffs")  # locations without real-time status
    # when: CP1 and CP2 (no agreement with anyone) publish a location
    put_location(cp1, location())
    put_location(cp2, cp2_location(), "locations/NL/CP2/LOC9")
    # then: both agreed eMSPs get CP1's, MS2 with the status UNKNOWN, last_updated untouched
    full = ms1.wait_for(lambda r: r.path == LOC1 and r.method == "PUT", timeout=20)
    assert full.json == location()
    masked = ms2.wait_for(lambda r: r.path == LOC1 and r.method == "PUT", timeout=20)
    expected = location()
    expected["evses"][0]["status"] = "UNKNOWN"
    assert masked.json == expected
    # and nobody is even queued CP2's
    assert not PushDelivery.objects.filter(object_key__startswith="NL/CP2/")
    # when: CP1 PATCHes the EVSE's status
    patch = {"status": "CHARGING", "last_updated": "2024-05-01T10:05:00Z"}
    response = cp1.request(
        "PATCH", "locations/NL/CP1/LOC1/EVSE1", role="RECEIVER", json=patch,
        headers=routing_headers(),
    )  # fmt: skip
    assert response.json()["status_code"] == 1000
    # then: MS1 gets it; MS2 is not sent a status-only update at all
    received = ms1.wait_for(lambda r: r.path == LOC1 + "/EVSE1", timeout=20)
    assert received.json == patch
    assert not queued_to(MS2, object_key="NL/CP1/LOC1/EVSE1")
    # GET all via the hub: each eMSP sees only CP1's location, MS2 with the status UNKNOWN
    for emsp, status in ((ms1, "CHARGING"), (ms2, "UNKNOWN")):
        listed = emsp.request("GET", "locations", role="SENDER", headers=routing_headers())
        assert listed.headers["X-Total-Count"] == "1"
        (only,) = listed.json()["data"]
        assert (only["party_id"], only["evses"][0]["status"]) == ("CP1", status)
        assert only["evses"][0]["last_updated"] == "2024-05-01T10:05:00Z"
        evse = emsp.request("GET", "locations/LOC1/EVSE1", role="SENDER", headers=routing_headers())
        assert evse.json()["data"]["status"] == status
    # and a CPO without an agreement is not found at all
    hidden = ms1.request("GET", "locations/LOC9", role="SENDER", headers=routing_headers())
    assert hidden.status_code == 404


def test_routing_without_an_agreement_is_refused_naming_it(net: Any) -> None:
    cp1, _, ms1, _ = partners(net)
    agree(CP1, MS1, "locations")  # no tokens, no sessions
    # real-time authorization, CPO to eMSP
    authorize = cp1.request(
        "POST", "tokens/TOK1/authorize", role="SENDER",
        headers=routing_headers(to=("DE", "MS1"), frm=("NL", "CP1")),
    )  # fmt: skip
    assert authorize.json()["status_code"] == 4001
    assert authorize.json()["status_message"] == (
        "DE*MS1 may not be reached for tokens: no roaming agreement in force between NL*CP1 "
        "and DE*MS1 for tokens"
    )
    # a command, eMSP to CPO
    store_location("NL", "CP1", "LOC1")
    command = ms1.request(
        "POST", "commands/START_SESSION", role="RECEIVER",
        json=start_session(response_url=ms1.module_url("commands", "START_SESSION", "x1")),
        headers=routing_headers(to=("NL", "CP1"), frm=("DE", "MS1")),
    )  # fmt: skip
    assert command.json()["status_code"] == 4001
    assert (
        "no roaming agreement in force between NL*CP1 and DE*MS1 for sessions"
        in (command.json()["status_message"])
    )
    assert not cp1.requests_to("/ocpi/2.2.1/commands")
    # a session, CPO to the token's eMSP
    pushed = cp1.request(
        "PUT", "sessions/NL/CP1/SES-0001", json=session(),
        headers=routing_headers(to=("DE", "MS1"), frm=("NL", "CP1")),
    )  # fmt: skip
    assert pushed.json()["status_code"] == 4001
    assert pushed.json()["status_message"] == (
        "cdr_token: no roaming agreement in force between NL*CP1 and DE*MS1 for sessions"
    )
    assert not queued_to(MS1, module="sessions")


def test_adding_an_agreement_pushes_and_suspending_stops(net: Any) -> None:
    cp1, _, ms1, ms2 = partners(net)
    put_location(cp1, location())
    assert not PushDelivery.objects.filter(module="locations")  # nobody may have it yet
    # when: staff add an agreement CP1 - MS1
    agreement_id = agree(CP1, MS1)
    # then: MS1 is sent CP1's stored location, and each learns of the other
    pushed = ms1.wait_for(lambda r: r.path == LOC1 and r.method == "PUT", timeout=20)
    assert pushed.json == location()
    ms1.wait_for(clientinfo_put("/ocpi/2.2.1/hubclientinfo/NL/CP1", "CONNECTED"), timeout=20)
    cp1.wait_for(clientinfo_put("/ocpi/2.2.1/hubclientinfo/DE/MS1", "CONNECTED"), timeout=20)
    # and HubClientInfo GET lists only the counterpart
    listed = ms1.request("GET", "hubclientinfo", role="SENDER")
    assert [(c["party_id"], c["status"]) for c in listed.json()["data"]] == [("CP1", "CONNECTED")]
    assert not queued_to(MS2)  # MS2 has no agreement: it learns nothing
    # when: the agreement is suspended
    agreement_suspend(agreement_id)
    # then: each side is told the other is SUSPENDED
    ms1.wait_for(clientinfo_put("/ocpi/2.2.1/hubclientinfo/NL/CP1", "SUSPENDED"), timeout=20)
    cp1.wait_for(clientinfo_put("/ocpi/2.2.1/hubclientinfo/DE/MS1", "SUSPENDED"), timeout=20)
    # and the flow stops: a new update is queued for nobody, GET all shows nothing
    put_location(cp1, location(last_updated="2024-05-02T10:00:00Z", status="CHARGING"))
    assert not queued_to(MS1, module="locations", status="PENDING")
    listed = ms1.request("GET", "locations", role="SENDER", headers=routing_headers())
    assert listed.headers["X-Total-Count"] == "0"
    assert ms1.request("GET", "hubclientinfo", role="SENDER").json()["data"] == []
