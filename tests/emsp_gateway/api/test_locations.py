"""GET all locations via the hub: pagination, date filters, visibility, stable order."""

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from hub.models import Location
from hub.ocpi.datetimes import format_datetime
from tests.conftest import OcpiTestClient
from tests.factories import registered_party
from tests.payloads import connector

pytestmark = pytest.mark.django_db

BASE = datetime(2024, 1, 1, tzinfo=UTC)
URL = "/ocpi/2.2.1/emsp/locations"


def stored_location(cpo: str, index: int, *, publish: bool = True) -> Location:
    stamp = format_datetime(BASE + timedelta(minutes=index))
    data = {
        "country_code": "NL",
        "party_id": cpo,
        "id": f"LOC{index}",
        "publish": publish,
        "address": "Street 1",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.08944", "longitude": "5.11027"},
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": "E1",
                "status": "AVAILABLE",
                "connectors": [connector(stamp, max_amperage=16)],
                "last_updated": stamp,
            }
        ],
        "last_updated": stamp,
    }
    return Location.objects.create(
        country_code="NL",
        party_id=cpo,
        location_id=f"LOC{index}",
        data=data,
        last_updated=BASE + timedelta(minutes=index),
        publish=publish,
    )


@pytest.fixture
def emsp_token() -> str:
    return registered_party("EMSP", "DE", "MSP")[1]


@pytest.fixture
def store() -> list[Location]:
    # Two CPOs interleaved in time, one private location.
    locations = [stored_location("CPA" if i % 2 else "CPB", i) for i in range(12)]
    stored_location("CPA", 99, publish=False)
    return locations


def ids(response: Any) -> list[str]:
    return [f"{o['party_id']}/{o['id']}" for o in response.json()["data"]]


def test_get_all_merges_cpos_oldest_first_with_headers(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    response = ocpi_client.get(URL, token=emsp_token, query={"limit": 5})
    assert response.status_code == 200
    assert ids(response) == ["CPB/LOC0", "CPA/LOC1", "CPB/LOC2", "CPA/LOC3", "CPB/LOC4"]
    assert response["X-Total-Count"] == "12"  # the private location is not counted
    assert response["X-Limit"] == "1000"
    assert response["Link"].endswith('rel="next"')


def test_get_all_following_links_visits_every_object_once(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    seen: list[str] = []
    url = f"{URL}?limit=5"
    while url:
        response = ocpi_client.get(url, token=emsp_token)
        seen += ids(response)
        link = response.get("Link")
        url = ""
        if link:
            parts = urlsplit(link[1 : link.index(">")])
            url = f"{parts.path}?{parts.query}"
    assert seen == [f"{'CPA' if i % 2 else 'CPB'}/LOC{i}" for i in range(12)]


def test_get_all_deep_offset_without_cursor(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    response = ocpi_client.get(URL, token=emsp_token, query={"offset": 10, "limit": 5})
    assert ids(response) == ["CPB/LOC10", "CPA/LOC11"]
    assert "Link" not in response


def test_get_all_date_filters_and_link_repeats_them(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    query = {"date_from": "2024-01-01T00:03:00Z", "date_to": "2024-01-01T00:08:00Z", "limit": 2}
    response = ocpi_client.get(URL, token=emsp_token, query=query)
    assert response["X-Total-Count"] == "5"
    assert ids(response) == ["CPA/LOC3", "CPB/LOC4"]
    link_query = parse_qs(urlsplit(response["Link"][1 : response["Link"].index(">")]).query)
    assert link_query["date_from"] == ["2024-01-01T00:03:00Z"]
    assert link_query["date_to"] == ["2024-01-01T00:08:00Z"]


def test_get_all_refused_for_a_cpo_only_platform(
    ocpi_client: OcpiTestClient, store: list[Location]
) -> None:
    _, cpo_token = registered_party("CPO", "NL", "CPX")
    response = ocpi_client.get(URL, token=cpo_token)
    assert response.status_code == 403
    assert "data" not in response.json()


def test_get_one_location_evse_connector(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    location = ocpi_client.get(f"{URL}/LOC3", token=emsp_token).json()["data"]
    assert location["id"] == "LOC3"
    evse = ocpi_client.get(f"{URL}/loc3/e1", token=emsp_token).json()["data"]
    assert evse["uid"] == "E1"
    connector = ocpi_client.get(f"{URL}/LOC3/E1/1", token=emsp_token).json()["data"]
    assert connector["id"] == "1"


@pytest.mark.parametrize("path", ["/NOPE", "/LOC3/NOPE", "/LOC3/E1/9", "/LOC99"])
def test_get_one_unknown_or_private_404(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location], path: str
) -> None:
    response = ocpi_client.get(URL + path, token=emsp_token)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2003


def test_get_one_ambiguous_id_asks_for_the_cpo(
    ocpi_client: OcpiTestClient, emsp_token: str, store: list[Location]
) -> None:
    twin = stored_location("CPC", 3)
    assert twin.location_id == "LOC3"
    response = ocpi_client.get(f"{URL}/LOC3", token=emsp_token)
    assert response.json()["status_code"] == 2001
    assert "OCPI-to" in response.json()["status_message"]


def test_get_all_direct_to_unknown_party_4001(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    response = ocpi_client.get(
        URL,
        token=emsp_token,
        headers={"OCPI-to-country-code": "FR", "OCPI-to-party-id": "ZZZ"},
    )
    assert response.json()["status_code"] == 4001


def test_a_page_is_the_stored_documents_read_in_queries_independent_of_its_size(
    ocpi_client: OcpiTestClient,
    emsp_token: str,
    store: list[Location],
    django_assert_max_num_queries: Any,
) -> None:
    # The page is spliced from the documents' stored text (hub.ocpi.renderers.StoredJson):
    # the same JSON as stored, and no query per location (a deferred `data` would be one).
    ocpi_client.get(URL, token=emsp_token, query={"limit": 1})  # caches warmed
    with django_assert_max_num_queries(12) as small:
        ocpi_client.get(URL, token=emsp_token, query={"limit": 1})
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = ocpi_client.get(URL, token=emsp_token, query={"limit": 12})

    assert response.json()["data"] == [location.data for location in store]
