"""Writing what belongs to another party (DESIGN §3, §7; 2.2.1 transport_and_format, Client
Owned Object Push): a CPO writes another CPO's locations, tariffs, sessions or CDRs — through
the URL, the body or the FROM header — an eMSP writes locations, a CPO writes tokens. Each is
refused with the OCPI code the hub documents, and nothing is stored or queued."""

from collections.abc import Callable
from typing import Any

import pytest

from tests.cpo_gateway.api.test_cdrs import cdr
from tests.cpo_gateway.api.test_sessions import session
from tests.security.conftest import World, assert_refused, location_of, tariff_of, token_body

pytestmark = pytest.mark.django_db

CPO = "/ocpi/2.2.1/cpo"

# (method, path below /cpo, body of CP1's object). Every write a CPO can make on CP1's data.
CP1_WRITES: list[tuple[str, str, Callable[[], Any]]] = [
    ("PUT", "/locations/NL/CP1/LOC1", lambda: location_of("CP1")),
    (
        "PATCH",
        "/locations/NL/CP1/LOC1",
        lambda: {"name": "X", "last_updated": "2030-01-01T00:00:00Z"},
    ),
    ("PUT", "/locations/NL/CP1/LOC1/EVSE1", lambda: location_of("CP1")["evses"][0]),
    ("PUT", "/tariffs/NL/CP1/T1", lambda: tariff_of("CP1")),
    ("DELETE", "/tariffs/NL/CP1/T1", lambda: None),
    ("PUT", "/sessions/NL/CP1/S-1", lambda: session(id="S-1", kwh=99.0)),
    (
        "PATCH",
        "/sessions/NL/CP1/S-1",
        lambda: {"kwh": 99.0, "last_updated": "2030-01-01T00:00:00Z"},
    ),
]
WRITE_IDS = [
    f"{method} {path.split('/')[1]}{'-evse' if 'EVSE' in path else ''}"
    for method, path, _ in CP1_WRITES
]


@pytest.mark.parametrize(("method", "path", "body"), CP1_WRITES, ids=WRITE_IDS)
def test_cpo_writing_under_another_cpos_url_is_404(
    world: World, unchanged: Callable[[], None], method: str, path: str, body: Callable[[], Any]
) -> None:
    # when: CP2 writes at CP1's URL, without FROM, with FROM = CP2, and routed to an eMSP
    for headers in ({}, world.cp2.headers(), world.cp2.headers(to=world.ms1.ref)):
        response = world.call(world.cp2, method, CPO + path, json=body(), headers=headers)
        # then
        assert_refused(response, 404, 2001, "NL*CP1 is not a CPO party of the calling platform")
    unchanged()


@pytest.mark.parametrize(("method", "path", "body"), CP1_WRITES, ids=WRITE_IDS)
def test_cpo_writing_with_the_from_of_another_cpo_is_2001(
    world: World, unchanged: Callable[[], None], method: str, path: str, body: Callable[[], Any]
) -> None:
    # when: CP2 claims to be CP1 in the FROM header
    headers = world.cp2.headers(frm=world.cp1.ref)
    response = world.call(world.cp2, method, CPO + path, json=body(), headers=headers)
    # then
    assert_refused(response, 200, 2001, "NL*CP1 is not a party of the calling platform")
    unchanged()


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/locations/NL/CP2/LOC9", lambda: {**location_of("CP1"), "id": "LOC9"}),
        ("/tariffs/NL/CP2/T9", lambda: {**tariff_of("CP1"), "id": "T9"}),
        ("/sessions/NL/CP2/S-9", lambda: session(id="S-9", party_id="CP1")),
    ],
    ids=["locations", "tariffs", "sessions"],
)
def test_cpo_body_naming_another_cpo_is_2001(
    world: World, unchanged: Callable[[], None], path: str, body: Callable[[], Any]
) -> None:
    # when: CP2 writes under its own URL an object whose body says it is CP1's
    response = world.call(world.cp2, "PUT", CPO + path, json=body())
    # then
    assert_refused(response, 200, 2001, "party_id: CP1 differs from the URL's CP2")
    unchanged()


def test_cpo_posting_a_cdr_of_another_cpo_is_refused(
    world: World, unchanged: Callable[[], None]
) -> None:
    # when: CP2 posts a CDR claiming CP1 as its issuer, and one with FROM = CP1
    as_cp1 = world.call(world.cp2, "POST", CPO + "/cdrs", json=cdr(id="C-9", party_id="CP1"))
    spoofed = world.call(
        world.cp2,
        "POST",
        CPO + "/cdrs",
        json=cdr(id="C-9", party_id="CP2"),
        headers=world.cp2.headers(frm=world.cp1.ref),
    )
    # then
    assert_refused(as_cp1, 404, 2001, "NL*CP1")
    assert_refused(spoofed, 200, 2001, "NL*CP1 is not a party of the calling platform")
    unchanged()


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PUT", "/locations/DE/MS1/LOC9", lambda: {**location_of("MS1"), "country_code": "DE"}),
        ("PUT", "/locations/NL/CP1/LOC1", lambda: location_of("CP1")),
        ("PUT", "/tariffs/DE/MS1/T9", lambda: {**tariff_of("MS1"), "country_code": "DE"}),
        (
            "PUT",
            "/sessions/DE/MS1/S-9",
            lambda: session(id="S-9", country_code="DE", party_id="MS1"),
        ),
        ("POST", "/cdrs", lambda: cdr(id="C-9", country_code="DE", party_id="MS1")),
    ],
    ids=["own-party-location", "cpo-location", "tariff", "session", "cdr"],
)
def test_emsp_writing_cpo_data_is_refused(
    world: World, unchanged: Callable[[], None], method: str, path: str, body: Callable[[], Any]
) -> None:
    # when: an eMSP pushes locations, tariffs, sessions or CDRs, even under its own party
    response = world.call(world.ms1, method, CPO + path, json=body())
    # then: it has no CPO party
    assert_refused(response, 404, 2001, "is not a CPO party of the calling platform")
    unchanged()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
@pytest.mark.parametrize(
    ("path", "owner"),
    [("/NL/CP1/TOK9", ("NL", "CP1")), ("/DE/MS1/TOK1", ("DE", "MS1"))],
    ids=["own-party", "emsp-party"],
)
def test_cpo_writing_tokens_is_404(
    world: World, unchanged: Callable[[], None], method: str, path: str, owner: tuple[str, str]
) -> None:
    # when: a CPO pushes a token, under its own party or an eMSP's
    body = token_body(owner, path.rsplit("/", 1)[1])
    response = world.call(world.cp1, method, "/ocpi/2.2.1/emsp/tokens" + path, json=body)
    # then
    assert_refused(response, 404, 2001, "is not a EMSP party of the calling platform")
    unchanged()


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_emsp_writing_another_emsps_token_is_refused(
    world: World, unchanged: Callable[[], None], method: str
) -> None:
    path = "/ocpi/2.2.1/emsp/tokens/DE/MS2/TOK2"
    body = {**token_body(world.ms2.ref, "TOK2"), "valid": False}
    # when: MS1 invalidates MS2's token at MS2's URL, or with FROM = MS2
    at_url = world.call(world.ms1, method, path, json=body)
    spoofed = world.call(
        world.ms1, method, path, json=body, headers=world.ms1.headers(world.ms2.ref)
    )
    # when: MS1 writes under its own URL a body naming MS2
    in_body = world.call(world.ms1, method, "/ocpi/2.2.1/emsp/tokens/DE/MS1/TOK2", json=body)
    # then
    assert_refused(at_url, 404, 2001, "DE*MS2 is not a EMSP party of the calling platform")
    assert_refused(spoofed, 200, 2001, "DE*MS2 is not a party of the calling platform")
    assert_refused(in_body, 200, 2001, "party_id: MS2 differs from the URL's MS1")
    unchanged()


@pytest.mark.parametrize("command", ["START_SESSION", "RESERVE_NOW"])
def test_emsp_command_with_another_emsps_token_is_2001(
    world: World, unchanged: Callable[[], None], command: str
) -> None:
    # when: MS1 starts a session (or reserves) at CP1 with MS2's token
    body: dict[str, Any] = {
        "response_url": "https://ms1.example.com/ocpi/commands/1",
        "token": token_body(world.ms2.ref, "TOK2"),
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
    }
    if command == "RESERVE_NOW":
        body.update(expiry_date="2030-01-01T12:00:00Z", reservation_id="RES1")
    headers = world.ms1.headers(to=world.cp1.ref)
    path = f"/ocpi/2.2.1/emsp/commands/{command}"
    response = world.call(world.ms1, "POST", path, json=body, headers=headers)
    # then: refused before anything is forwarded
    assert_refused(response, 200, 2001, "token", "own tokens")
    unchanged()


def test_emsp_setting_preferences_on_another_emsps_session_is_404(
    world: World, unchanged: Callable[[], None]
) -> None:
    # when: MS1 sets charging preferences on MS2's session S-2
    path = "/ocpi/2.2.1/emsp/sessions/S-2/charging_preferences"
    response = world.call(world.ms1, "PUT", path, json={"profile_type": "FAST"})
    # then: as for a session that does not exist; nothing is forwarded to CP1
    assert_refused(response, 404, 2000, "Unknown session S-2")
    unchanged()


def test_emsp_asking_the_profile_of_another_emsps_session_gets_unknown_session(
    world: World, unchanged: Callable[[], None]
) -> None:
    # when: MS1 asks the active charging profile of MS2's session S-2
    query = {"duration": "60", "response_url": "https://ms1.example.com/r"}
    response = world.call(world.ms1, "GET", "/ocpi/2.2.1/emsp/chargingprofiles/S-2", query=query)
    # then: the hub's own UNKNOWN_SESSION answer (mod_charging_profiles), nothing forwarded
    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, 1000)
    assert body["data"]["result"] == "UNKNOWN_SESSION"
    assert "no session S-2 of yours" in body["status_message"]
    unchanged()


def test_cpo_credit_cdr_for_another_cpos_cdr_is_2001(
    world: World, unchanged: Callable[[], None]
) -> None:
    # when: CP2 credits CP1's CDR C-1 (a credit must reference the issuer's own CDR)
    credit = cdr(
        id="C-1-CREDIT",
        party_id="CP2",
        credit=True,
        credit_reference_id="C-1",
        total_cost={"excl_vat": -4.25, "incl_vat": -5.0575},
    )
    response = world.call(world.cp2, "POST", CPO + "/cdrs", json=credit)
    # then
    assert_refused(response, 200, 2001, "credit_reference_id")
    unchanged()


def test_cpo_session_routed_to_another_emsp_than_its_token_owner_is_2001(
    world: World, unchanged: Callable[[], None]
) -> None:
    # when: CP1 sends MS1's session S-1 with TO = MS2 (the hub routes by cdr_token)
    headers = world.cp1.headers(to=world.ms2.ref)
    body = session(id="S-1", kwh=7.0, last_updated="2030-01-01T00:00:00Z")
    response = world.call(
        world.cp1, "PUT", CPO + "/sessions/NL/CP1/S-1", json=body, headers=headers
    )
    # then: refused, MS2 gets nothing
    assert_refused(response, 200, 2001, "DE*MS2")
    unchanged()
