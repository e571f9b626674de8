"""START_SESSION through the live hub to an extrawest-ocpi CPO, an independent OCPI 2.2.1
implementation, and its CommandResult back to a simulated eMSP (2.2.1 mod_commands; DESIGN §3
"response_url").

The network: the extrawest CPO NL*EXW registered hub-initiated (`ocpi_connect`) with location
LOC1 seeded in its own store, a simulated eMSP DE*MS1 registered partner-initiated, and a real
Celery worker relaying the result.

Where the library deviates from 2.2.1 (see extrawest/NOTES.md), and what the hub does:
  * its CPO serves `POST .../commands/{command}` but does not list `commands` in its version
    details. The hub forwards only to listed endpoints, so by default the eMSP gets 4001 naming
    the missing interface (nothing is sent); with `OCPI_INFER_COMMANDS_ENDPOINT` on, the hub
    derives the URL from the CPO's locations SENDER URL (`.../locations/` → `.../commands/`);
  * it answers the command with `"data": [CommandResponse]`: the hub reads the one object and
    relays it as an object, as 2.2.1 has it;
  * it posts the CommandResult without routing headers or X-Request-ID: the hub identifies the
    CPO by its token and the request by the URL;
  * it lower-cases the ids it receives (`location_id` "LOC1" is "loc1" in its store).
"""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command
from django.utils import timezone

from hub.models import AsyncRequest, AsyncState, Location
from partners.simulated import SimulatedPartner
from tests.emsp_gateway.api.test_commands import start_session
from tests.integration.hubnet import connect, role
from tests.integration.test_location_broadcast import location
from tests.interop.extrawest_partner import ExtrawestPartner
from tests.worker import wait_until

pytestmark = [pytest.mark.interop, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def net(
    hub_url: str, extrawest_python: str, interop_worker: Any
) -> Iterator[tuple[ExtrawestPartner, SimulatedPartner]]:
    with (
        ExtrawestPartner(role="CPO", country_code="NL", party_id="EXW") as cpo,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS1")]) as emsp,
    ):
        call_command(
            "ocpi_connect", versions_url=cpo.versions_url, token_a=cpo.token_a, name="EXW CPO"
        )
        connect(emsp, "eMSP 1")
        exw_location = {**location(), "party_id": "EXW"}
        cpo.seed("locations", exw_location)
        # The hub's own store knows the location too (as if the CPO had pushed it): open
        # routing finds its CPO.
        Location.objects.create(
            country_code="NL",
            party_id="EXW",
            location_id="LOC1",
            data=exw_location,
            last_updated=timezone.now(),
        )
        yield cpo, emsp


def test_start_session_to_an_extrawest_cpo_and_its_result_back(
    net: tuple[ExtrawestPartner, SimulatedPartner], hub_url: str, settings: Any
) -> None:
    cpo, emsp = net
    own_url = emsp.module_url("commands", "START_SESSION", "xw-1")
    body = start_session(response_url=own_url)
    # when: the CPO does not list its commands endpoint and the hub infers nothing (default)
    response = emsp.request("POST", "commands/START_SESSION", role="RECEIVER", json=body)
    # then: 4001 naming the missing interface; nothing reached the CPO
    assert response.json()["status_code"] == 4001
    assert "commands RECEIVER" in response.json()["status_message"]
    assert cpo.state()["commands"] == []
    assert AsyncRequest.objects.get().state == AsyncState.FAILED

    # when: staff turn the inference on and the eMSP sends the command again
    settings.OCPI_INFER_COMMANDS_ENDPOINT = True
    response = emsp.request("POST", "commands/START_SESSION", role="RECEIVER", json=body)
    # then: the CPO's CommandResponse comes back as an object (it sent [object])
    assert response.json()["status_code"] == 1000
    assert response.json()["data"] == {"result": "ACCEPTED", "timeout": 30, "message": []}
    (received,) = cpo.state()["commands"]
    assert received["command"] == "START_SESSION"
    assert received["data"]["location_id"] == "loc1"
    hub_result_url = received["data"]["response_url"]
    assert hub_result_url.startswith(f"{hub_url}/ocpi/2.2.1/cpo/commands/START_SESSION/")
    # and the CPO's own background task posts the CommandResult to the hub URL, which the hub
    # relays to the eMSP's URL
    relayed = emsp.wait_for(
        lambda r: r.path == "/ocpi/2.2.1/commands/START_SESSION/xw-1", timeout=30
    )
    assert relayed.json == {"result": "ACCEPTED", "message": []}
    assert relayed.headers["OCPI-from-party-id"] == "EXW"
    assert relayed.headers["OCPI-to-party-id"] == "MS1"
    posted = [o for o in cpo.state()["outbound"] if o["url"] == hub_result_url]
    assert [o["status"] for o in posted] == [200]
    assert posted[0]["response"]["status_code"] == 1000
    assert wait_until(
        lambda: AsyncRequest.objects.filter(state=AsyncState.RESULT_RECEIVED).count() == 1
    )
    assert len(emsp.requests_to("/ocpi/2.2.1/commands/START_SESSION/xw-1")) == 1
