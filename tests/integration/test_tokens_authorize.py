"""Tokens end to end through the live hub (2.2.1 mod_tokens; DESIGN §3-5): an eMSP's tokens
reach every CPO through the outbox and a real Celery worker, and a CPO's real-time
authorization is routed to the token's eMSP and its answer relayed."""

import time
from typing import Any

import pytest

from hub.models import Token, TokenOwner
from tests.integration.hubnet import network, routing_headers

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

# Where the simulated partners serve their modules.
CPO_TOKENS = "/ocpi/2.2.1/tokens/DE/MS1"
EMSP_TOKENS = "/ocpi/2.2.1/tokens"


def token(
    uid: str = "TOK1",
    token_type: str = "RFID",
    last_updated: str = "2024-05-01T10:00:00Z",
    **changes: Any,
) -> dict[str, Any]:
    """An eMSP DE*MS1 token (real-time authorization: whitelist NEVER)."""
    return {
        "country_code": "DE",
        "party_id": "MS1",
        "uid": uid,
        "type": token_type,
        "contract_id": f"DE-MS1-{uid}",
        "visual_number": f"DE-MS1-{uid}",
        "issuer": "Mobility Service One",
        "valid": True,
        "whitelist": "NEVER",
        "language": "de",
        "last_updated": last_updated,
        **changes,
    }


@pytest.fixture
def net(hub_url: str) -> Any:
    with network(cpos=2, emsps=1) as parties:
        yield parties


def parties(net: Any) -> tuple[Any, Any, Any]:
    (cpo1, _), (cpo2, _) = net["cpos"]
    ((emsp, _),) = net["emsps"]
    return cpo1, cpo2, emsp


def authorize(cpo: Any, uid: str, **kwargs: Any) -> Any:
    return cpo.request("POST", f"tokens/{uid}/authorize", role="SENDER", **kwargs)


@pytest.mark.worker
def test_emsp_token_put_then_patch_reach_both_cpos(net: Any, celery_worker_process: Any) -> None:
    # given
    cpo1, cpo2, emsp = parties(net)
    headers = routing_headers(frm=("DE", "MS1"))
    app = token("app-42", "APP_USER")
    # when: the eMSP PUTs an RFID and an APP_USER token to the hub (broadcast push)
    first = emsp.request(
        "PUT", "tokens/DE/MS1/TOK1", role="RECEIVER", json=token(), headers=headers
    )
    second = emsp.request(
        "PUT", "tokens/DE/MS1/app-42", role="RECEIVER", json=app, params={"type": "APP_USER"}
    )
    # then: the hub answers at once
    assert (first.status_code, first.json()["status_code"]) == (201, 1000)
    assert (second.status_code, second.json()["status_code"]) == (201, 1000)
    # and both CPOs get both tokens unchanged, at the owner's URL with ?type=, FROM the hub
    for cpo, party in ((cpo1, "CP1"), (cpo2, "CP2")):
        put = cpo.wait_for(
            lambda r: r.method == "PUT" and r.path == f"{CPO_TOKENS}/TOK1", timeout=20
        )
        assert put.json == token()
        assert put.param("type") == "RFID"
        assert (put.headers["OCPI-from-country-code"], put.headers["OCPI-from-party-id"]) == (
            "NL",
            "HUB",
        )
        assert (put.headers["OCPI-to-country-code"], put.headers["OCPI-to-party-id"]) == (
            "NL",
            party,
        )
        assert put.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
        app_put = cpo.wait_for(
            lambda r: r.method == "PUT" and r.path == f"{CPO_TOKENS}/app-42", timeout=20
        )
        assert app_put.param("type") == "APP_USER"
        assert app_put.json == app
    # when: the eMSP invalidates the RFID token with a PATCH
    patch = {"valid": False, "last_updated": "2024-05-02T08:00:00Z"}
    answer = emsp.request("PATCH", "tokens/DE/MS1/TOK1", role="RECEIVER", json=patch)
    assert (answer.status_code, answer.json()["status_code"]) == (200, 1000)
    # then: both CPOs get a PATCH of exactly that, with ?type=
    for cpo in (cpo1, cpo2):
        received = cpo.wait_for(
            lambda r: r.method == "PATCH" and r.path == f"{CPO_TOKENS}/TOK1", timeout=20
        )
        assert received.json == patch
        assert received.param("type") == "RFID"
        assert cpo.stored_object("tokens", "DE", "MS1", "TOK1")["valid"] is False
    # and the hub's copy is invalidated, never deleted
    assert Token.objects.get(uid="TOK1").data == token(**patch)


def test_emsp_put_addressed_to_one_cpo_is_forwarded_to_it_only(net: Any) -> None:
    cpo1, cpo2, emsp = parties(net)
    # when: the eMSP names CP1 in TO
    response = emsp.request(
        "PUT",
        "tokens/DE/MS1/TOK1",
        role="RECEIVER",
        json=token(),
        headers=routing_headers(to=("NL", "CP1"), frm=("DE", "MS1")),
    )
    # then: CP1 answered it synchronously, CP2 never hears of it, the hub stores nothing
    assert (response.status_code, response.json()["status_code"]) == (200, 1000)
    received = cpo1.wait_for(lambda r: r.path == f"{CPO_TOKENS}/TOK1", timeout=5)
    assert received.json == token()
    assert received.headers["OCPI-from-party-id"] == "MS1"
    time.sleep(0.3)
    assert not cpo2.requests_to("tokens")
    assert not Token.objects.exists()
    # but the hub knows who owns the token, for routing its authorizations
    assert TokenOwner.objects.filter(uid="TOK1", party_id="MS1").exists()


def test_cpo_authorize_by_open_routing_allowed(net: Any) -> None:
    # given: the eMSP pushed its token to the hub, and authorizes it
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token()])
    emsp.request("PUT", "tokens/DE/MS1/TOK1", role="RECEIVER", json=token())
    location = {"location_id": "LOC1", "evse_uids": ["EVSE1"]}
    headers = routing_headers(frm=("NL", "CP1"))
    del headers["OCPI-to-country-code"], headers["OCPI-to-party-id"]  # open routing
    # when
    response = authorize(cpo1, "TOK1", json=location, headers=headers)
    # then: the eMSP's AuthorizationInfo, relayed unchanged
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"] == {"allowed": "ALLOWED", "token": token()}
    assert response.headers["X-Request-ID"] == headers["X-Request-ID"]
    assert response.headers["OCPI-from-party-id"] == "MS1"
    assert response.headers["OCPI-to-party-id"] == "CP1"
    # and the eMSP got the CPO's request at its tokens SENDER, with ?type= and the body
    received = emsp.wait_for(lambda r: r.path == f"{EMSP_TOKENS}/TOK1/authorize", timeout=5)
    assert received.method == "POST"
    assert received.param("type") == "RFID"
    assert received.json == location
    assert (received.headers["OCPI-from-party-id"], received.headers["OCPI-to-party-id"]) == (
        "CP1",
        "MS1",
    )
    assert received.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    assert received.headers["X-Request-ID"] != headers["X-Request-ID"]


def test_cpo_authorize_with_to_blocked_and_2002_relayed(net: Any) -> None:
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token("TOK2", "APP_USER")])
    blocked = {"allowed": "BLOCKED", "token": token("TOK2", "APP_USER", valid=False)}
    emsp.set_reply(f"{EMSP_TOKENS}/TOK2/authorize", blocked, method="POST")
    to_emsp = routing_headers(to=("DE", "MS1"))
    # when: the CPO names the eMSP (direct routing; the hub need not know the token)
    response = authorize(cpo1, "TOK2", params={"type": "APP_USER"}, headers=to_emsp)
    # then
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == blocked
    received = emsp.wait_for(lambda r: r.path == f"{EMSP_TOKENS}/TOK2/authorize", timeout=5)
    assert received.param("type") == "APP_USER"
    assert received.body == b""  # no LocationReferences: none sent on
    # when: the eMSP needs LocationReferences
    emsp.set_behaviour(
        f"{EMSP_TOKENS}/TOK2/authorize",
        envelope={
            "status_code": 2002,
            "status_message": "Location needed",
            "timestamp": "2024-05-01T10:00:00Z",
        },
    )
    response = authorize(cpo1, "TOK2", params={"type": "APP_USER"}, headers=to_emsp)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2002
    assert response.json()["status_message"] == "Location needed"


def test_unknown_token_404_2004_relayed(net: Any) -> None:
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token()])
    response = authorize(cpo1, "NOPE", headers=routing_headers(to=("DE", "MS1")))
    assert response.status_code == 404
    assert response.json()["status_code"] == 2004
    # a known uid with another type is unknown too
    response = authorize(
        cpo1, "TOK1", params={"type": "OTHER"}, headers=routing_headers(to=("DE", "MS1"))
    )
    assert (response.status_code, response.json()["status_code"]) == (404, 2004)


def test_slow_emsp_4002_within_the_authorize_timeout(net: Any, settings: Any) -> None:
    settings.OCPI_AUTHORIZE_TIMEOUT_S = 1.0
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token()])
    emsp.set_behaviour(f"{EMSP_TOKENS}/TOK1/authorize", delay=4.0)
    started = time.monotonic()
    response = authorize(cpo1, "TOK1", headers=routing_headers(to=("DE", "MS1")))
    elapsed = time.monotonic() - started
    assert response.status_code == 200
    assert response.json()["status_code"] == 4002
    assert elapsed < 3.0  # the authorize timeout, not the general forward timeout (10 s)


def test_no_owner_known_4001_nothing_sent(net: Any) -> None:
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token()])
    response = authorize(cpo1, "TOK1")  # no TO, and the token was never pushed to the hub
    assert response.json()["status_code"] == 4001
    assert not emsp.requests_to("tokens")


def test_cpo_token_list_addressed_to_the_emsp_goes_to_its_sender(net: Any) -> None:
    cpo1, _, emsp = parties(net)
    emsp.set_objects("tokens", [token("TOK1"), token("TOK2"), token("TOK3")])
    response = cpo1.request(
        "GET",
        "tokens",
        role="SENDER",
        params={"limit": 2},
        headers=routing_headers(to=("DE", "MS1")),
    )
    assert response.json()["status_code"] == 1000
    assert [t["uid"] for t in response.json()["data"]] == ["TOK1", "TOK2"]
    assert response.headers["X-Total-Count"] == "3"
    # the next page is a hub URL, not the eMSP's
    assert "/ocpi/2.2.1/cpo/tokens/page/" in response.headers["Link"]
