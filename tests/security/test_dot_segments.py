"""Dot segments and slashes in routed ids never leave the receiver's endpoint (issue 10 defect
1; `hub.ocpi.urlpaths`, `hub.services.routing.forwarding.forward_request`).

Once, `GET /ocpi/2.2.1/emsp/locations/%2E%2E/credentials` with TO = a CPO made the hub send
`GET {cpo}/ocpi/2.2.1/credentials` with its own token at that CPO and relay `data.token`. Here
every routed URL pattern of both gateways, at every id position, gets `.`/`..` raw and in
encoded forms (`%2E`, mixed case, double-encoded) and ids holding an encoded slash. The caller
is a real party calling its real counterpart (a `SimulatedPartner` that accepts the hub's
token and would answer): each attempt is refused with an OCPI envelope, nothing reaches either
partner server, no token of the hub is in the answer, and nothing is stored.
"""

from dataclasses import dataclass, field
from typing import Any

import pytest
from django.urls import URLPattern, URLResolver, get_resolver

from hub.api.routed import RoutedViewMixin
from tests.security.conftest import snapshot
from tests.security.routed import Roaming

pytestmark = [pytest.mark.django_db, pytest.mark.integration]

RESPONSE_URL = "http://127.0.0.1:9/ocpi/emsp/2.2.1/chargingprofiles/results/r1"


@dataclass(frozen=True)
class Route:
    """One routed URL pattern: who calls it, to whom it is routed, and a legit example."""

    name: str  # the URL pattern's name
    caller: str  # "ms1" or "cp1"
    to: str
    method: str
    # The example path with its ids; an attack replaces one id (`ids` lists their positions).
    segments: tuple[str, ...]
    ids: tuple[int, ...]
    query: dict[str, str] = field(default_factory=dict)
    body: Any = None

    def path(self, position: int | None = None, value: str = "") -> str:
        parts = list(self.segments)
        if position is not None:
            parts[position] = value
        return "/ocpi/2.2.1/" + "/".join(parts)


E, C = "emsp", "cpo"
# Every routed pattern of both gateways that carries an id (lists have none to abuse; they are
# covered by `..` in place of a list's first id: `locations/..` is the object pattern).
ROUTES = [
    Route("emsp-location", "ms1", "cp1", "GET", (E, "locations", "LOC1"), (2,)),
    Route("emsp-location-evse", "ms1", "cp1", "GET", (E, "locations", "LOC1", "EVSE1"), (2, 3)),
    Route(
        "emsp-location-connector",
        "ms1",
        "cp1",
        "GET",
        (E, "locations", "LOC1", "EVSE1", "1"),
        (2, 3, 4),
    ),
    Route(
        "emsp-chargingprofiles",
        "ms1",
        "cp1",
        "GET",
        (E, "chargingprofiles", "SES1"),
        (2,),
        query={"duration": "60", "response_url": RESPONSE_URL},
    ),
    Route(
        "emsp-chargingprofiles",
        "ms1",
        "cp1",
        "DELETE",
        (E, "chargingprofiles", "SES1"),
        (2,),
        query={"response_url": RESPONSE_URL},
    ),
    Route(
        "emsp-sessions-charging-preferences",
        "ms1",
        "cp1",
        "PUT",
        (E, "sessions", "SES1", "charging_preferences"),
        (2,),
        body={"profile_type": "REGULAR"},
    ),
    Route("emsp-tokens", "ms1", "cp1", "GET", (E, "tokens", "DE", "MS1", "TOK1"), (2, 3, 4)),
    Route("emsp-commands", "ms1", "cp1", "POST", (E, "commands", "STOP_SESSION"), (2,), body={}),
    Route("cpo-locations", "cp1", "ms1", "GET", (C, "locations", "NL", "CP1", "LOC1"), (2, 3, 4)),
    Route(
        "cpo-locations-evse",
        "cp1",
        "ms1",
        "GET",
        (C, "locations", "NL", "CP1", "LOC1", "EVSE1"),
        (4, 5),
    ),
    Route(
        "cpo-locations-connector",
        "cp1",
        "ms1",
        "GET",
        (C, "locations", "NL", "CP1", "LOC1", "EVSE1", "1"),
        (4, 5, 6),
    ),
    Route(
        "cpo-locations",
        "cp1",
        "ms1",
        "PATCH",
        (C, "locations", "NL", "CP1", "LOC1"),
        (4,),
        body={"last_updated": "2024-05-01T10:00:00Z"},
    ),
    Route("cpo-tariffs", "cp1", "ms1", "GET", (C, "tariffs", "NL", "CP1", "T1"), (2, 3, 4)),
    Route("cpo-tariffs", "cp1", "ms1", "DELETE", (C, "tariffs", "NL", "CP1", "T1"), (4,)),
    Route("cpo-sessions", "cp1", "ms1", "GET", (C, "sessions", "NL", "CP1", "SES1"), (2, 3, 4)),
    Route(
        "cpo-tokens-authorize",
        "cp1",
        "ms1",
        "POST",
        (C, "tokens", "TOK1", "authorize"),
        (2,),
        query={"type": "RFID"},
    ),
    Route(
        "cpo-chargingprofiles",
        "cp1",
        "ms1",
        "PUT",
        (C, "chargingprofiles", "SES1"),
        (2,),
        body={"start_date_time": "2024-05-01T10:00:00Z", "charging_profile": {}},
    ),
]

# What an attacker puts in place of one id, as written in the request URL. The test client
# percent-decodes the path once, as a WSGI server does, so `%2E%2E` arrives as `..`,
# `%252E%252E` as `%2E%2E`, and `%2F` splits the id into segments.
ATTACKS = {
    "dotdot": "..",
    "dot": ".",
    "encoded-dotdot": "%2E%2E",
    "lower-mixed": "%2e%2E",
    "half-encoded": ".%2e",
    "encoded-dot": "%2E",
    "double-encoded": "%252E%252E",
    "double-encoded-mixed": "%252e.",
    "dotdot-then-credentials": "%2E%2E/credentials",
    "escape-to-module-root": "..%2F..%2Fcredentials",
    "encoded-slash-in-id": "LOC1%2F..%2F..%2Fcredentials",
    "double-encoded-slash": "LOC1%252F..%252Fcredentials",
    "backslash": "..%5Ccredentials",
}

# One test per (pattern, id position), every attack in it: a routed world costs two partner
# servers and two registrations, too dear per attack.
CASES = [
    pytest.param(route, position, id=f"{route.method}-{route.name}-{position}")
    for route in ROUTES
    for position in route.ids
]


def _member(world: Roaming, name: str) -> Any:
    return getattr(world, name)


def send(world: Roaming, route: Route, path: str) -> Any:
    return world.call(
        _member(world, route.caller),
        route.method,
        path,
        to=_member(world, route.to),
        query=route.query or None,
        json=route.body,
    )


def assert_refused_untouched(world: Roaming, response: Any, before: list[Any]) -> None:
    body = response.json()
    assert set(body) >= {"status_code", "timestamp"}, body
    assert body["status_code"] != 1000 and body.get("data") in (None, [], {}), body
    assert world.received() == [], "a partner was reached"
    assert world.leaked(response) == []
    assert snapshot() == before


@pytest.mark.parametrize(("route", "position"), CASES)
def test_dot_segment_id_is_refused_and_nothing_is_sent(
    roaming: Roaming, route: Route, position: int
) -> None:
    before = snapshot()
    for name, attack in ATTACKS.items():
        # when
        response = send(roaming, route, route.path(position, attack))
        # then: an OCPI refusal (2001 for the id, or 404 for a URL that matches no pattern)
        assert response.status_code in (200, 400, 404), (name, response.content)
        assert_refused_untouched(roaming, response, before)


@pytest.mark.parametrize(
    "route",
    [pytest.param(r, id=f"{r.method}-{r.name}") for r in ROUTES if r.method == "GET"],
)
def test_plain_ids_do_reach_the_receiver_below_its_endpoint(roaming: Roaming, route: Route) -> None:
    """The control: the same calls with plain ids are forwarded, to the path below the
    endpoint, so the refusals above are the ids' doing."""
    send(roaming, route, route.path())
    receiver = _member(roaming, route.to).server
    (received,) = receiver.received
    assert received.path == "/ocpi/2.2.1/" + "/".join(route.segments[1:])


def test_the_reported_attack_leaks_no_credentials(roaming: Roaming) -> None:
    """The report: an eMSP's `GET locations/%2E%2E/credentials` routed to a CPO."""
    before = snapshot()
    response = roaming.call(
        roaming.ms1, "GET", "/ocpi/2.2.1/emsp/locations/%2E%2E/credentials", to=roaming.cp1
    )
    assert (response.status_code, response.json()["status_code"]) == (404, 2001)
    assert "location_id" in response.json()["status_message"]
    assert_refused_untouched(roaming, response, before)


def test_an_id_with_percent_signs_that_decode_to_nothing_dangerous_is_forwarded_encoded(
    roaming: Roaming,
) -> None:
    """Ids are quoted with nothing safe: `%`, `?` and `#` stay inside the id at the receiver."""
    roaming.call(roaming.ms1, "GET", "/ocpi/2.2.1/emsp/locations/A%2541%3Fx%23y", to=roaming.cp1)
    (received,) = roaming.cp1.server.received  # type: ignore[union-attr]
    assert received.target.startswith("/ocpi/2.2.1/locations/A%2541%3Fx%23y")


def _routed_patterns() -> set[str]:
    names: set[str] = set()

    def walk(patterns: list[URLPattern | URLResolver]) -> None:
        for pattern in patterns:
            if isinstance(pattern, URLResolver):
                walk(pattern.url_patterns)
                continue
            view = getattr(pattern.callback, "view_class", None)
            if (
                view is not None
                and issubclass(view, RoutedViewMixin)
                and pattern.pattern.converters
                and pattern.name
            ):
                names.add(pattern.name)

    walk(get_resolver().url_patterns)
    return names


def test_every_routed_pattern_with_an_id_is_attacked() -> None:
    """A new routed URL pattern with an id must join ROUTES."""
    assert _routed_patterns() <= {route.name for route in ROUTES}


@pytest.mark.parametrize(
    "path",
    [
        "/ocpi/2.2.1/cpo/tariffs/..%2F../CP1/X",
        "/ocpi/2.2.1/emsp/locations/%2E%2E%2F%2E%2E/credentials",
        "/ocpi/2.2.1/cpo/..%2Fcredentials",
    ],
)
def test_a_path_whose_dot_segments_leave_every_route_gets_an_envelope(
    roaming: Roaming, path: str
) -> None:
    # Decoded once, these name no route or a route that takes no PUT: the answer is an OCPI
    # envelope (before, the catch-all answered an HTML CSRF 403 to a PUT), nothing is sent.
    before = snapshot()
    response = roaming.call(roaming.cp1, "PUT", path, to=roaming.ms1, json={})
    assert response.status_code in (404, 405), response.content
    assert_refused_untouched(roaming, response, before)
