"""Sessions end to end, with simulated partners and a real Celery worker: a CPO's session
reaches only the eMSP owning its token (FROM = the CPO, TO = that eMSP), survives that eMSP
being down for a while, can be pulled with `date_from`, and charging preferences are routed to
the CPO and its answer relayed (2.2.1 mod_sessions; DESIGN §3)."""

from typing import Any

import pytest

from hub.models import DeliveryStatus, PushDelivery
from tests.cpo_gateway.api.test_sessions import period, session
from tests.integration.hubnet import network, routing_headers
from tests.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PATH = "/ocpi/2.2.1/sessions/NL/CP1/SES-0001"
FAST_RETRIES = {"OCPI_PUSH_RETRY_BASE_S": "0.2", "OCPI_PUSH_RETRY_MAX_S": "0.5"}


def accepted(partner: Any, path: str = PATH) -> list[Any]:
    return [
        r for r in partner.requests_to(path) if r.response_status and 200 <= r.response_status < 300
    ]


def held(partner: Any) -> Any:
    """The session as the eMSP holds it after applying, in order, what it accepted (PUT
    replaces; PATCH merges fields and appends charging periods, as mod_sessions says)."""
    state: dict[str, Any] | None = None
    for request in accepted(partner):
        if request.method == "PUT":
            state = dict(request.json)
        elif request.method == "PATCH" and state is not None:
            periods = state.get("charging_periods") or []
            state.update(request.json)
            state["charging_periods"] = periods + (request.json.get("charging_periods") or [])
    return state


@pytest.fixture
def net(hub_url: str, celery_worker_factory: Any) -> Any:
    celery_worker_factory(**FAST_RETRIES)
    with network(cpos=1, emsps=2) as parties:
        yield parties


@pytest.fixture
def net_without_worker(hub_url: str) -> Any:
    """For what the hub answers synchronously (pull, routed requests): no deliveries needed."""
    with network(cpos=1, emsps=2) as parties:
        yield parties


def test_session_put_and_patches_reach_only_the_owning_emsp(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (owner, _), (other, _) = net["emsps"]
    headers = routing_headers(to=("DE", "MS1"), frm=("NL", "CP1"))
    # when: the CPO PUTs a session of DE*MS1's token, addressed to DE*MS1
    response = cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session(), headers=headers)
    # then: the hub answers at once and the owner gets a PUT from the CPO
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    received = owner.wait_for(lambda r: r.path == PATH and r.method == "PUT", timeout=20)
    assert received.json == session()
    assert received.headers["OCPI-from-country-code"] == "NL"
    assert received.headers["OCPI-from-party-id"] == "CP1"
    assert received.headers["OCPI-to-country-code"] == "DE"
    assert received.headers["OCPI-to-party-id"] == "MS1"
    assert received.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    # when: a PATCH of fields without any TO (open routing)
    patch = {"kwh": 5.25, "status": "ACTIVE", "last_updated": "2024-05-01T10:30:00Z"}
    assert cpo.request("PATCH", "sessions/NL/CP1/SES-0001", json=patch).status_code == 200
    # then: the owner gets a PATCH of exactly those fields
    received = owner.wait_for(lambda r: r.path == PATH and r.method == "PATCH", timeout=20)
    assert received.json == patch
    assert received.headers["OCPI-from-party-id"] == "CP1"
    # when: a PATCH appending a charging period, addressed to the hub
    second = period("2024-05-01T10:20:00Z", 1.75)
    patch = {"charging_periods": [second], "last_updated": "2024-05-01T10:40:00Z"}
    response = cpo.request(
        "PATCH", "sessions/NL/CP1/SES-0001", json=patch, headers=routing_headers(to=("NL", "HUB"))
    )
    assert response.status_code == 200
    # then: the owner ends with the hub's state (both periods)
    expected = {**session(), "kwh": 5.25, "last_updated": "2024-05-01T10:40:00Z"}
    expected["charging_periods"] = [*session()["charging_periods"], second]
    assert wait_until(lambda: held(owner) == expected, timeout=20)
    # and the other eMSP got nothing at all of it
    assert not other.requests_to("/ocpi/2.2.1/sessions")
    assert not PushDelivery.objects.filter(module="sessions", to_party_id="MS2").exists()


def test_owning_emsp_down_then_back_receives_the_latest_state(net: Any) -> None:
    ((cpo, _),) = net["cpos"]
    (owner, owner_platform), _ = net["emsps"]
    owner.set_behaviour("/ocpi/2.2.1/sessions", status=503)
    # when: a session and two updates while the owner answers 503
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session())
    cpo.request(
        "PATCH",
        "sessions/NL/CP1/SES-0001",
        json={"kwh": 8.0, "last_updated": "2024-05-01T10:50:00Z"},
    )
    assert wait_until(lambda: len(owner.requests_to(PATH)) >= 2, timeout=20)
    assert not accepted(owner)
    completed = {"status": "COMPLETED", "end_date_time": "2024-05-01T11:00:00Z"}
    cpo.request(
        "PATCH",
        "sessions/NL/CP1/SES-0001",
        json={**completed, "last_updated": "2024-05-01T11:00:00Z"},
    )
    # then: still retrying (sessions are not dropped like state), never given up
    assert PushDelivery.objects.filter(
        receiver=owner_platform, status__in=[DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT]
    ).exists()
    # when: the owner is back
    owner.reset_behaviour()
    # then: it holds the latest state, its first accepted request being a PUT
    latest = {**session(), "kwh": 8.0, **completed, "last_updated": "2024-05-01T11:00:00Z"}
    assert wait_until(lambda: held(owner) == latest, timeout=30)
    assert accepted(owner)[0].method == "PUT"


def test_emsp_pulls_its_sessions_with_date_from(net_without_worker: Any) -> None:
    ((cpo, _),) = net_without_worker["cpos"]
    (owner, _), (other, _) = net_without_worker["emsps"]
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session())
    since = {"date_from": "2024-05-01T00:00:00Z"}
    # the owner gets it from the hub's store (GET all via hub)
    response = owner.request(
        "GET", "sessions", role="SENDER", params=since, headers=routing_headers()
    )
    assert response.status_code == 200
    assert response.json()["data"] == [session()]
    assert response.headers["X-Total-Count"] == "1"
    # another eMSP sees nothing of it
    response = other.request("GET", "sessions", role="SENDER", params=since)
    assert response.json()["data"] == []
    # and date_from is required
    response = owner.request("GET", "sessions", role="SENDER")
    assert response.json()["status_code"] == 2001
    # with TO = the CPO the list comes from the CPO's own sessions SENDER (direct routing)
    cpo.set_objects("sessions", [session(), session(id="SES-0002", owner=("DE", "MS2"))])
    response = owner.request(
        "GET", "sessions", role="SENDER", params=since, headers=routing_headers(to=("NL", "CP1"))
    )
    assert response.status_code == 200
    assert [s["id"] for s in response.json()["data"]] == ["SES-0001", "SES-0002"]  # CPO's call
    (forwarded,) = cpo.requests_to("/ocpi/2.2.1/sessions", method="GET")
    assert forwarded.param("date_from") == since["date_from"]
    assert forwarded.headers["OCPI-from-party-id"] == "MS1"


def test_cpo_get_with_to_reads_the_emsps_copy(net_without_worker: Any) -> None:
    # 2.2.1 mod_sessions Receiver GET: the CPO may validate the eMSP's state
    ((cpo, _),) = net_without_worker["cpos"]
    (owner, _), _ = net_without_worker["emsps"]
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session())
    owner.store(PATH, {**session(), "kwh": 1.0})
    mine = cpo.request("GET", "sessions/NL/CP1/SES-0001")  # the hub's copy
    assert mine.json()["data"] == session()
    theirs = cpo.request(
        "GET", "sessions/NL/CP1/SES-0001", headers=routing_headers(to=("DE", "MS1"))
    )
    assert theirs.status_code == 200
    assert theirs.json()["data"]["kwh"] == 1.0
    assert theirs.headers["OCPI-from-party-id"] == "MS1"


def test_charging_preferences_reach_the_cpo_and_its_answer_is_relayed(
    net_without_worker: Any,
) -> None:
    ((cpo, _),) = net_without_worker["cpos"]
    (owner, _), (other, _) = net_without_worker["emsps"]
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session())
    prefs = {"profile_type": "CHEAP", "departure_time": "2024-05-01T18:00:00Z", "energy_need": 30}
    cpo_path = "/ocpi/2.2.1/sessions/SES-0001/charging_preferences"
    cpo.set_reply(cpo_path, "DEPARTURE_REQUIRED", method="PUT")
    # when: the token's eMSP sets preferences (no TO: the hub finds the session's CPO)
    response = owner.request(
        "PUT", "sessions/SES-0001/charging_preferences", role="SENDER", json=prefs
    )
    # then: the CPO got them from DE*MS1, and its answer came back
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == "DEPARTURE_REQUIRED"
    received = cpo.wait_for(lambda r: r.path == cpo_path, timeout=10)
    assert received.method == "PUT"
    assert received.json == prefs
    assert received.headers["OCPI-from-party-id"] == "MS1"
    assert received.headers["OCPI-to-party-id"] == "CP1"
    # when: the EVSE is not capable: the CPO's HTTP 404 + 2001 is relayed as it is
    not_capable = {
        "status_code": 2001,
        "status_message": "EVSE not capable",
        "timestamp": "2024-05-01T10:00:00Z",
    }
    cpo.set_behaviour(cpo_path, status=404, envelope=not_capable)
    response = owner.request(
        "PUT",
        "sessions/SES-0001/charging_preferences",
        role="SENDER",
        json=prefs,
        headers=routing_headers(to=("NL", "CP1")),
    )
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    # and another eMSP cannot set preferences on it: 404, nothing reaches the CPO
    before = len(cpo.requests_to(cpo_path))
    response = other.request(
        "PUT", "sessions/SES-0001/charging_preferences", role="SENDER", json=prefs
    )
    assert response.status_code == 404
    assert len(cpo.requests_to(cpo_path)) == before


def test_update_queued_while_a_failing_delivery_is_in_flight_still_arrives(net: Any) -> None:
    # given: the owner answers the first request slowly, then with 503
    ((cpo, _),) = net["cpos"]
    (owner, _), _ = net["emsps"]
    owner.set_behaviour("/ocpi/2.2.1/sessions", status=503, delay=1.5, times=1)
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=session())
    owner.wait_for(lambda r: r.path == PATH, timeout=20, answered=False)
    # when: the CPO updates the session while that PUT is still in flight
    patch = {"kwh": 8.0, "last_updated": "2024-05-01T10:50:00Z"}
    assert cpo.request("PATCH", "sessions/NL/CP1/SES-0001", json=patch).status_code == 200
    # then: the failed PUT retires into the queued update, which brings the latest state
    assert wait_until(lambda: held(owner) == {**session(), **patch}, timeout=20)
    assert accepted(owner)[0].method == "PUT"
