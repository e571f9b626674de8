"""Direct routing does not reach another eMSP's session (issue 10 defect 2;
`hub.services.routing.async_results.session_of_another_owner`, used by `command_send` and
`charging_profile_request`).

With TO = a CPO, a STOP_SESSION or a charging-profile GET/SET/CLEAR used to be forwarded
whatever the session: an eMSP could stop, read or reshape the charging of another eMSP's
driver at that CPO (the CPO sees the hub's token and an eMSP FROM). When the hub holds that
session for another eMSP's token, the request is answered as for an unknown session, as
charging preferences already were, and nothing reaches the CPO. The token owner itself is
still forwarded (the control), and a session the hub does not hold still goes to the CPO.
"""

from typing import Any

import pytest

from hub.models import Session
from tests.cpo_gateway.api.test_sessions import session
from tests.security.conftest import snapshot
from tests.security.routed import Member, Roaming

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RESPONSE_URL = "https://emsp.example.com/ocpi/emsp/2.2.1/results/r1"
PROFILE = {
    "charging_profile": {"charging_rate_unit": "W", "charging_profile_period": []},
    "response_url": RESPONSE_URL,
}


def stored_session(world: Roaming) -> str:
    """CP1's session of a DE*MS1 token, put to the hub by CP1 (pushes then forgotten)."""
    data = session(owner=("DE", "MS1"))
    response = world.call(
        world.cp1, "PUT", f"/ocpi/2.2.1/cpo/sessions/NL/CP1/{data['id']}", json=data
    )
    assert response.status_code in (200, 201), response.content
    assert Session.objects.filter(session_id=data["id"].upper()).exists()
    for server in world.servers:
        server.clear_received()
    return str(data["id"])


def request(world: Roaming, who: Member, kind: str, session_id: str) -> Any:
    profiles = f"/ocpi/2.2.1/emsp/chargingprofiles/{session_id}"
    if kind == "STOP_SESSION":
        body = {"response_url": RESPONSE_URL, "session_id": session_id}
        return world.call(
            who, "POST", "/ocpi/2.2.1/emsp/commands/STOP_SESSION", to=world.cp1, json=body
        )
    if kind == "profile-GET":
        query = {"duration": "60", "response_url": RESPONSE_URL}
        return world.call(who, "GET", profiles, to=world.cp1, query=query)
    if kind == "profile-SET":
        return world.call(who, "PUT", profiles, to=world.cp1, json=PROFILE)
    return world.call(who, "DELETE", profiles, to=world.cp1, query={"response_url": RESPONSE_URL})


KINDS = ["STOP_SESSION", "profile-GET", "profile-SET", "profile-CLEAR"]


@pytest.mark.parametrize("kind", KINDS)
def test_another_emsps_session_is_unknown_with_to_and_nothing_is_sent(
    roaming: Roaming, kind: str
) -> None:
    session_id = stored_session(roaming)
    before = snapshot()
    # when: MS2 names CP1 in TO and MS1's session
    response = request(roaming, roaming.ms2, kind, session_id)
    # then: the hub's UNKNOWN_SESSION, nothing reaches CP1, nothing stored
    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, 1000), body
    assert body["data"]["result"] == "UNKNOWN_SESSION"
    assert "DE*MS1" not in response.content.decode() and "MS1" not in body.get("status_message", "")
    assert roaming.received() == []
    assert snapshot() == before


@pytest.mark.parametrize("kind", KINDS)
def test_the_token_owner_is_still_forwarded(roaming: Roaming, kind: str) -> None:
    session_id = stored_session(roaming)
    request(roaming, roaming.ms1, kind, session_id)
    assert len(roaming.cp1.server.received) == 1  # type: ignore[union-attr]


def test_a_session_the_hub_does_not_hold_still_goes_to_the_named_cpo(roaming: Roaming) -> None:
    """The hub only knows the sessions routed through it: TO lets the CPO decide for others."""
    request(roaming, roaming.ms2, "STOP_SESSION", "ELSEWHERE-1")
    assert [r.path for r in roaming.cp1.server.received] == [  # type: ignore[union-attr]
        "/ocpi/2.2.1/commands/STOP_SESSION"
    ]
