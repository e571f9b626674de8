"""Commands through the live hub with simulated partners and a real Celery worker (2.2.1
mod_commands; DESIGN §3 "response_url"): the CPO sees only hub URLs, its synchronous answer
comes back to the eMSP, and its result reaches the eMSP's own URL once — or a TIMEOUT does."""

import time
from typing import Any

import pytest

from hub.models import AsyncRequest, AsyncState, TokenOwner
from hub.services.routing.async_results import async_requests_expire
from tests.emsp_gateway.api.test_commands import start_session, store_location, store_session
from tests.integration.hubnet import network

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CORRELATION = {"X-Correlation-ID": "corr-commands-1"}


@pytest.fixture
def net(hub_url: str, celery_worker_process: Any) -> Any:
    with network(cpos=2, emsps=1) as parties:
        yield parties


@pytest.fixture
def net_without_worker(hub_url: str) -> Any:
    with network(cpos=2, emsps=1) as parties:
        yield parties


def send(emsp: Any, command: str, body: dict[str, Any], **kwargs: Any) -> Any:
    return emsp.request(
        "POST", f"commands/{command}", role="RECEIVER", json=body, headers=CORRELATION, **kwargs
    )


@pytest.mark.worker
def test_start_session_result_reaches_the_emsp_url_once(net: Any, hub_url: str) -> None:
    (cpo1, _), (cpo2, _) = net["cpos"]
    ((emsp, _),) = net["emsps"]
    store_location("NL", "CP1", "LOC1")
    own_url = emsp.module_url("commands", "START_SESSION", "app-7")
    body = start_session(response_url=own_url)
    # when: the eMSP sends START_SESSION without TO (open routing by location)
    response = send(emsp, "START_SESSION", body)
    # then: the CPO's synchronous CommandResponse comes back
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30}
    # and the CPO owning LOC1 got the command with a hub response_url, from the eMSP
    (received,) = cpo1.requests_to("/ocpi/2.2.1/commands/START_SESSION", method="POST")
    hub_result_url = received.json["response_url"]
    assert hub_result_url.startswith(f"{hub_url}/ocpi/2.2.1/cpo/commands/START_SESSION/")
    assert received.json == {**body, "response_url": hub_result_url}
    assert received.headers["OCPI-from-country-code"] == "DE"
    assert received.headers["OCPI-from-party-id"] == "MS1"
    assert received.headers["OCPI-to-party-id"] == "CP1"
    assert received.headers["X-Correlation-ID"] == CORRELATION["X-Correlation-ID"]
    assert not cpo2.requests_to("/ocpi/2.2.1/commands")
    assert TokenOwner.objects.filter(uid="TOK1", party_id="MS1", source="COMMAND").exists()
    # when: another CPO tries to post a result to that URL
    forged = cpo2.request("POST", hub_result_url, json={"result": "FAILED"})
    assert forged.status_code == 404
    # when: the CPO posts its result (twice: a retry)
    result = {"result": "ACCEPTED", "message": [{"language": "en", "text": "Started"}]}
    for _ in range(2):
        posted = cpo1.request(
            "POST", hub_result_url, json=result, from_party=("NL", "CP1"), to_party=("DE", "MS1")
        )
        assert posted.json()["status_code"] == 1000
    # then: the eMSP's own URL gets it, from the CPO, once
    path = "/ocpi/2.2.1/commands/START_SESSION/app-7"
    relayed = emsp.wait_for(lambda r: r.path == path, timeout=20)
    assert relayed.method == "POST"
    assert relayed.json == result
    assert relayed.headers["OCPI-from-party-id"] == "CP1"
    assert relayed.headers["OCPI-to-party-id"] == "MS1"
    assert relayed.headers["X-Correlation-ID"] == CORRELATION["X-Correlation-ID"]
    time.sleep(1.0)
    assert len(emsp.requests_to(path)) == 1
    assert AsyncRequest.objects.get().state == AsyncState.RESULT_RECEIVED


@pytest.mark.worker
def test_command_without_result_gets_timeout_and_a_refusal_is_relayed(
    net: Any, settings: Any
) -> None:
    (cpo1, _), _ = net["cpos"]
    ((emsp, _),) = net["emsps"]
    settings.OCPI_COMMAND_TIMEOUT_MARGIN_S = 0
    store_location("NL", "CP1", "LOC1")
    unlock = {"location_id": "LOC1", "evse_uid": "EVSE1", "connector_id": "1"}
    # given: the CPO refuses a first command
    cpo1.set_reply("commands", {"result": "REJECTED", "timeout": 0})
    url = emsp.module_url("commands", "UNLOCK_CONNECTOR", "u1")
    refused = send(emsp, "UNLOCK_CONNECTOR", {**unlock, "response_url": url})
    assert refused.json()["data"]["result"] == "REJECTED"
    assert AsyncRequest.objects.get().state == AsyncState.REFUSED
    # when: it accepts a second one with a 0 s timeout, and never posts a result
    cpo1.set_reply("commands", {"result": "ACCEPTED", "timeout": 0})
    url = emsp.module_url("commands", "UNLOCK_CONNECTOR", "u2")
    accepted = send(emsp, "UNLOCK_CONNECTOR", {**unlock, "response_url": url})
    assert accepted.json()["data"] == {"result": "ACCEPTED", "timeout": 0}
    assert async_requests_expire()["timed_out"] == 1  # what the beat task runs
    # then: the eMSP's URL gets a TIMEOUT result from the hub, once
    path = "/ocpi/2.2.1/commands/UNLOCK_CONNECTOR/u2"
    relayed = emsp.wait_for(lambda r: r.path == path, timeout=20)
    assert relayed.json["result"] == "TIMEOUT"
    assert relayed.headers["OCPI-from-party-id"] == "HUB"
    # and the CPO's late result is refused
    forwarded = cpo1.requests_to("/ocpi/2.2.1/commands/UNLOCK_CONNECTOR")[-1]
    late = cpo1.request("POST", forwarded.json["response_url"], json={"result": "ACCEPTED"})
    assert late.json()["status_code"] == 2001
    time.sleep(1.0)
    assert len(emsp.requests_to(path)) == 1
    assert not emsp.requests_to("/ocpi/2.2.1/commands/UNLOCK_CONNECTOR/u1")


def test_stop_session_goes_to_the_cpo_of_the_session(
    net_without_worker: Any, settings: Any
) -> None:
    (cpo1, _), (cpo2, _) = net_without_worker["cpos"]
    ((emsp, _),) = net_without_worker["emsps"]
    # given: the hub stored session SES9 of NL*CP2 for a token of DE*MS1
    store_session("SES9", cpo=("NL", "CP2"), emsp=("DE", "MS1"))
    url = emsp.module_url("commands", "STOP_SESSION", "s1")
    # when
    response = send(emsp, "STOP_SESSION", {"response_url": url, "session_id": "ses9"})
    # then: only NL*CP2 got it
    assert response.json()["data"]["result"] == "ACCEPTED"
    (received,) = cpo2.requests_to("/ocpi/2.2.1/commands/STOP_SESSION")
    assert received.json["session_id"] == "ses9"
    assert received.headers["OCPI-to-party-id"] == "CP2"
    assert not cpo1.requests_to("/ocpi/2.2.1/commands")
    # and with TO the eMSP reaches a CPO the hub would not have picked
    response = send(
        emsp,
        "STOP_SESSION",
        {"response_url": url, "session_id": "OTHER"},
        to_party=("NL", "CP1"),
    )
    assert response.json()["data"]["result"] == "ACCEPTED"
    assert len(cpo1.requests_to("/ocpi/2.2.1/commands/STOP_SESSION")) == 1
    # when: the CPO's synchronous answer is lost (it answers later than the hub waits)
    settings.OCPI_FORWARD_TIMEOUT_S = 0.5
    cpo2.set_behaviour("/ocpi/2.2.1/commands", delay=1.5)
    response = send(emsp, "STOP_SESSION", {"response_url": url, "session_id": "SES9"})
    # then: 4002, and the hub still waits for a result: the command may have reached the
    # charge point, and a result (or the hub's TIMEOUT) tells the eMSP what happened
    assert response.json()["status_code"] == 4002
    row = AsyncRequest.objects.order_by("-created_at").first()
    assert row is not None
    assert row.state == AsyncState.WAITING
    assert row.expires_at is not None
