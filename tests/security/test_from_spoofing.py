"""Spoofing `OCPI-from-country-code`/`OCPI-from-party-id` on every module family (DESIGN §3: the
FROM party must be one of the authenticated platform's roles). The spoofed party is a party of
another platform or the hub itself; every request is refused with 2001 before anything is
read, stored, queued or forwarded."""

from collections.abc import Callable
from typing import Any

import pytest

from hub.models import OcpiExchange
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.cpo_gateway.api.test_sessions import session
from tests.security.conftest import World, assert_refused, location_of, tariff_of, token_body

pytestmark = pytest.mark.django_db

V = "/ocpi/2.2.1"
SINCE = "?date_from=2024-01-01T00:00:00Z"
UUID = "1b4e28ba-2fa1-11d2-883f-0016d3cca427"
COMMAND = {
    "response_url": "https://emsp.example.com/r/1",
    "token": token_body(("DE", "MS1"), "TOK1"),
    "location_id": "LOC1",
}

# (caller, method, path, body): one call per module family and interface the hub serves.
CALLS: list[tuple[str, str, str, Callable[[], Any]]] = [
    ("cp1", "PUT", "/cpo/locations/NL/CP1/LOC1", lambda: location_of("CP1")),
    ("cp1", "GET", "/cpo/locations/NL/CP1/LOC1", lambda: None),
    ("cp1", "PUT", "/cpo/tariffs/NL/CP1/T1", lambda: tariff_of("CP1")),
    ("cp1", "PUT", "/cpo/sessions/NL/CP1/S-1", lambda: session(id="S-1")),
    ("cp1", "POST", "/cpo/cdrs", lambda: cdr(id="C-9")),
    ("cp1", "GET", "/cpo/tokens", lambda: None),
    ("cp1", "POST", "/cpo/tokens/TOK1/authorize", lambda: None),
    ("cp1", "POST", f"/cpo/commands/START_SESSION/{UUID}", lambda: {"result": "ACCEPTED"}),
    ("cp1", "POST", f"/cpo/chargingprofiles/results/{UUID}", lambda: {"result": "ACCEPTED"}),
    ("cp1", "PUT", "/cpo/chargingprofiles/S-1", lambda: None),
    ("ms1", "GET", "/emsp/locations", lambda: None),
    ("ms1", "GET", "/emsp/tariffs", lambda: None),
    ("ms1", "GET", "/emsp/sessions" + SINCE, lambda: None),
    ("ms1", "GET", "/emsp/cdrs", lambda: None),
    ("ms1", "PUT", "/emsp/tokens/DE/MS1/TOK1", lambda: token_body(("DE", "MS1"), "TOK1")),
    ("ms1", "POST", "/emsp/commands/START_SESSION", lambda: COMMAND),
    ("ms1", "PUT", "/emsp/sessions/S-1/charging_preferences", lambda: {"profile_type": "FAST"}),
    (
        "ms1",
        "GET",
        "/emsp/chargingprofiles/S-1?duration=60&response_url=https://e.x/r",
        lambda: None,
    ),
    ("ms1", "GET", f"/emsp/locations/page/{UUID}", lambda: None),
    ("ms1", "GET", "/hubclientinfo", lambda: None),
    ("ms1", "GET", "/credentials", lambda: None),
    ("ms1", "GET", "", lambda: None),
]
CALL_IDS = [
    f"{caller}-{method}-{path.split('?')[0] or '/details'}" for caller, method, path, _ in CALLS
]


@pytest.mark.parametrize(("caller", "method", "path", "body"), CALLS, ids=CALL_IDS)
@pytest.mark.parametrize("spoofed", ["other-platform", "hub"])
def test_from_naming_a_party_not_of_the_caller_is_2001(
    world: World,
    unchanged: Callable[[], None],
    caller: str,
    method: str,
    path: str,
    body: Callable[[], Any],
    spoofed: str,
) -> None:
    # given: the caller claims to be a party of another platform, or the hub
    me = getattr(world, caller)
    claimed = (
        ("NL", "HUB") if spoofed == "hub" else (world.ms2 if caller == "cp1" else world.cp2).ref
    )
    outbound_before = OcpiExchange.objects.filter(direction="OUT").count()
    # when
    response = world.call(me, method, V + path, json=body(), headers=me.headers(frm=claimed))
    # then: refused, nothing stored and nothing sent to anyone
    assert_refused(response, 200, 2001, f"{claimed[0]}*{claimed[1]} is not a party of the calling")
    assert OcpiExchange.objects.filter(direction="OUT").count() == outbound_before
    unchanged()
