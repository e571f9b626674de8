"""The CPO-facing tokens SENDER (2.2.1 mod_tokens Sender): GET all via the hub, and the
refusals of a real-time authorization that never reach an eMSP (the routed answers are in
tests/integration/test_tokens_authorize.py)."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.models import ConnectionStatus, Token, TokenSource
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.routing import PartyRef
from hub.services.routing.token_index import token_owner_learn
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, PlatformRoleFactory, registered_party
from tests.fixtures import load_ocpi_fixture

pytestmark = pytest.mark.django_db

LIST = "/ocpi/2.2.1/cpo/tokens"
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def stored_token(party_id: str, index: int, *, valid: bool = True) -> Token:
    moment = BASE + timedelta(minutes=index)
    data = {
        **load_ocpi_fixture("tokens", "token_app_user"),
        "party_id": party_id,
        "uid": f"TOK{index}",
        "valid": valid,
        "last_updated": format_datetime(moment),
    }
    return Token.objects.create(
        country_code="DE",
        party_id=party_id,
        uid=f"TOK{index}",
        type="APP_USER",
        data=data,
        valid=valid,
        last_updated=moment,
    )


@pytest.fixture
def store() -> list[Token]:
    # Two eMSPs interleaved in time; invalidated tokens are listed too.
    return [stored_token("MSA" if i % 2 else "MSB", i, valid=i != 3) for i in range(7)]


def uids(response: Any) -> list[str]:
    return [token["uid"] for token in response.json()["data"]]


def authorize_url(uid: str = "TOK1") -> str:
    return f"/ocpi/2.2.1/cpo/tokens/{uid}/authorize"


def test_get_all_merges_emsps_oldest_first_with_pagination_headers(
    ocpi_client: OcpiTestClient, cpo_token: str, store: list[Token]
) -> None:
    # when
    first = ocpi_client.get(LIST, token=cpo_token, query={"limit": 3})
    # then
    assert first.status_code == 200
    assert uids(first) == ["TOK0", "TOK1", "TOK2"]
    assert first.json()["data"][0] == store[0].data  # as the eMSP sent it
    assert first["X-Total-Count"] == "7"
    assert first["X-Limit"] == "1000"
    # and the Link leads through every page, keeping the filters
    seen = uids(first)
    link = first["Link"]
    while link:
        url = link.split(";")[0].strip("<>")
        split = urlsplit(url)
        page = ocpi_client.get(split.path + "?" + split.query, token=cpo_token)
        seen += uids(page)
        link = page.get("Link")
    assert seen == [f"TOK{i}" for i in range(7)]
    assert "TOK3" in seen  # valid=false is listed: the CPO must learn it


def test_get_all_date_filters_inclusive_exclusive(
    ocpi_client: OcpiTestClient, cpo_token: str, store: list[Token]
) -> None:
    query = {
        "date_from": format_datetime(BASE + timedelta(minutes=2)),
        "date_to": format_datetime(BASE + timedelta(minutes=5)),
        "limit": 2,
    }
    response = ocpi_client.get(LIST, token=cpo_token, query=query)
    assert uids(response) == ["TOK2", "TOK3"]
    assert response["X-Total-Count"] == "3"
    params = parse_qs(urlsplit(response["Link"].split(";")[0].strip("<>")).query)
    assert params["date_from"] == [query["date_from"]]
    assert params["date_to"] == [query["date_to"]]


def test_get_all_bad_pagination_parameter_2001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.get(LIST, token=cpo_token, query={"date_from": "yesterday"})
    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


@pytest.mark.parametrize("name", ["offset", "limit"])
def test_get_all_huge_pagination_number_2001_not_500(
    ocpi_client: OcpiTestClient, cpo_token: str, store: list[Token], name: str
) -> None:
    # Found by make fuzz: an offset past the database's integer range crashed the query (500).
    response = ocpi_client.get(LIST, token=cpo_token, query={name: 32432389388602091503616})
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert name in response.json()["status_message"]


def test_emsp_may_not_list_or_authorize_403(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("EMSP", "DE", "MSA")
    assert ocpi_client.get(LIST, token=token).status_code == 403
    assert ocpi_client.post(authorize_url(), token=token).status_code == 403


def test_unauthenticated_401(ocpi_client: OcpiTestClient) -> None:
    assert ocpi_client.get(LIST).status_code == 401
    assert ocpi_client.post(authorize_url()).status_code == 401


def test_list_addressed_to_an_unknown_emsp_4001(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    headers = {"OCPI-to-country-code": "DE", "OCPI-to-party-id": "ZZZ"}
    assert ocpi_client.get(LIST, token=cpo_token, headers=headers).json()["status_code"] == 4001


def test_authorize_without_a_known_owner_4001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.post(authorize_url(), token=cpo_token)
    assert response.status_code == 200
    assert response.json()["status_code"] == 4001
    assert "OCPI-to" in response.json()["status_message"]


def test_authorize_with_several_owners_4001_asks_for_to(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    for party_id in ("MSA", "MSB"):
        registered_party("EMSP", "DE", party_id)
        token_owner_learn(
            owner=PartyRef("DE", party_id),
            uid="TOK1",
            token_type="RFID",
            source=TokenSource.TOKENS,
        )
    response = ocpi_client.post(authorize_url(), token=cpo_token)
    assert response.json()["status_code"] == 4001
    assert "DE*MSA" in response.json()["status_message"]
    assert "OCPI-to" in response.json()["status_message"]


def test_authorize_owner_of_another_type_is_no_owner(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    token_owner_learn(
        owner=PartyRef("DE", "MSA"), uid="TOK1", token_type="APP_USER", source=TokenSource.TOKENS
    )
    assert ocpi_client.post(authorize_url(), token=cpo_token).json()["status_code"] == 4001


def test_authorize_owner_offline_4003(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    platform, _ = registered_party("EMSP", "DE", "MSA", status=ConnectionStatus.OFFLINE)
    PlatformEndpointFactory(platform=platform, identifier="tokens", role="SENDER")
    token_owner_learn(
        owner=PartyRef("DE", "MSA"), uid="TOK1", token_type="RFID", source=TokenSource.TOKENS
    )
    assert ocpi_client.post(authorize_url(), token=cpo_token).json()["status_code"] == 4003


def test_authorize_owner_without_tokens_sender_4001(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("EMSP", "DE", "MSA")
    headers = {"OCPI-to-country-code": "DE", "OCPI-to-party-id": "MSA"}
    response = ocpi_client.post(authorize_url(), token=cpo_token, headers=headers)
    assert response.json()["status_code"] == 4001
    assert "tokens SENDER" in response.json()["status_message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({}, "location_id"),
        ({"evse_uids": ["EVSE1"]}, "location_id"),
        ({"location_id": "L" * 37}, "location_id"),
        ({"location_id": "LOC1", "evse_uids": "EVSE1"}, "evse_uids"),
        ({"location_id": "LOC1", "evse_uids": ["E" * 37]}, "evse_uids[0]"),
        ({"location_id": "LOC1", "connector_id": "1"}, "connector_id"),
    ],
)
def test_authorize_invalid_location_references_2001(
    ocpi_client: OcpiTestClient, cpo_token: str, body: dict[str, Any], field: str
) -> None:
    response = ocpi_client.post(authorize_url(), json=body, token=cpo_token)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]


def test_authorize_invalid_type_or_uid_2001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    bad_type = ocpi_client.post(authorize_url(), token=cpo_token, query={"type": "rfid"})
    assert bad_type.json()["status_code"] == 2001
    assert "type" in bad_type.json()["status_message"]
    long_uid = ocpi_client.post(authorize_url("U" * 37), token=cpo_token)
    assert long_uid.json()["status_code"] == 2001
    assert "token_uid" in long_uid.json()["status_message"]


def test_authorize_from_an_own_non_cpo_party_2001(
    ocpi_client: OcpiTestClient, cpo_party: tuple[Any, str]
) -> None:
    platform, token = cpo_party
    PlatformRoleFactory(platform=platform, role="EMSP", country_code="NL", party_id="MSX")
    headers = {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "MSX"}
    response = ocpi_client.post(authorize_url(), token=token, headers=headers)
    assert response.json()["status_code"] == 2001
    assert "CPO" in response.json()["status_message"]


def test_authorize_from_another_platforms_party_2001(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("CPO", "NL", "CP2")
    headers = {"OCPI-from-country-code": "NL", "OCPI-from-party-id": "CP2"}
    response = ocpi_client.post(authorize_url(), token=cpo_token, headers=headers)
    assert response.json()["status_code"] == 2001
