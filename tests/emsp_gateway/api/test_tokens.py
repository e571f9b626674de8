"""The eMSP-facing tokens RECEIVER (2.2.1 mod_tokens Receiver): writes, ownership, bad input,
and the outbox deliveries to the CPOs (sent by the worker; see the integration tests)."""

from typing import Any

import pytest

from hub.models import PushDelivery, Token, TokenOwner
from hub.ocpi.routing import PartyRef
from hub.services.delivery.rules import ordering_group
from hub.services.tokens import build_token_push, token_key
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, PlatformRoleFactory, registered_party
from tests.fixtures import load_ocpi_fixture

pytestmark = pytest.mark.django_db

URL = "/ocpi/2.2.1/emsp/tokens/DE/MS1/04A1B2C3D4E5F6"
APP_URL = "/ocpi/2.2.1/emsp/tokens/DE/MS1/app-7f3c9e21"


def rfid(**changes: Any) -> dict[str, Any]:
    return {**load_ocpi_fixture("tokens", "token_rfid"), **changes}


def app_user(**changes: Any) -> dict[str, Any]:
    return {**load_ocpi_fixture("tokens", "token_app_user"), **changes}


@pytest.fixture
def cpo_receivers() -> list[Any]:
    """Two CPOs with a tokens RECEIVER, one CPO without, one eMSP with locations only."""
    receivers = []
    for party_id in ("CP1", "CP2"):
        platform, _ = registered_party("CPO", "NL", party_id)
        PlatformEndpointFactory(platform=platform, identifier="tokens", role="RECEIVER")
        receivers.append(platform)
    registered_party("CPO", "NL", "CP3")
    other_emsp, _ = registered_party("EMSP", "DE", "MS2")
    PlatformEndpointFactory(platform=other_emsp, identifier="locations", role="RECEIVER")
    return receivers


def put(client: OcpiTestClient, token: str, body: Any, url: str = URL, **kwargs: Any) -> Any:
    return client.put(url, json=body, token=token, **kwargs)


def assert_2001(response: Any, field: str) -> None:
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert field in response.json()["status_message"]


def test_put_creates_201_stores_as_received_and_queues_one_put_per_cpo(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_receivers: list[Any]
) -> None:
    # when
    response = put(ocpi_client, emsp_token, rfid())
    # then
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    stored = Token.objects.get()
    assert (stored.country_code, stored.party_id, stored.uid, stored.type) == (
        "DE",
        "MS1",
        "04A1B2C3D4E5F6",
        "RFID",
    )
    assert stored.data == rfid()
    assert stored.contract_id == "DE-MS1-C12345678-K"
    deliveries = PushDelivery.objects.filter(module="tokens").order_by("receiver_id")
    assert [(d.receiver_id, d.object_key, d.operation) for d in deliveries] == [
        (cpo_receivers[0].pk, "DE/MS1/04A1B2C3D4E5F6/RFID", "PUT"),
        (cpo_receivers[1].pk, "DE/MS1/04A1B2C3D4E5F6/RFID", "PUT"),
    ]
    assert {(d.from_country_code, d.from_party_id) for d in deliveries} == {("NL", "HUB")}
    # and the token-owner index knows who issued it
    owner = TokenOwner.objects.get()
    assert (owner.uid, owner.type, owner.country_code, owner.party_id, owner.source) == (
        "04A1B2C3D4E5F6",
        "RFID",
        "DE",
        "MS1",
        "TOKENS",
    )


def test_replay_is_200_and_changes_nothing(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_receivers: list[Any]
) -> None:
    put(ocpi_client, emsp_token, rfid())
    PushDelivery.objects.update(status="DELIVERED")
    again = put(ocpi_client, emsp_token, rfid())
    assert again.status_code == 200
    assert again.json()["status_code"] == 1000
    assert PushDelivery.objects.count() == 2  # no new delivery for a replay


def test_stale_put_is_ignored_newer_put_replaces(
    ocpi_client: OcpiTestClient, emsp_token: str
) -> None:
    put(ocpi_client, emsp_token, rfid(last_updated="2024-05-01T10:00:00Z"))
    stale = put(ocpi_client, emsp_token, rfid(valid=False, last_updated="2024-04-01T00:00:00Z"))
    assert stale.status_code == 200
    assert Token.objects.get().valid is True
    newer = put(ocpi_client, emsp_token, rfid(valid=False, last_updated="2024-05-02T00:00:00Z"))
    assert newer.status_code == 200
    stored = Token.objects.get()
    assert stored.valid is False
    assert stored.data["last_updated"] == "2024-05-02T00:00:00Z"


def test_patch_merges_and_queues_a_patch_with_put_fallback(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_receivers: list[Any]
) -> None:
    # given: the token was delivered already
    put(ocpi_client, emsp_token, rfid())
    PushDelivery.objects.update(status="DELIVERED")
    # when: the eMSP invalidates it
    patch = {"valid": False, "last_updated": "2024-05-03T08:00:00Z"}
    response = ocpi_client.patch(URL, json=patch, token=emsp_token)
    # then
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    stored = Token.objects.get()
    assert stored.data == rfid(valid=False, last_updated="2024-05-03T08:00:00Z")
    assert stored.valid is False
    pending = PushDelivery.objects.filter(status="PENDING")
    assert {(d.operation, tuple(d.patch_fields)) for d in pending} == {
        ("PATCH", ("last_updated", "valid"))
    }
    # and the builder sends the changed fields, with ?type=, falling back to a full PUT
    request = build_token_push(pending[0])
    assert request is not None
    assert (request.method, request.path, request.query) == (
        "PATCH",
        "/DE/MS1/04A1B2C3D4E5F6",
        {"type": "RFID"},
    )
    assert request.body == patch
    assert request.fallback is not None
    assert (request.fallback.method, request.fallback.body) == ("PUT", stored.data)
    assert request.fallback.query == {"type": "RFID"}


def test_stale_patch_changes_nothing(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    put(ocpi_client, emsp_token, rfid())
    stale = {"valid": False, "last_updated": "2024-04-01T00:00:00Z"}
    assert ocpi_client.patch(URL, json=stale, token=emsp_token).status_code == 200
    assert Token.objects.get().valid is True


def test_patch_of_an_unknown_token_404_2004(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    patch = {"valid": False, "last_updated": "2024-05-03T08:00:00Z"}
    response = ocpi_client.patch(URL, json=patch, token=emsp_token)
    assert response.status_code == 404
    assert response.json()["status_code"] == 2004
    assert not Token.objects.exists()


def test_patch_without_last_updated_2001(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    put(ocpi_client, emsp_token, rfid())
    response = ocpi_client.patch(URL, json={"valid": False}, token=emsp_token)
    assert_2001(response, "last_updated")
    assert Token.objects.get().valid is True


def test_same_uid_other_type_is_another_token(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    body = rfid(type="APP_USER", whitelist="NEVER")
    response = put(ocpi_client, emsp_token, body, query={"type": "APP_USER"})
    assert response.status_code == 201
    assert put(ocpi_client, emsp_token, rfid()).status_code == 201
    assert sorted(Token.objects.values_list("type", flat=True)) == ["APP_USER", "RFID"]
    app = ocpi_client.get(URL, token=emsp_token, query={"type": "APP_USER"}).json()["data"]
    assert app == body


def test_get_returns_the_hub_copy_unknown_404_2004(
    ocpi_client: OcpiTestClient, emsp_token: str
) -> None:
    put(ocpi_client, emsp_token, app_user(), url=APP_URL, query={"type": "APP_USER"})
    found = ocpi_client.get(APP_URL, token=emsp_token, query={"type": "APP_USER"})
    assert found.json()["data"] == app_user()
    # ids compare case-insensitively (CiString)
    other_case = "/ocpi/2.2.1/emsp/tokens/de/ms1/APP-7F3C9E21"
    again = ocpi_client.get(other_case, token=emsp_token, query={"type": "APP_USER"})
    assert again.json()["data"] == app_user()
    missing = ocpi_client.get(APP_URL, token=emsp_token)  # type defaults to RFID
    assert missing.status_code == 404
    assert missing.json()["status_code"] == 2004


def test_cpo_cannot_put_tokens_even_for_its_own_party(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "DE", "MS1")
    response = put(ocpi_client, token, rfid())
    assert response.status_code == 404
    assert not Token.objects.exists()
    assert not TokenOwner.objects.exists()


def test_emsp_cannot_write_another_emsps_token(
    ocpi_client: OcpiTestClient, emsp_token: str
) -> None:
    registered_party("EMSP", "DE", "MS2")
    body = rfid(party_id="MS2")
    response = put(ocpi_client, emsp_token, body, url="/ocpi/2.2.1/emsp/tokens/DE/MS2/TOK1")
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert not Token.objects.exists()


def test_from_header_of_another_platform_2001(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    registered_party("EMSP", "DE", "MS2")
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS2"}
    response = put(ocpi_client, emsp_token, rfid(), headers=headers)
    assert_2001(response, "OCPI-from")
    assert not Token.objects.exists()


def test_from_header_of_an_own_other_party_than_the_url_2001(
    ocpi_client: OcpiTestClient, emsp_party: tuple[Any, str]
) -> None:
    platform, token = emsp_party
    PlatformRoleFactory(platform=platform, role="EMSP", country_code="DE", party_id="MS9")
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS9"}
    response = put(ocpi_client, token, rfid(), headers=headers)
    assert_2001(response, "OCPI-from")
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    ("body", "query", "field"),
    [
        (rfid(uid="OTHER"), None, "uid"),
        (rfid(party_id="MS2"), None, "party_id"),
        (rfid(country_code="NL"), None, "country_code"),
        (rfid(type="APP_USER"), None, "type"),  # no ?type= means RFID
        (rfid(), {"type": "APP_USER"}, "type"),
    ],
)
def test_url_body_mismatch_2001_nothing_stored(
    ocpi_client: OcpiTestClient,
    emsp_token: str,
    body: dict[str, Any],
    query: dict[str, str] | None,
    field: str,
) -> None:
    response = put(ocpi_client, emsp_token, body, query=query)
    assert_2001(response, field)
    assert not Token.objects.exists()
    assert not TokenOwner.objects.exists()


def test_patch_naming_another_uid_2001(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    put(ocpi_client, emsp_token, rfid())
    patch = {"uid": "OTHER", "valid": False, "last_updated": "2024-05-03T08:00:00Z"}
    assert_2001(ocpi_client.patch(URL, json=patch, token=emsp_token), "uid")
    assert Token.objects.get().valid is True


@pytest.mark.parametrize("value", ["rfid", "CARD", "RFID,APP_USER"])
def test_invalid_type_parameter_2001(
    ocpi_client: OcpiTestClient, emsp_token: str, value: str
) -> None:
    assert_2001(put(ocpi_client, emsp_token, rfid(), query={"type": value}), "type")
    assert_2001(ocpi_client.get(URL, token=emsp_token, query={"type": value}), "type")
    assert not Token.objects.exists()


def test_over_long_uid_in_url_2001(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    uid = "U" * 37
    url = f"/ocpi/2.2.1/emsp/tokens/DE/MS1/{uid}"
    assert_2001(put(ocpi_client, emsp_token, rfid(uid=uid), url=url), "token_uid")
    assert not Token.objects.exists()


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"whitelist": "SOMETIMES"}, "whitelist"),
        ({"valid": "yes"}, "valid"),
        ({"contract_id": "C" * 37}, "contract_id"),
        ({"last_updated": "yesterday"}, "last_updated"),
        ({"pin": "1234"}, "pin"),
    ],
)
def test_invalid_token_2001_naming_the_field(
    ocpi_client: OcpiTestClient, emsp_token: str, change: dict[str, Any], field: str
) -> None:
    assert_2001(put(ocpi_client, emsp_token, rfid(**change)), field)
    assert not Token.objects.exists()


def test_put_addressed_to_an_unknown_cpo_4001_nothing_stored(
    ocpi_client: OcpiTestClient, emsp_token: str
) -> None:
    headers = {"OCPI-to-country-code": "NL", "OCPI-to-party-id": "ZZZ"}
    response = put(ocpi_client, emsp_token, rfid(), headers=headers)
    assert response.json()["status_code"] == 4001
    assert not Token.objects.exists()
    assert not PushDelivery.objects.exists()


def test_object_key_groups_one_uid_and_parses_back() -> None:
    key = token_key(PartyRef("DE", "MS1"), "a/b", "APP_USER")
    assert key == "DE/MS1/A/B/APP_USER"
    assert ordering_group(key) == "DE/MS1/A"


def test_version_details_publish_tokens_per_role(ocpi_client: OcpiTestClient) -> None:
    _, emsp_token = registered_party("EMSP", "DE", "MS1")
    _, cpo_token = registered_party("CPO", "NL", "CP1")

    def tokens_endpoints(token: str) -> set[tuple[str, str]]:
        endpoints = ocpi_client.get("/ocpi/2.2.1", token=token).json()["data"]["endpoints"]
        return {(e["role"], e["url"]) for e in endpoints if e["identifier"] == "tokens"}

    assert {(role, url.split("/ocpi/")[1]) for role, url in tokens_endpoints(emsp_token)} == {
        ("RECEIVER", "2.2.1/emsp/tokens")
    }
    assert {(role, url.split("/ocpi/")[1]) for role, url in tokens_endpoints(cpo_token)} == {
        ("SENDER", "2.2.1/cpo/tokens")
    }
