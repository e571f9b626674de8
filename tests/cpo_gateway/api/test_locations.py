"""The CPO-facing locations and tariffs RECEIVER: writes, ownership and bad input."""

import copy
from typing import Any

import pytest

from hub.models import Location, PushDelivery, Tariff
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, registered_party
from tests.integration.test_location_broadcast import location, tariff

pytestmark = pytest.mark.django_db

LOC = "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"


@pytest.fixture
def emsp_receiver() -> Any:
    platform, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=platform, identifier="locations", role="RECEIVER")
    PlatformEndpointFactory(platform=platform, identifier="tariffs", role="RECEIVER")
    return platform


def put(client: OcpiTestClient, token: str, path: str, body: Any, **kwargs: Any) -> Any:
    return client.put(path, json=body, token=token, **kwargs)


def test_put_creates_201_then_replay_200_and_one_delivery_per_receiver(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_receiver: Any
) -> None:
    first = put(ocpi_client, cpo_token, LOC, location())
    assert first.status_code == 201
    assert first.json()["status_code"] == 1000
    again = put(ocpi_client, cpo_token, LOC, location())
    assert again.status_code == 200
    assert Location.objects.get().data == location()
    deliveries = PushDelivery.objects.filter(module="locations")
    assert [(d.receiver_id, d.object_key, d.operation) for d in deliveries] == [
        (emsp_receiver.pk, "NL/CP1/LOC1", "PUT")
    ]


def test_get_returns_the_hub_copy(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    put(ocpi_client, cpo_token, LOC, location())
    assert ocpi_client.get(LOC, token=cpo_token).json()["data"] == location()
    evse = ocpi_client.get(LOC + "/EVSE1", token=cpo_token).json()["data"]
    assert evse["uid"] == "EVSE1"
    assert ocpi_client.get(LOC + "/EVSE1/1", token=cpo_token).json()["data"]["id"] == "1"
    missing = ocpi_client.get(LOC + "/EVSE9", token=cpo_token)
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 2003


def test_evse_put_appends_and_bumps_the_location(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    put(ocpi_client, cpo_token, LOC, location())
    evse = copy.deepcopy(location()["evses"][0])
    evse.update(uid="EVSE2", evse_id="NL*CP1*E2", last_updated="2024-05-02T08:00:00Z")
    for connector in evse["connectors"]:
        connector["last_updated"] = "2024-05-02T08:00:00Z"
    response = put(ocpi_client, cpo_token, LOC + "/EVSE2", evse)
    assert response.status_code == 201
    stored = Location.objects.get()
    assert [e["uid"] for e in stored.data["evses"]] == ["EVSE1", "EVSE2"]
    assert stored.data["last_updated"] == "2024-05-02T08:00:00Z"
    assert stored.evse_rows.count() == 2


def test_connector_patch_bumps_evse_and_location(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    put(ocpi_client, cpo_token, LOC, location())
    patch = {"max_amperage": 16, "last_updated": "2024-05-03T08:00:00Z"}
    response = ocpi_client.patch(LOC + "/EVSE1/1", json=patch, token=cpo_token)
    assert response.status_code == 200
    data = Location.objects.get().data
    assert data["evses"][0]["connectors"][0]["max_amperage"] == 16
    assert data["evses"][0]["last_updated"] == "2024-05-03T08:00:00Z"
    assert data["last_updated"] == "2024-05-03T08:00:00Z"


def test_stale_patch_changes_nothing(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    put(ocpi_client, cpo_token, LOC, location(last_updated="2024-05-01T10:00:00Z"))
    stale = {"status": "OUTOFORDER", "last_updated": "2024-04-01T00:00:00Z"}
    assert ocpi_client.patch(LOC + "/EVSE1", json=stale, token=cpo_token).status_code == 200
    assert Location.objects.get().data["evses"][0]["status"] == "AVAILABLE"


@pytest.mark.parametrize(
    ("path", "method", "body"),
    [
        (LOC, "patch", {"name": "x", "last_updated": "2024-05-01T10:00:00Z"}),
        (LOC + "/EVSE1", "patch", {"status": "BLOCKED", "last_updated": "2024-05-01T10:00:00Z"}),
        (LOC + "/EVSE1", "put", location()["evses"][0]),
    ],
)
def test_write_below_an_unknown_location_404_2003(
    ocpi_client: OcpiTestClient, cpo_token: str, path: str, method: str, body: Any
) -> None:
    response = getattr(ocpi_client, method)(path, json=body, token=cpo_token)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2003
    assert not Location.objects.exists()


def test_cpo_writing_another_partys_location_404_nothing_stored(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("CPO", "NL", "CP2")
    body = location()
    body["party_id"] = "CP2"
    response = put(ocpi_client, cpo_token, "/ocpi/2.2.1/cpo/locations/NL/CP2/LOC1", body)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert not Location.objects.exists()


def test_emsp_cannot_write_locations_even_for_its_own_party(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("EMSP", "NL", "CP1")
    assert put(ocpi_client, token, LOC, location()).status_code == 404
    assert not Location.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"party_id": "CPX"}, "party_id"),
        ({"country_code": "BE"}, "country_code"),
        ({"id": "LOC2"}, "id"),
    ],
)
def test_url_body_mismatch_2001_nothing_stored(
    ocpi_client: OcpiTestClient, cpo_token: str, change: dict[str, str], field: str
) -> None:
    body = {**location(), **change}
    response = put(ocpi_client, cpo_token, LOC, body)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Location.objects.exists()


def test_from_header_other_than_the_url_party_2001(ocpi_client: OcpiTestClient) -> None:
    platform, token = registered_party("CPO", "NL", "CP1")
    from tests.factories import PlatformRoleFactory

    PlatformRoleFactory(platform=platform, role="CPO", country_code="NL", party_id="CP2")
    response = put(
        ocpi_client,
        token,
        LOC,
        location(),
        headers={"OCPI-from-country-code": "NL", "OCPI-from-party-id": "CP2"},
    )
    assert response.json()["status_code"] == 2001
    assert not Location.objects.exists()


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b["coordinates"].update(latitude="152.089444"), "coordinates.latitude"),
        (lambda b: b["coordinates"].update(longitude="5.1"), "coordinates.longitude"),
        (lambda b: b.pop("last_updated"), "last_updated"),
        (lambda b: b.update(time_zone="Mars/Olympus"), "time_zone"),
        (lambda b: b["evses"][0].update(status="FREE"), "evses[0].status"),
        (lambda b: b["evses"][0]["connectors"][0].update(max_voltage="230"), "max_voltage"),
        (lambda b: b.update(city="x" * 46), "city"),
        (lambda b: b.update(last_updated="2024-05-01T10:00:00+02:00"), "last_updated"),
        (lambda b: b.update(unknown_field=1), "unknown_field"),
    ],
)
def test_invalid_location_2001_naming_the_field(
    ocpi_client: OcpiTestClient, cpo_token: str, mutate: Any, field: str
) -> None:
    body = location()
    mutate(body)
    response = put(ocpi_client, cpo_token, LOC, body)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Location.objects.exists()


def test_patch_without_last_updated_2001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    put(ocpi_client, cpo_token, LOC, location())
    response = ocpi_client.patch(LOC + "/EVSE1", json={"status": "BLOCKED"}, token=cpo_token)
    assert response.json()["status_code"] == 2001
    assert "last_updated" in response.json()["status_message"]
    assert Location.objects.get().data["evses"][0]["status"] == "AVAILABLE"


@pytest.mark.parametrize(
    "path",
    [
        "/ocpi/2.2.1/cpo/locations/NL/CP1/" + "L" * 37,
        "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1/" + "E" * 37,
        "/ocpi/2.2.1/cpo/locations/NLD/CP1/LOC1",
        "/ocpi/2.2.1/cpo/locations/NL/CP11/LOC1",
    ],
)
def test_over_long_url_ids_2001(ocpi_client: OcpiTestClient, cpo_token: str, path: str) -> None:
    response = put(ocpi_client, cpo_token, path, location())
    assert response.json()["status_code"] == 2001
    assert not Location.objects.exists()


def test_non_json_body_400(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.put(LOC, raw="{", token=cpo_token)
    assert response.status_code == 400
    assert not Location.objects.exists()


def test_location_delete_is_not_allowed(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.delete(LOC, token=cpo_token)
    assert response.status_code == 405


def test_tariff_put_get_delete(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_receiver: Any
) -> None:
    url = "/ocpi/2.2.1/cpo/tariffs/NL/CP1/T1"
    assert put(ocpi_client, cpo_token, url, tariff()).status_code == 201
    assert put(ocpi_client, cpo_token, url, tariff()).status_code == 200
    assert ocpi_client.get(url, token=cpo_token).json()["data"] == tariff()
    assert ocpi_client.delete(url, token=cpo_token).status_code == 200
    assert ocpi_client.get(url, token=cpo_token).status_code == 404
    assert ocpi_client.delete(url, token=cpo_token).status_code == 404
    operations = list(
        PushDelivery.objects.filter(module="tariffs").values_list("operation", flat=True)
    )
    assert operations == ["DELETE"]  # the pending PUT folded into the DELETE
    assert Tariff.objects.get().deleted_at is not None


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda b: b.update(currency="euro"), "currency"),
        (lambda b: b.update(elements=[]), "elements"),
        (lambda b: b["elements"][0]["price_components"][0].update(type="KWH"), "type"),
        (lambda b: b.update(id="T2"), "id"),
    ],
)
def test_invalid_tariff_2001_nothing_stored(
    ocpi_client: OcpiTestClient, cpo_token: str, mutate: Any, field: str
) -> None:
    body = tariff()
    mutate(body)
    response = put(ocpi_client, cpo_token, "/ocpi/2.2.1/cpo/tariffs/NL/CP1/T1", body)
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]
    assert not Tariff.objects.exists()
