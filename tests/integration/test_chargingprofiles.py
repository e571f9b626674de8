"""Charging profiles through the live hub with simulated partners and a real Celery worker
(2.2.1 mod_charging_profiles): SET/GET/DELETE reach the session's CPO with hub response_urls,
the CPO's results reach the eMSP's own URLs, and the CPO's ActiveChargingProfile updates reach
the eMSP that set the profile."""

from collections.abc import Iterator
from contextlib import ExitStack
from typing import Any

import pytest

from hub.models import AsyncRequest, AsyncState
from partners.ocpi import envelope
from partners.simulated import SimulatedPartner
from tests.emsp_gateway.api.test_chargingprofiles import active_profile, set_profile
from tests.emsp_gateway.api.test_commands import store_session
from tests.integration.hubnet import connect, role

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

CPO_MODULES = [("credentials", "SENDER"), ("chargingprofiles", "RECEIVER")]
EMSP_MODULES = [("credentials", "SENDER"), ("chargingprofiles", "SENDER")]
ACCEPTED = {"result": "ACCEPTED", "timeout": 30}


@pytest.fixture
def net(hub_url: str, celery_worker_process: Any) -> Iterator[tuple[Any, Any]]:
    with ExitStack() as stack:
        cpo = stack.enter_context(
            SimulatedPartner(roles=[role("CPO", "NL", "CP1")], modules=CPO_MODULES)
        )
        emsp = stack.enter_context(
            SimulatedPartner(roles=[role("EMSP", "DE", "MS1")], modules=EMSP_MODULES)
        )
        connect(cpo, "CPO 1")
        connect(emsp, "eMSP 1")
        yield cpo, emsp


def test_set_get_clear_and_active_profile_updates(net: tuple[Any, Any], hub_url: str) -> None:
    cpo, emsp = net
    store_session("SES1", cpo=("NL", "CP1"), emsp=("DE", "MS1"))
    cpo.set_reply("chargingprofiles", ACCEPTED, method="PUT")
    hub_results = f"{hub_url}/ocpi/2.2.1/cpo/chargingprofiles/results/"
    # when: the eMSP sets a profile (PUT, response_url in the body)
    set_url = emsp.module_url("chargingprofiles", "set", "1")
    body = {**set_profile(), "response_url": set_url}
    response = emsp.request("PUT", "chargingprofiles/SES1", role="RECEIVER", json=body)
    # then: the CPO's ChargingProfileResponse is relayed, the CPO got a hub response_url
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == ACCEPTED
    (put,) = cpo.requests_to("/ocpi/2.2.1/chargingprofiles/SES1", method="PUT")
    assert put.json["charging_profile"] == body["charging_profile"]
    assert put.json["response_url"].startswith(hub_results)
    assert put.headers["OCPI-from-party-id"] == "MS1"
    # when: the CPO posts the ChargingProfileResult
    posted = cpo.request("POST", put.json["response_url"], json={"result": "ACCEPTED"})
    assert posted.json()["status_code"] == 1000
    # then: it reaches the eMSP's own URL
    got = emsp.wait_for(lambda r: r.path == "/ocpi/2.2.1/chargingprofiles/set/1", timeout=20)
    assert got.json == {"result": "ACCEPTED"}
    assert got.headers["OCPI-from-party-id"] == "CP1"

    # when: the eMSP asks for the ActiveChargingProfile (GET, URL parameters)
    cpo.set_behaviour(
        "/ocpi/2.2.1/chargingprofiles/SES1", method="GET", envelope=envelope(ACCEPTED)
    )
    get_url = emsp.module_url("chargingprofiles", "get", "2")
    response = emsp.request(
        "GET",
        "chargingprofiles/SES1",
        role="RECEIVER",
        params={"duration": "900", "response_url": get_url},
    )
    assert response.json()["data"] == ACCEPTED
    (get,) = cpo.requests_to("/ocpi/2.2.1/chargingprofiles/SES1", method="GET")
    assert get.param("duration") == "900"
    assert (get.param("response_url") or "").startswith(hub_results)
    result = {"result": "ACCEPTED", "profile": active_profile()}
    cpo.request("POST", get.param("response_url") or "", json=result)
    got = emsp.wait_for(lambda r: r.path == "/ocpi/2.2.1/chargingprofiles/get/2", timeout=20)
    assert got.json == result

    # when: the CPO's active profile changes, it PUTs it to the hub (Sender interface)
    update = active_profile()
    response = cpo.request("PUT", "chargingprofiles/SES1", role="SENDER", json=update)
    # then: forwarded to the eMSP that set the profile, answered as it answers
    assert response.json()["status_code"] == 1000
    (pushed,) = emsp.requests_to("/ocpi/2.2.1/chargingprofiles/SES1", method="PUT")
    assert pushed.json == update
    assert pushed.headers["OCPI-from-party-id"] == "CP1"
    assert pushed.headers["OCPI-to-party-id"] == "MS1"

    # when: the eMSP clears the profile (DELETE) and the CPO refuses
    cpo.set_behaviour(
        "/ocpi/2.2.1/chargingprofiles/SES1",
        method="DELETE",
        envelope=envelope({"result": "REJECTED", "timeout": 0}),
    )
    clear_url = emsp.module_url("chargingprofiles", "clear", "3")
    response = emsp.request(
        "DELETE", "chargingprofiles/SES1", role="RECEIVER", params={"response_url": clear_url}
    )
    # then: the refusal is relayed and no result is expected
    assert response.json()["data"] == {"result": "REJECTED", "timeout": 0}
    (delete,) = cpo.requests_to("/ocpi/2.2.1/chargingprofiles/SES1", method="DELETE")
    assert (delete.param("response_url") or "").startswith(hub_results)
    states = dict(AsyncRequest.objects.values_list("operation", "state"))
    assert states == {
        "SET": AsyncState.RESULT_RECEIVED,
        "GET": AsyncState.RESULT_RECEIVED,
        "CLEAR": AsyncState.REFUSED,
    }
