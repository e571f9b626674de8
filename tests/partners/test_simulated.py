"""Self-tests of the simulated partner, without the hub or a database.

The hub's integration tests trust this helper to behave like a spec-conforming platform, so
its handshake, authentication, state errors, pagination and fault injection are proven here
by letting two simulated partners talk to each other (the helper is symmetric).
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from partners.simulated import OcpiCallError, SimulatedPartner

EMSP_ROLE = {
    "role": "EMSP",
    "country_code": "DE",
    "party_id": "EMS",
    "business_details": {"name": "Sim eMSP"},
}
HUB_ROLE = {
    "role": "HUB",
    "country_code": "NL",
    "party_id": "HUB",
    "business_details": {"name": "Sim Hub"},
}


@pytest.fixture
def hub() -> Iterator[SimulatedPartner]:
    with SimulatedPartner(roles=[HUB_ROLE], name="hub") as partner:
        yield partner


@pytest.fixture
def cpo_server() -> Iterator[SimulatedPartner]:
    with SimulatedPartner(name="cpo") as partner:
        yield partner


@pytest.fixture
def emsp_with_cpo(
    cpo_server: SimulatedPartner,
) -> Iterator[tuple[SimulatedPartner, SimulatedPartner]]:
    """An eMSP registered with the CPO (the CPO plays the hub's side)."""
    with SimulatedPartner(roles=[EMSP_ROLE], name="emsp") as emsp:
        emsp.register_with(cpo_server.versions_url, cpo_server.token_a)
        yield emsp, cpo_server


def test_partner_initiated_registration(
    hub: SimulatedPartner, cpo_server: SimulatedPartner
) -> None:
    data = cpo_server.register_with(hub.versions_url, hub.token_a)

    assert data["token"] == cpo_server.hub_token == hub.own_token
    assert data["url"] == hub.versions_url
    assert data["roles"][0]["role"] == "HUB"
    assert hub.hub_token == cpo_server.own_token
    assert hub.hub_token not in (None, hub.token_a)
    assert cpo_server.registered and hub.registered
    assert cpo_server.hub_endpoint("credentials") == hub.module_url("credentials")
    assert hub.hub_versions_url == cpo_server.versions_url
    assert hub.hub_version == "2.2.1"
    assert {
        "identifier": "locations",
        "role": "SENDER",
        "url": cpo_server.module_url("locations"),
    } in (hub.hub_endpoints)
    # The receiver called the sender back with token B, base64-encoded, before answering.
    callback = cpo_server.wait_for(lambda r: r.path == "/ocpi/versions")
    assert callback.token == cpo_server.own_token
    assert callback.token_form == "base64"
    assert callback.headers["authorization"].startswith("Token ")
    # Token A is dead now.
    response = cpo_server.request("GET", hub.versions_url, token=hub.token_a)
    assert response.status_code == 401
    assert response.json()["status_code"] // 1000 == 2


def test_hub_initiated_registration_with_raw_tokens(cpo_server: SimulatedPartner) -> None:
    with SimulatedPartner(roles=[HUB_ROLE], token_encoding="raw", name="hub") as hub:
        hub.register_with(cpo_server.versions_url, cpo_server.token_a)

        assert hub.hub_token == cpo_server.own_token and cpo_server.hub_token == hub.own_token
        post = cpo_server.wait_for(lambda r: r.method == "POST" and r.module == "credentials")
        assert post.token == cpo_server.token_a
        assert post.token_form == "raw"
        assert post.json["url"] == hub.versions_url
        # A raw-token partner still accepts base64 from the other side.
        callback = hub.wait_for(lambda r: r.path == "/ocpi/versions")
        assert callback.token_form == "base64"
        assert not cpo_server.token_a_valid


def test_registration_in_both_directions_and_rotation(
    hub: SimulatedPartner, cpo_server: SimulatedPartner
) -> None:
    cpo_server.register_with(hub.versions_url, hub.token_a)
    old_hub_token, old_own_token = cpo_server.hub_token, cpo_server.own_token

    data = cpo_server.update_credentials()

    assert data["token"] == cpo_server.hub_token == hub.own_token != old_hub_token
    assert hub.hub_token == cpo_server.own_token != old_own_token
    assert cpo_server.request("GET", "credentials", token=old_hub_token).status_code == 401
    assert cpo_server.request("GET", "credentials").status_code == 200

    # The hub rotates from its side (PUT to the CPO) with its current token.
    hub.update_credentials()
    assert cpo_server.hub_token == hub.own_token and hub.hub_token == cpo_server.own_token

    cpo_server.unregister()
    assert not cpo_server.registered and not hub.registered
    assert cpo_server.hub_token is None
    response = hub.request("GET", "locations", token=old_own_token)
    assert response.status_code == 401

    # Re-registration the other way round with a freshly issued Token A.
    hub.register_with(cpo_server.versions_url, cpo_server.issue_token_a())
    assert cpo_server.registered and hub.registered
    assert cpo_server.hub_token == hub.own_token


def test_missing_or_unknown_token_is_401(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    variants: list[dict[str, Any]] = [{"send_token": False}, {"token": "not-a-token"}]
    for kwargs in variants:
        response = emsp.request("GET", "locations", **kwargs)
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000
        assert set(response.json()) >= {"status_code", "status_message", "timestamp"}
    # Token A never opens a functional module.
    with SimulatedPartner(name="fresh") as fresh:
        url = fresh.module_url("locations")
        assert fresh.request("GET", url, token=fresh.token_a).status_code == 401
        assert fresh.request("GET", fresh.versions_url, token=fresh.token_a).status_code == 200
    assert cpo.errors == [] and emsp.errors == []


def test_credentials_state_errors_are_405(
    hub: SimulatedPartner, cpo_server: SimulatedPartner
) -> None:
    credentials_url = hub.module_url("credentials")
    body = cpo_server.credentials("some-token")
    for method in ("PUT", "DELETE"):
        response = cpo_server.request(method, credentials_url, token=hub.token_a, json=body)
        assert response.status_code == 405
        assert response.json()["status_code"] // 1000 == 2

    cpo_server.register_with(hub.versions_url, hub.token_a)
    response = cpo_server.request("POST", "credentials", json=cpo_server.credentials())
    assert response.status_code == 405

    with pytest.raises(OcpiCallError) as error:
        cpo_server.register_with(hub.versions_url, hub.token_a)
    assert error.value.http_status == 401


@pytest.mark.parametrize(
    ("cpo_kwargs", "expected"),
    [
        ({"versions": ["2.1.1"]}, 3002),
        ({"modules": [("locations", "SENDER")]}, 3003),
        ({}, 3001),
    ],
)
def test_registration_errors(
    hub: SimulatedPartner, cpo_kwargs: dict[str, Any], expected: int
) -> None:
    with SimulatedPartner(name="odd", **cpo_kwargs) as odd:
        odd.fail_versions = expected == 3001
        with pytest.raises(OcpiCallError) as error:
            odd.register_with(hub.versions_url, hub.token_a)
    assert error.value.http_status == 200
    assert error.value.status_code == expected
    assert not hub.registered and hub.token_a_valid


def test_pagination_of_a_sender_list(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    cpo.set_objects(
        "locations",
        [{"id": f"LOC{i}", "last_updated": f"2024-01-0{i}T00:00:00Z"} for i in range(1, 6)],
    )

    response = emsp.request("GET", "locations", params={"limit": 2})
    assert response.status_code == 200
    assert response.headers["X-Total-Count"] == "5"
    assert response.headers["X-Limit"] == "50"
    assert [o["id"] for o in response.json()["data"]] == ["LOC1", "LOC2"]

    seen: list[str] = []
    url: str | None = emsp.hub_endpoint("locations")
    pages = 0
    while url is not None:
        page = emsp.request("GET", url, params={"limit": 2} if pages == 0 else None)
        seen += [o["id"] for o in page.json()["data"]]
        url = page.links.get("next", {}).get("url")
        pages += 1
    assert seen == ["LOC1", "LOC2", "LOC3", "LOC4", "LOC5"] and pages == 3

    filtered = emsp.request(
        "GET",
        "locations",
        params={"date_from": "2024-01-02T00:00:00Z", "date_to": "2024-01-04T00:00:00Z"},
    )
    assert [o["id"] for o in filtered.json()["data"]] == ["LOC2", "LOC3"]
    assert filtered.headers["X-Total-Count"] == "2"
    assert "Link" not in filtered.headers

    single = emsp.request("GET", "locations/LOC3")
    assert single.json()["data"]["id"] == "LOC3"


def test_receiver_stores_put_patch_and_echoes_headers(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    # The CPO pushes to the eMSP's Receiver interface.
    url = cpo.hub_endpoint("locations")
    assert url == emsp.module_url("locations")
    put = cpo.request(
        "PUT",
        f"{url}/NL/SIM/LOC1",
        json={"id": "LOC1", "name": "A", "publish": True},
        headers={"X-Request-ID": "req-1", "X-Correlation-ID": "cor-1"},
        from_party=("NL", "SIM"),
        to_party=("DE", "EMS"),
    )
    assert put.status_code == 200 and put.json()["status_code"] == 1000
    assert put.headers["X-Request-ID"] == "req-1"
    assert put.headers["X-Correlation-ID"] == "cor-1"
    assert put.headers["OCPI-from-party-id"] == "EMS"
    assert put.headers["OCPI-to-party-id"] == "SIM"
    assert put.json()["timestamp"].endswith("Z")

    patch = cpo.request("PATCH", f"{url}/NL/SIM/LOC1", json={"name": "B"})
    assert patch.json()["status_code"] == 1000
    assert emsp.stored_object("locations", "NL", "SIM", "LOC1") == {
        "id": "LOC1",
        "name": "B",
        "publish": True,
    }
    got = cpo.request("GET", f"{url}/NL/SIM/LOC1")
    assert got.json()["data"]["name"] == "B"

    missing = cpo.request("GET", f"{url}/NL/SIM/NOPE")
    assert missing.status_code == 404 and missing.json()["status_code"] == 2003
    bad_json = cpo.request("PUT", f"{url}/NL/SIM/LOC2", raw_body=b"{not json")
    assert bad_json.status_code == 400

    recorded = emsp.wait_for(lambda r: r.method == "PATCH")
    assert recorded.json == {"name": "B"} and recorded.response_status == 200
    pushed = emsp.wait_for(lambda r: r.method == "PUT" and r.path.endswith("/LOC1"))
    assert pushed.headers["ocpi-from-country-code"] == "NL"  # case-insensitive access


def test_fault_injection_status_and_times(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    cpo.set_behaviour("locations", status=500, times=2)

    statuses = [emsp.request("GET", "locations").status_code for _ in range(3)]

    assert statuses == [500, 500, 200]
    assert len(cpo.requests_to("locations", "GET")) == 3
    cpo.set_behaviour("/ocpi/2.2.1/locations", envelope={"status_code": 2001}, http_status=400)
    response = emsp.request("GET", "locations")
    assert (response.status_code, response.json()) == (400, {"status_code": 2001})
    cpo.set_behaviour(None, raw_body=b"<html>bad gateway</html>", status=502)
    assert emsp.request("GET", "locations").text == "<html>bad gateway</html>"
    cpo.reset_behaviour()
    assert emsp.request("GET", "locations").status_code == 200


def test_fault_injection_delay_close_and_redirect(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    cpo.set_behaviour("locations", delay=0.3, times=1)
    started = time.monotonic()
    assert emsp.request("GET", "locations").status_code == 200
    assert time.monotonic() - started >= 0.3

    cpo.set_behaviour("locations", delay=2.0, times=1)
    with pytest.raises(httpx.ReadTimeout):
        emsp.request("GET", "locations", timeout=0.2)

    cpo.set_behaviour("locations", close_connection=True, times=1)
    with pytest.raises(httpx.RemoteProtocolError):
        emsp.request("GET", "locations")
    assert cpo.received[-1].response_status == 0

    cpo.set_behaviour("locations", redirect_to=cpo.versions_url, times=1)
    redirected = emsp.request("GET", "locations")
    assert redirected.status_code == 307
    assert redirected.headers["Location"] == cpo.versions_url


def test_commands_and_token_authorization_defaults(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    command = emsp.request("POST", "commands/START_SESSION", json={"response_url": "x"})
    assert command.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    cpo.set_reply("commands", {"result": "REJECTED", "timeout": 30})
    rejected = emsp.request("POST", "commands/STOP_SESSION", json={"session_id": "S1"})
    assert rejected.json()["data"]["result"] == "REJECTED"
    assert cpo.stored_object("commands", "STOP_SESSION") == {"session_id": "S1"}

    # The CPO asks the eMSP (its "hub") for an authorization: known tokens are ALLOWED.
    emsp.set_objects("tokens", [{"uid": "T1", "type": "RFID", "valid": True}])
    allowed = cpo.request("POST", "tokens/T1/authorize", params={"type": "RFID"})
    assert allowed.json()["data"]["allowed"] == "ALLOWED"
    unknown = cpo.request("POST", "tokens/T2/authorize")
    assert unknown.status_code == 404 and unknown.json()["status_code"] == 2004


def test_wait_for_times_out_and_stop_is_bounded() -> None:
    partner = SimulatedPartner(name="lonely").start()
    other = SimulatedPartner(name="other").start()
    try:
        assert partner.port != other.port
        with pytest.raises(TimeoutError):
            partner.wait_for(lambda r: True, timeout=0.1)
        partner.set_behaviour(None, delay=30)
        with pytest.raises(httpx.ReadTimeout):
            other.request("GET", partner.versions_url, token=partner.token_a, timeout=0.2)
        partner.wait_for(lambda r: r.path == "/ocpi/versions", timeout=2, answered=False)
    finally:
        started = time.monotonic()
        partner.stop()
        other.stop()
    assert time.monotonic() - started < 5
    with pytest.raises(RuntimeError):
        _ = partner.base_url


def test_location_trees_apply_evse_and_connector_changes(cpo_server: SimulatedPartner) -> None:
    # given: an eMSP that holds locations as trees, with the CPO registered to push to it
    with SimulatedPartner(roles=[EMSP_ROLE], name="emsp", location_trees=True) as emsp:
        cpo_server.register_with(emsp.versions_url, emsp.token_a)
        url = emsp.module_url("locations", "NL", "SIM", "LOC1")
        location = {
            "id": "LOC1",
            "evses": [{"uid": "E1", "status": "AVAILABLE", "connectors": [{"id": "1"}]}],
            "last_updated": "2024-01-01T00:00:00Z",
        }
        assert cpo_server.request("PUT", url, json=location).json()["status_code"] == 1000
        # when: an EVSE PATCH, a connector PATCH and a PUT of a new EVSE
        evse = {"status": "CHARGING", "last_updated": "2024-01-01T00:05:00Z"}
        patched = cpo_server.request("PATCH", f"{url}/E1", json=evse)
        plug = cpo_server.request("PATCH", f"{url}/E1/1", json={"max_amperage": 16})
        added = cpo_server.request("PUT", f"{url}/E2", json={"uid": "E2", "status": "BLOCKED"})
        # then: each changed the one location
        assert [r.json()["status_code"] for r in (patched, plug, added)] == [1000] * 3
        held = emsp.stored_object("locations", "NL", "SIM", "LOC1")
        assert held["evses"] == [
            {
                "uid": "E1",
                "status": "CHARGING",
                "connectors": [{"id": "1", "max_amperage": 16}],
                "last_updated": "2024-01-01T00:05:00Z",
            },
            {"uid": "E2", "status": "BLOCKED"},
        ]
        assert held["last_updated"] == "2024-01-01T00:05:00Z"
        assert emsp.stored_object("locations", "NL", "SIM", "LOC1", "E1") is None
        # bad paths: an unknown EVSE, an unknown location, a body that is not an object
        unknown = cpo_server.request("PATCH", f"{url}/E9", json=evse)
        assert (unknown.status_code, unknown.json()["status_code"]) == (404, 2003)
        nowhere = cpo_server.request("PATCH", f"{url[:-4]}LOC9/E1", json=evse)
        assert (nowhere.status_code, nowhere.json()["status_code"]) == (404, 2003)
        not_object = cpo_server.request("PATCH", f"{url}/E1", json=["CHARGING"])
        assert not_object.json()["status_code"] == 2001
        assert emsp.stored_object("locations", "NL", "SIM", "LOC1") == held


def test_without_location_trees_an_evse_patch_is_unknown(
    emsp_with_cpo: tuple[SimulatedPartner, SimulatedPartner],
) -> None:
    emsp, cpo = emsp_with_cpo
    url = cpo.module_url("locations", "NL", "SIM", "LOC1")
    # (here the eMSP pushes to the CPO's endpoint: the default partner stores by URL)
    emsp.request("PUT", url, json={"id": "LOC1", "evses": [{"uid": "E1"}]})
    answer = emsp.request("PATCH", f"{url}/E1", json={"status": "CHARGING"})
    assert (answer.status_code, answer.json()["status_code"]) == (404, 2003)


def test_registration_carries_one_correlation_id(
    hub: SimulatedPartner, cpo_server: SimulatedPartner
) -> None:
    cpo_server.register_with(hub.versions_url, hub.token_a, correlation_id="corr-handshake")
    handshake = [r for r in hub.received if r.path.startswith("/ocpi")]
    assert [(r.method, r.path) for r in handshake] == [
        ("GET", "/ocpi/versions"),
        ("GET", "/ocpi/2.2.1"),
        ("POST", "/ocpi/2.2.1/credentials"),
    ]
    assert {r.headers["X-Correlation-ID"] for r in handshake} == {"corr-handshake"}


def test_a_command_result_at_the_response_url_gets_a_plain_success(
    hub: SimulatedPartner,
) -> None:
    # given: an eMSP the hub registered with (the eMSP serves commands as SENDER)
    with SimulatedPartner(roles=[EMSP_ROLE], name="emsp") as emsp:
        hub.register_with(emsp.versions_url, emsp.token_a)
        result = {"result": "ACCEPTED"}
        # when: the hub relays a CommandResult to the eMSP's response_url
        answer = hub.request(
            "POST", emsp.module_url("commands", "START_SESSION", "u1"), json=result
        )
        # then: a plain success (a CommandResponse answers only the command itself), kept
        assert answer.json()["status_code"] == 1000
        assert answer.json()["data"] is None
        assert emsp.stored_object("commands", "START_SESSION", "u1") == result
