"""The partner analytics endpoint (hub.api.analytics): authenticated with the partner's OCPI
token, enveloped, bounded, and a party sees only its own figures."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from hub.models import DeliveryStatus, Platform, TokenScope
from tests.conftest import OcpiTestClient
from tests.factories import (
    AuthorizationRecordFactory,
    CdrFactory,
    EvseStatusChangeFactory,
    LocationFactory,
    PlatformRoleFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
    evse,
    issue_token,
    registered_party,
)

pytestmark = pytest.mark.django_db

URL = "/ocpi/hub/analytics"
MARCH = {"date_from": "2025-03-01", "date_to": "2025-03-04"}


@pytest.fixture
def partner() -> tuple[Platform, str]:
    """One platform hosting the CPO NL*CPA and the eMSP NL*MSA."""
    platform, token = registered_party("CPO", "NL", "CPA", name="Partner A")
    PlatformRoleFactory(platform=platform, role="EMSP", country_code="NL", party_id="MSA")
    return platform, token


@pytest.fixture
def other() -> tuple[Platform, str]:
    """Another platform: the CPO NL*CPB."""
    return registered_party("CPO", "NL", "CPB", name="Partner B")


@pytest.fixture
def seeded(partner: tuple[Platform, str], other: tuple[Platform, str]) -> None:
    start = datetime(2025, 3, 1, 10, tzinfo=UTC)
    CdrFactory(cdr_id="A1", party=("NL", "CPA"), emsp=("DE", "MS1"), kwh="10", start=start,
               location_id="LOC1")  # fmt: skip
    CdrFactory(cdr_id="A2", party=("NL", "CPB"), emsp=("NL", "MSA"), kwh="4", start=start)
    CdrFactory(cdr_id="B1", party=("NL", "CPB"), emsp=("DE", "MS1"), kwh="50", start=start)
    loc = LocationFactory(party=("NL", "CPA"), location_id="LOC1", evses=[evse("E1", "CHARGING")])
    EvseStatusChangeFactory(location=loc, evse_uid="E1", status="CHARGING",
                            changed_at=datetime(2025, 2, 1, tzinfo=UTC))  # fmt: skip
    AuthorizationRecordFactory(cpo_party_id="CPA", created_at=start)
    AuthorizationRecordFactory(cpo_party_id="CPB", created_at=start)
    for receiver in (partner[0], other[0]):
        delivery = PushDeliveryFactory(receiver=receiver, status=DeliveryStatus.FAILED)
        PushAttemptFactory(delivery=delivery, started_at=start)


def get(client: OcpiTestClient, token: str | None, **query: str) -> Any:
    return client.get(URL, token=token, query=query)


def test_a_partner_gets_the_figures_of_each_of_its_parties(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str], seeded: None
) -> None:
    response = get(ocpi_client, partner[1], **MARCH)
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    data = body["data"]
    assert (data["date_from"], data["date_to"]) == ("2025-03-01T00:00:00Z", "2025-03-04T00:00:00Z")
    parties = [(p["country_code"], p["party_id"], p["role"]) for p in data["parties"]]
    assert parties == [("NL", "CPA", "CPO"), ("NL", "MSA", "EMSP")]
    cpo, emsp = data["parties"]
    # as CPO: its own CDR A1 only (10 kWh, to DE*MS1), its EVSE CHARGING the whole period
    assert (cpo["cdrs"]["sessions"], cpo["cdrs"]["kwh"]) == (1, "10.0000")
    assert cpo["cdrs"]["per_counterpart"] == [
        {"country_code": "DE", "party_id": "MS1", "sessions": 1, "kwh": "10.0000"}
    ]
    assert cpo["utilisation"]["evses"][0]["shares"]["CHARGING"] == 1.0
    assert cpo["authorizations"]["total"] == 1
    # as eMSP: A2, NL*CPB's CDR for NL*MSA's token; no utilisation (it operates no EVSE)
    assert emsp["cdrs"]["per_counterpart"] == [
        {"country_code": "NL", "party_id": "CPB", "sessions": 1, "kwh": "4.0000"}
    ]
    assert "utilisation" not in emsp
    # deliveries: only the hub's pushes to this platform
    assert [d["receiver"] for d in data["deliveries"]] == ["Partner A"]
    assert data["deliveries"][0]["failed_attempts"] == 1


@pytest.mark.parametrize("party", ["NL-CPA", "nl-cpa", "NL*CPA"])
def test_one_of_its_parties(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str], seeded: None, party: str
) -> None:
    data = get(ocpi_client, partner[1], party=party, **MARCH).json()["data"]
    assert [(p["party_id"], p["role"]) for p in data["parties"]] == [("CPA", "CPO")]


@pytest.mark.parametrize("party", ["NL-CPB", "NL-ZZZ"])
def test_another_platforms_party_is_404_2001_naming_it(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str], seeded: None, party: str
) -> None:
    # another platform's party and a party nobody has are answered alike: nothing leaks
    response = get(ocpi_client, partner[1], party=party, **MARCH)
    assert response.status_code == 404
    body = response.json()
    assert body["status_code"] == 2001
    assert body.get("data") is None  # no figures of anyone
    assert party.replace("-", "*") in body["status_message"]
    assert body["status_message"].startswith("party:")


def test_no_or_unknown_token_is_401(ocpi_client: OcpiTestClient, partner: Any) -> None:
    for token in (None, "not-a-token"):
        response = get(ocpi_client, token, **MARCH)
        assert response.status_code == 401
        assert response.json()["status_code"] == 2000
        assert response.json().get("data") is None


def test_a_registration_token_is_401(ocpi_client: OcpiTestClient, partner: Any) -> None:
    token_a = issue_token(partner[0], TokenScope.REGISTRATION)
    assert get(ocpi_client, token_a, **MARCH).status_code == 401


@pytest.mark.parametrize(
    ("query", "named"),
    [
        ({"date_from": "March", "date_to": "2025-03-04"}, "date_from"),
        ({"date_from": "2025-03-01", "date_to": "2025-13-01"}, "date_to"),
        ({"date_from": "2025-03-01T00:00:00+01:00"}, "date_from"),
        ({"date_from": "2025-03-04", "date_to": "2025-03-01"}, "date_to"),
        ({"date_from": "2024-01-01", "date_to": "2025-03-01"}, "date_to"),  # 425 days
        ({"party": "NLCPA", **MARCH}, "party"),
    ],
)
def test_bad_parameters_are_2001_naming_them(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str], query: dict[str, str], named: str
) -> None:
    response = get(ocpi_client, partner[1], **query)
    body = response.json()
    assert body["status_code"] == 2001
    assert body["status_message"].startswith(f"{named}:"), body["status_message"]


def test_the_longest_period_is_allowed(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str]
) -> None:
    response = get(ocpi_client, partner[1], date_from="2024-03-01", date_to="2025-03-02")
    data = response.json()["data"]
    assert response.json()["status_code"] == 1000
    assert len(data["parties"][0]["cdrs"]["per_day"]) == 366


def test_without_dates_the_last_days(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str]
) -> None:
    body = get(ocpi_client, partner[1]).json()
    assert body["status_code"] == 1000
    assert len(body["data"]["parties"][0]["cdrs"]["per_day"]) in (30, 31)


def test_it_is_not_a_module_of_the_version_details(
    ocpi_client: OcpiTestClient, partner: tuple[Platform, str]
) -> None:
    endpoints = ocpi_client.get("/ocpi/2.2.1", token=partner[1]).json()["data"]["endpoints"]
    assert not [e for e in endpoints if "analytics" in e["url"] or "analytics" in e["identifier"]]


def test_the_openapi_schema_documents_it(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(out))
    operation = yaml.safe_load(out.read_text())["paths"][URL]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"date_from", "date_to", "party"} <= names
    assert "200" in operation["responses"]
