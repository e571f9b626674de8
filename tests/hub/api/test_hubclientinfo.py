"""HubClientInfo SENDER list: the pagination contract on a real list."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.models import Platform
from tests.conftest import OcpiTestClient
from tests.factories import PlatformRoleFactory, registered_party

pytestmark = pytest.mark.django_db

BASE = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def caller_token() -> str:
    _, token = registered_party("EMSP", "DE", "MSP")
    return token


@pytest.fixture
def seven_parties() -> list[Platform]:
    roles = []
    for i in range(7):
        role = PlatformRoleFactory(country_code="NL", party_id=f"C{i:02d}")
        Platform.objects.filter(pk=role.platform.pk).update(
            status_changed_at=BASE + timedelta(hours=i)
        )
        roles.append(role.platform)
    return roles


def test_list_paginates_with_headers_and_next_link(
    ocpi_client: OcpiTestClient, caller_token: str, seven_parties: list[Platform]
) -> None:
    # when
    first = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=caller_token, query={"limit": 3})
    # then
    assert first.status_code == 200
    assert first["X-Total-Count"] == "7"
    assert first["X-Limit"] == "1000"
    assert [c["party_id"] for c in first.json()["data"]] == ["C00", "C01", "C02"]
    link = first["Link"]
    assert link.endswith('; rel="next"')
    url = link[1 : link.index(">")]
    assert urlsplit(url).path == "/ocpi/2.2.1/hubclientinfo"
    query = parse_qs(urlsplit(url).query)
    assert query["offset"] == ["3"]
    assert query["limit"] == ["3"]
    # following the link (with its keyset cursor) gives the next objects in order
    second = ocpi_client.get(f"{urlsplit(url).path}?{urlsplit(url).query}", token=caller_token)
    assert [c["party_id"] for c in second.json()["data"]] == ["C03", "C04", "C05"]
    assert second["X-Total-Count"] == "7"


def test_list_invalid_cursor_2001(ocpi_client: OcpiTestClient, caller_token: str) -> None:
    response = ocpi_client.get(
        "/ocpi/2.2.1/hubclientinfo", token=caller_token, query={"cursor": "!!bogus"}
    )
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith("cursor")


def test_list_last_page_has_no_link(
    ocpi_client: OcpiTestClient, caller_token: str, seven_parties: list[Platform]
) -> None:
    last = ocpi_client.get(
        "/ocpi/2.2.1/hubclientinfo", token=caller_token, query={"offset": 6, "limit": 3}
    )
    assert [c["party_id"] for c in last.json()["data"]] == ["C06"]
    assert "Link" not in last


def test_list_date_filters_inclusive_from_exclusive_to_repeated_in_link(
    ocpi_client: OcpiTestClient, caller_token: str, seven_parties: list[Platform]
) -> None:
    response = ocpi_client.get(
        "/ocpi/2.2.1/hubclientinfo",
        token=caller_token,
        query={"date_from": "2024-01-01T01:00:00Z", "date_to": "2024-01-01T05:00:00Z", "limit": 2},
    )
    assert response["X-Total-Count"] == "4"
    assert [c["party_id"] for c in response.json()["data"]] == ["C01", "C02"]
    query = parse_qs(urlsplit(response["Link"][1 : response["Link"].index(">")]).query)
    assert query["date_from"] == ["2024-01-01T01:00:00Z"]
    assert query["date_to"] == ["2024-01-01T05:00:00Z"]


def test_list_limit_above_max_is_capped(
    ocpi_client: OcpiTestClient, caller_token: str, seven_parties: list[Platform], settings: object
) -> None:
    settings.OCPI_MAX_LIMIT = 5  # type: ignore[attr-defined]
    response = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=caller_token, query={"limit": 50})
    assert len(response.json()["data"]) == 5
    assert response["X-Limit"] == "5"


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ({"offset": "-1"}, "offset"),
        ({"limit": "0"}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"date_from": "yesterday"}, "date_from"),
        ({"date_to": "2024-01-01T00:00:00+02:00"}, "date_to"),
    ],
)
def test_list_invalid_parameters_2001_naming_them(
    ocpi_client: OcpiTestClient, caller_token: str, query: dict[str, str], field: str
) -> None:
    response = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=caller_token, query=query)
    body = response.json()
    assert response.status_code == 200
    assert body["status_code"] == 2001
    assert body["status_message"].startswith(field)


def test_list_client_info_shape_and_own_parties_excluded(
    ocpi_client: OcpiTestClient, caller_token: str, seven_parties: list[Platform]
) -> None:
    data = ocpi_client.get("/ocpi/2.2.1/hubclientinfo", token=caller_token).json()["data"]
    assert {c["party_id"] for c in data} == {f"C{i:02d}" for i in range(7)}
    first = data[0]
    assert set(first) == {"party_id", "country_code", "role", "status", "last_updated"}
    assert first["last_updated"] == "2024-01-01T00:00:00Z"
