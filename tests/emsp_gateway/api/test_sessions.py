"""The eMSP-facing sessions SENDER: an eMSP reads only the sessions of its own tokens
(`date_from` required), and sets charging preferences only on those (2.2.1 mod_sessions)."""

from typing import Any

import pytest

from hub.models import Platform
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_sessions import session
from tests.factories import PlatformEndpointFactory, registered_party

pytestmark = pytest.mark.django_db

LIST = "/ocpi/2.2.1/emsp/sessions"
PREFS = "/ocpi/2.2.1/emsp/sessions/SES-{n}/charging_preferences"
SINCE = {"date_from": "2024-01-01T00:00:00Z"}


@pytest.fixture
def seeded(ocpi_client: OcpiTestClient) -> dict[str, Any]:
    """CPOs NL*CP1 and NL*CP2, eMSPs DE*MS1 and DE*MS2; sessions SES-1 and SES-2 for MS1's
    tokens at CP1, SES-3 for MS2's at CP1, and SES-1 for MS2's at CP2 (same id, other CPO)."""
    parties: dict[str, Any] = {}
    for kind, cc, pid in (("CPO", "NL", "CP1"), ("CPO", "NL", "CP2")):
        parties[pid] = registered_party(kind, cc, pid)
    for pid in ("MS1", "MS2"):
        platform, token = registered_party("EMSP", "DE", pid)
        PlatformEndpointFactory(platform=platform, identifier="sessions", role="RECEIVER")
        parties[pid] = (platform, token)
    writes = [
        ("CP1", "SES-1", "MS1", "2024-05-01T10:00:00Z"),
        ("CP1", "SES-2", "MS1", "2024-06-01T10:00:00Z"),
        ("CP1", "SES-3", "MS2", "2024-05-01T10:00:00Z"),
        ("CP2", "SES-1", "MS2", "2024-05-01T10:00:00Z"),
    ]
    for cpo, session_id, owner, last_updated in writes:
        body = session(last_updated, ("DE", owner), id=session_id, party_id=cpo)
        response = ocpi_client.put(
            f"/ocpi/2.2.1/cpo/sessions/NL/{cpo}/{session_id}", json=body, token=parties[cpo][1]
        )
        assert response.status_code == 201, response.json()
    return parties


def ids(response: Any) -> list[tuple[str, str]]:
    return [(s["party_id"], s["id"]) for s in response.json()["data"]]


def test_list_needs_date_from(ocpi_client: OcpiTestClient, seeded: dict[str, Any]) -> None:
    response = ocpi_client.get(LIST, token=seeded["MS1"][1])
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert "date_from" in response.json()["status_message"]


def test_emsp_lists_only_the_sessions_of_its_tokens(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    ms1 = ocpi_client.get(LIST, token=seeded["MS1"][1], query=SINCE)
    assert ms1.status_code == 200
    assert ids(ms1) == [("CP1", "SES-1"), ("CP1", "SES-2")]
    assert ms1["X-Total-Count"] == "2"
    ms2 = ocpi_client.get(LIST, token=seeded["MS2"][1], query=SINCE)
    assert sorted(ids(ms2)) == [("CP1", "SES-3"), ("CP2", "SES-1")]


def test_list_filters_and_pages_by_last_updated(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    later = ocpi_client.get(
        LIST, token=seeded["MS1"][1], query={"date_from": "2024-05-15T00:00:00Z"}
    )
    assert ids(later) == [("CP1", "SES-2")]
    window = {"date_from": "2024-01-01T00:00:00Z", "date_to": "2024-05-15T00:00:00Z"}
    assert ids(ocpi_client.get(LIST, token=seeded["MS1"][1], query=window)) == [("CP1", "SES-1")]
    first = ocpi_client.get(LIST, token=seeded["MS1"][1], query={**SINCE, "limit": 1})
    assert ids(first) == [("CP1", "SES-1")]
    assert 'rel="next"' in first["Link"]
    assert "date_from=" in first["Link"]


def test_from_header_narrows_the_list_to_that_party(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    platform: Platform = seeded["MS1"][0]
    platform.roles.create(role="EMSP", country_code="DE", party_id="MS3", business_details={})
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS3"}
    response = ocpi_client.get(LIST, token=seeded["MS1"][1], query=SINCE, headers=headers)
    assert ids(response) == []


def test_cpo_cannot_use_the_emsp_sender(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    response = ocpi_client.get(LIST, token=seeded["CP1"][1], query=SINCE)
    assert response.status_code == 403


def test_invalid_preferences_are_refused_2001_before_routing(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    response = ocpi_client.put(
        PREFS.format(n=1), json={"profile_type": "SLOW"}, token=seeded["MS1"][1]
    )
    assert response.json()["status_code"] == 2001
    assert "profile_type" in response.json()["status_message"]


@pytest.mark.parametrize(
    ("caller", "n", "headers"),
    [
        ("MS2", 2, {}),  # MS1's session
        ("MS1", 3, {}),  # MS2's session
        ("MS1", 3, {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "CP1"}),
        ("MS1", 9, {}),  # unknown
    ],
)
def test_preferences_on_a_session_of_another_emsp_or_unknown_are_404(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any], caller: str, n: int, headers: Any
) -> None:
    response = ocpi_client.put(
        PREFS.format(n=n), json={"profile_type": "FAST"}, token=seeded[caller][1], headers=headers
    )
    assert response.status_code == 404
    assert "Unknown session" in response.json()["status_message"]


def test_preferences_for_an_id_known_at_two_cpos_pick_the_callers_session(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    # given: SES-1 exists at CP1 (MS1's) and CP2 (MS2's); CP1 has no sessions SENDER endpoint
    # when: MS1 sets preferences without TO
    response = ocpi_client.put(
        PREFS.format(n=1), json={"profile_type": "FAST"}, token=seeded["MS1"][1]
    )
    # then: the hub routed to CP1, which publishes no sessions SENDER (4001 names it)
    assert response.json()["status_code"] == 4001
    assert "NL*CP1" in response.json()["status_message"]


def test_preferences_with_to_and_no_stored_session_are_forwarded(
    ocpi_client: OcpiTestClient, seeded: dict[str, Any]
) -> None:
    PlatformEndpointFactory(
        platform=seeded["CP2"][0],
        identifier="sessions",
        role="SENDER",
        url="http://127.0.0.1:9/ocpi/2.2.1/sessions",  # nothing listens there
    )
    headers = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "CP2"}
    response = ocpi_client.put(
        PREFS.format(n=7), json={"profile_type": "FAST"}, token=seeded["MS1"][1], headers=headers
    )
    assert response.json()["status_code"] == 4003  # tried, and CP2 could not be reached
