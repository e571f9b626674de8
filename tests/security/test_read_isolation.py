"""Reading what belongs to another party: an eMSP reads another eMSP's sessions, CDRs and
tokens; a CPO reads what only eMSPs or another CPO may see (DESIGN §7). Each read is refused,
or answers without a single object of the other party, and changes nothing."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.security.conftest import World, assert_refused, location_of

pytestmark = pytest.mark.django_db

SINCE = {"date_from": "2024-01-01T00:00:00Z"}
SESSIONS = "/ocpi/2.2.1/emsp/sessions"
CDRS = "/ocpi/2.2.1/emsp/cdrs"


def ids(response: Any) -> set[str]:
    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, 1000), body
    return {item["id"] for item in body["data"]}


@pytest.mark.parametrize(("path", "query", "prefix"), [(SESSIONS, SINCE, "S"), (CDRS, {}, "C")])
def test_emsp_list_shows_only_its_own_sessions_and_cdrs(
    world: World, unchanged: Callable[[], None], path: str, query: dict[str, str], prefix: str
) -> None:
    # when: each eMSP lists sessions / CDRs via the hub
    mine = world.call(world.ms1, "GET", path, query=query)
    theirs = world.call(world.ms2, "GET", path, query=query)
    # then: S-1/C-1 only for MS1, S-2/C-2 only for MS2, and the other's token never shows
    assert ids(mine) == {f"{prefix}-1"}
    assert ids(theirs) == {f"{prefix}-2"}
    assert b"DE-MS2" not in mine.content and b"TOK2" not in mine.content
    unchanged()


@pytest.mark.parametrize(("path", "query"), [(SESSIONS, SINCE), (CDRS, {})])
@pytest.mark.parametrize(
    ("header", "code", "words"),
    [
        # MS1 names MS2 as the FROM party of its GET
        ("frm", 2001, ("DE*MS2 is not a party of the calling platform",)),
        # MS1 sends its GET to MS2 (TO = DE*MS2): an eMSP is no sessions/CDRs sender
        ("to", 4001, ("DE*MS2", "SENDER")),
    ],
)
def test_emsp_list_via_routing_headers_naming_another_emsp_is_refused(
    world: World,
    unchanged: Callable[[], None],
    path: str,
    query: dict[str, str],
    header: str,
    code: int,
    words: tuple[str, ...],
) -> None:
    # when
    headers = world.ms1.headers(**{header: world.ms2.ref})
    response = world.call(world.ms1, "GET", path, query=query, headers=headers)
    # then: refused, nothing of MS2 in the answer
    assert_refused(response, 200, code, *words)
    unchanged()


@pytest.mark.parametrize(
    ("header", "http_status", "words"),
    [
        (None, 404, "DE*MS2 is not a EMSP party of the calling platform"),
        ("frm", 200, "OCPI-from-country-code/OCPI-from-party-id: DE*MS2 is not a party of the"),
        ("to", 404, "DE*MS2 is not a EMSP party of the calling platform"),
    ],
    ids=["direct", "from-ms2", "to-ms2"],
)
def test_emsp_get_one_token_of_another_emsp_is_refused(
    world: World, unchanged: Callable[[], None], header: str | None, http_status: int, words: str
) -> None:
    # when: MS1 reads MS2's token, directly, with FROM = MS2 or routed to MS2
    headers = world.ms1.headers(**{header: world.ms2.ref}) if header else {}
    response = world.call(world.ms1, "GET", "/ocpi/2.2.1/emsp/tokens/DE/MS2/TOK2", headers=headers)
    # then
    assert_refused(response, http_status, 2001, words)
    unchanged()


@pytest.mark.parametrize(
    ("path", "http_status", "ocpi_status", "words"),
    [
        ("/ocpi/2.2.1/cpo/tokens", 403, 2000, "This interface is for CPO parties"),
        ("/ocpi/2.2.1/cpo/sessions/NL/CP1/S-1", 404, 2001, "NL*CP1 is not a CPO party of the"),
        ("/ocpi/2.2.1/cpo/cdrs/NL/CP1/C-1", 404, 2001, "NL*CP1 is not a CPO party of the"),
    ],
    ids=["token-list", "session", "cdr"],
)
def test_emsp_reading_the_cpo_interfaces_is_refused(
    world: World,
    unchanged: Callable[[], None],
    path: str,
    http_status: int,
    ocpi_status: int,
    words: str,
) -> None:
    # when: an eMSP reads the token list CPOs read, or a CPO's own session/CDR copy
    response = world.call(world.ms1, "GET", path)
    # then
    assert_refused(response, http_status, ocpi_status, words)
    unchanged()


@pytest.mark.parametrize(("path", "query"), [(SESSIONS, SINCE), (CDRS, {})])
def test_cpo_reading_emsp_sessions_and_cdrs_is_403(
    world: World, unchanged: Callable[[], None], path: str, query: dict[str, str]
) -> None:
    # when: the CPO that produced the sessions reads them through the eMSP interface
    response = world.call(world.cp1, "GET", path, query=query)
    # then
    assert_refused(response, 403, 2000, "eMSP")
    unchanged()


def test_cpo_reading_an_emsp_token_through_the_emsp_interface_is_404(
    world: World, unchanged: Callable[[], None]
) -> None:
    response = world.call(world.cp1, "GET", "/ocpi/2.2.1/emsp/tokens/DE/MS1/TOK1")
    assert_refused(response, 404, 2001, "DE*MS1 is not a EMSP party of the calling platform")
    unchanged()


@pytest.mark.parametrize(
    "path",
    [
        "/ocpi/2.2.1/cpo/sessions/NL/CP1/S-1",
        "/ocpi/2.2.1/cpo/cdrs/NL/CP1/C-1",
        "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1",
        "/ocpi/2.2.1/cpo/tariffs/NL/CP1/T1",
    ],
)
def test_cpo_reading_another_cpos_copies_is_404(
    world: World, unchanged: Callable[[], None], path: str
) -> None:
    # when: CP2 reads the hub's copy of CP1's objects (the Receiver GET of the owner)
    direct = world.call(world.cp2, "GET", path)
    spoofed = world.call(world.cp2, "GET", path, headers=world.cp2.headers(frm=world.cp1.ref))
    # then
    assert_refused(direct, 404, 2001, "NL*CP1 is not a CPO party of the calling platform")
    assert_refused(spoofed, 200, 2001, "NL*CP1 is not a party of the calling platform")
    unchanged()


def test_emsp_never_sees_an_unpublished_location(world: World) -> None:
    # given: CP2 makes its location private (publish = false, no publish_allowed_to)
    private = {**location_of("CP2"), "publish": False, "last_updated": "2030-01-01T00:00:00Z"}
    response = world.call(world.cp2, "PUT", "/ocpi/2.2.1/cpo/locations/NL/CP2/LOC1", json=private)
    assert response.status_code == 200
    # when: an eMSP lists locations and asks for it by id (TO = CP2's hub copy)
    listed = world.call(world.ms1, "GET", "/ocpi/2.2.1/emsp/locations")
    one = world.call(world.ms1, "GET", "/ocpi/2.2.1/emsp/locations/LOC1")
    # then: only CP1's location is listed; the id names CP1's alone
    assert [(loc["party_id"], loc["id"]) for loc in listed.json()["data"]] == [("CP1", "LOC1")]
    assert one.json()["data"]["party_id"] == "CP1"
