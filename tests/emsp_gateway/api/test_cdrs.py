"""The eMSP-facing cdrs SENDER: an eMSP pulls only the CDRs of its own tokens, paginated and
filtered on `last_updated`; TO = a CPO goes to that CPO's SENDER (2.2.1 mod_cdrs Sender GET)."""

from typing import Any

import pytest

from hub.models import Platform
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.factories import PlatformEndpointFactory, registered_party

pytestmark = pytest.mark.django_db

LIST = "/ocpi/2.2.1/emsp/cdrs"


@pytest.fixture
def seeded(ocpi_client: OcpiTestClient) -> dict[str, Any]:
    """CPOs NL*CP1 and NL*CP2, eMSPs DE*MS1 (cdrs RECEIVER) and DE*MS2 (pulls only); CDRs C-1
    and C-2 for MS1's tokens at CP1, C-3 for MS2's at CP1, C-1 for MS2's at CP2."""
    parties: dict[str, Any] = {}
    for pid in ("CP1", "CP2"):
        parties[pid] = registered_party("CPO", "NL", pid)
    for pid in ("MS1", "MS2"):
        parties[pid] = registered_party("EMSP", "DE", pid)
    PlatformEndpointFactory(platform=parties["MS1"][0], identifier="cdrs", role="RECEIVER")
    posts = [
        ("CP1", "C-1", "MS1", "2024-05-01T11:05:00Z"),
        ("CP1", "C-2", "MS1", "2024-06-01T11:05:00Z"),
        ("CP1", "C-3", "MS2", "2024-05-01T11:05:00Z"),
        ("CP2", "C-1", "MS2", "2024-05-01T11:05:00Z"),
    ]
    for cpo, cdr_id, owner, last_updated in posts:
        body = cdr(("DE", owner), id=cdr_id, party_id=cpo, last_updated=last_updated)
        response = ocpi_client.post("/ocpi/2.2.1/cpo/cdrs", json=body, token=parties[cpo][1])
        assert response.status_code == 201, response.json()
    return parties


def ids(response: Any) -> list[tuple[str, str]]:
    return [(c["party_id"], c["id"]) for c in response.json()["data"]]


def test_emsp_lists_only_the_cdrs_of_its_tokens(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    ms1 = ocpi_client.get(LIST, token=seeded["MS1"][1])
    assert ms1.status_code == 200
    assert ids(ms1) == [("CP1", "C-1"), ("CP1", "C-2")]
    assert ms1["X-Total-Count"] == "2"
    assert ms1.json()["data"][0] == cdr(id="C-1", last_updated="2024-05-01T11:05:00Z")
    ms2 = ocpi_client.get(LIST, token=seeded["MS2"][1])
    assert sorted(ids(ms2)) == [("CP1", "C-3"), ("CP2", "C-1")]


def test_list_filters_and_pages_by_last_updated(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    token = seeded["MS1"][1]
    later = ocpi_client.get(LIST, token=token, query={"date_from": "2024-05-15T00:00:00Z"})
    assert ids(later) == [("CP1", "C-2")]
    earlier = ocpi_client.get(LIST, token=token, query={"date_to": "2024-05-15T00:00:00Z"})
    assert ids(earlier) == [("CP1", "C-1")]
    first = ocpi_client.get(LIST, token=token, query={"limit": 1})
    assert ids(first) == [("CP1", "C-1")]
    assert 'rel="next"' in first["Link"]
    bad = ocpi_client.get(LIST, token=token, query={"date_from": "yesterday"})
    assert bad.json()["status_code"] == 2001


def test_from_header_narrows_the_list_to_that_party(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    platform: Platform = seeded["MS1"][0]
    platform.roles.create(role="EMSP", country_code="DE", party_id="MS3", business_details={})
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS3"}
    assert ids(ocpi_client.get(LIST, token=seeded["MS1"][1], headers=headers)) == []


def test_cpo_cannot_use_the_emsp_sender(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    assert ocpi_client.get(LIST, token=seeded["CP1"][1]).status_code == 403


def test_list_with_to_a_cpo_is_forwarded_to_its_sender(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    PlatformEndpointFactory(
        platform=seeded["CP2"][0],
        identifier="cdrs",
        role="SENDER",
        url="http://127.0.0.1:9/ocpi/2.2.1/cdrs",  # nothing listens there
    )
    headers = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "CP2"}
    response = ocpi_client.get(LIST, token=seeded["MS1"][1], headers=headers)
    assert response.json()["status_code"] == 4003  # tried, and CP2 could not be reached
