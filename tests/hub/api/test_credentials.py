"""Credentials module: state errors and bad input, nothing stored on refusal.

The full handshakes against real partner servers are in tests/integration.
"""

from typing import Any

import pytest

from hub.models import Platform, PlatformRole, PlatformToken, TokenScope
from hub.ocpi.tokens import token_digest
from tests.conftest import OcpiTestClient
from tests.factories import PlatformFactory, issue_token, registered_party

pytestmark = pytest.mark.django_db

CREDENTIALS = "/ocpi/2.2.1/credentials"


def valid_body(**overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "token": "partner-token-b",
        "url": "http://127.0.0.1:9/ocpi/versions",
        "roles": [
            {
                "role": "CPO",
                "party_id": "ABC",
                "country_code": "NL",
                "business_details": {"name": "ABC Charging"},
            }
        ],
    }
    body.update(overrides)
    return body


@pytest.fixture
def invited() -> tuple[Platform, str]:
    platform = PlatformFactory(registered=False, status="PLANNED", outbound_token="")
    return platform, issue_token(platform, TokenScope.REGISTRATION)


def assert_nothing_stored(platform: Platform, token_a: str) -> None:
    platform.refresh_from_db()
    assert not platform.registered
    assert platform.status == "PLANNED"
    assert platform.outbound_token == ""
    assert not PlatformRole.objects.filter(platform=platform).exists()
    assert not platform.endpoints.exists()
    assert PlatformToken.objects.get(platform=platform).digest == token_digest(token_a)


def test_get_returns_hub_credentials_with_hub_role_only(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str]
) -> None:
    _, token_a = invited
    data = ocpi_client.get(CREDENTIALS, token=token_a).json()["data"]
    assert data["token"] == token_a
    assert data["url"] == "http://127.0.0.1:8000/ocpi/versions"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in data["roles"]] == [
        ("HUB", "NL", "HUB")
    ]


def test_post_when_registered_405(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "REG")
    response = ocpi_client.post(CREDENTIALS, json=valid_body(), token=token)
    assert response.status_code == 405
    assert response.json()["status_code"] == 2000


@pytest.mark.parametrize("method", ["put", "delete"])
def test_put_delete_when_not_registered_405(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str], method: str
) -> None:
    platform, token_a = invited
    response = getattr(ocpi_client, method)(CREDENTIALS, json=valid_body(), token=token_a)
    assert response.status_code == 405
    assert_nothing_stored(platform, token_a)


def test_post_non_json_400(ocpi_client: OcpiTestClient, invited: tuple[Platform, str]) -> None:
    platform, token_a = invited
    response = ocpi_client.post(CREDENTIALS, raw="{not json", token=token_a)
    assert response.status_code == 400
    assert "JSON" in response.json()["status_message"]
    assert_nothing_stored(platform, token_a)


def test_post_wrong_content_type_415(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str]
) -> None:
    platform, token_a = invited
    response = ocpi_client.post(
        CREDENTIALS, raw="token=x", content_type="application/x-www-form-urlencoded", token=token_a
    )
    assert response.status_code == 415
    assert_nothing_stored(platform, token_a)


def test_post_body_over_cap_413(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str], settings: Any
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    platform, token_a = invited
    response = ocpi_client.post(
        CREDENTIALS, json=valid_body(url="http://x/" + "a" * 2000), token=token_a
    )
    assert response.status_code == 413
    assert_nothing_stored(platform, token_a)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([1, 2], "Invalid data"),
        (valid_body(token=123), "token"),
        (valid_body(token="x" * 65), "token"),
        (valid_body(token="has space"), "token"),
        (valid_body(url="ftp://example.com/versions"), "url"),
        (valid_body(url="not a url"), "url"),
        (valid_body(url="http://example.com/" + "a" * 250), "url"),
        (valid_body(roles=[]), "roles"),
        (valid_body(roles="CPO"), "roles"),
        ({"token": "t", "url": "http://127.0.0.1:9/v"}, "roles"),
        (valid_body(extra_field=True), "extra_field"),
        (valid_body(roles=[{**valid_body()["roles"][0], "party_id": "ABCD"}]), "roles[0].party_id"),
        (
            valid_body(roles=[{**valid_body()["roles"][0], "country_code": "NLD"}]),
            "roles[0].country_code",
        ),
        (valid_body(roles=[{**valid_body()["roles"][0], "role": "cpo"}]), "roles[0].role"),
        (
            valid_body(roles=[{**valid_body()["roles"][0], "business_details": {}}]),
            "roles[0].business_details.name",
        ),
        (
            valid_body(
                roles=[{**valid_body()["roles"][0], "business_details": {"name": "x" * 101}}]
            ),
            "roles[0].business_details.name",
        ),
        (valid_body(roles=[{**valid_body()["roles"][0], "nickname": "x"}]), "roles[0].nickname"),
        (valid_body(roles=[valid_body()["roles"][0], valid_body()["roles"][0]]), "roles"),
        (valid_body(roles=[{**valid_body()["roles"][0], "party_id": "HUB"}]), "roles[0]"),
    ],
)
def test_post_invalid_body_2001_naming_the_field_nothing_stored(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str], body: Any, field: str
) -> None:
    # given
    platform, token_a = invited
    # when
    response = ocpi_client.post(CREDENTIALS, json=body, token=token_a)
    # then
    envelope = response.json()
    assert response.status_code == 200
    assert envelope["status_code"] == 2001
    assert field in envelope["status_message"]
    assert_nothing_stored(platform, token_a)


def test_post_role_of_another_platform_2001(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str]
) -> None:
    registered_party("CPO", "NL", "ABC")
    platform, token_a = invited
    response = ocpi_client.post(CREDENTIALS, json=valid_body(), token=token_a)
    assert response.json()["status_code"] == 2001
    assert "another platform" in response.json()["status_message"]
    assert_nothing_stored(platform, token_a)


def test_post_unreachable_partner_3001(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str]
) -> None:
    platform, token_a = invited
    response = ocpi_client.post(CREDENTIALS, json=valid_body(), token=token_a)
    assert response.status_code == 200
    assert response.json()["status_code"] == 3001
    assert_nothing_stored(platform, token_a)


def test_post_without_content_type_is_read_as_json(
    ocpi_client: OcpiTestClient, invited: tuple[Platform, str]
) -> None:
    platform, token_a = invited
    response = ocpi_client.post(CREDENTIALS, raw=b'{"token": 1}', content_type="", token=token_a)
    assert response.json()["status_code"] == 2001
    assert "token" in response.json()["status_message"]


def test_delete_registered_unregisters_and_token_dies(ocpi_client: OcpiTestClient) -> None:
    platform, token = registered_party("CPO", "NL", "DEL")
    response = ocpi_client.delete(CREDENTIALS, token=token)
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    platform.refresh_from_db()
    assert not platform.registered and platform.status == "SUSPENDED"
    assert platform.outbound_token == ""
    assert ocpi_client.get("/ocpi/versions", token=token).status_code == 401
