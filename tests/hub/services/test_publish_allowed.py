"""Unpublished locations reach only the eMSPs of the tokens in `publish_allowed_to`."""

from typing import Any

import pytest

from hub.models import PushDelivery, TokenSource
from hub.ocpi.routing import PartyRef
from hub.services.locations import LocationAddress, location_write
from hub.services.routing.token_index import token_owner_learn
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, registered_party
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db


@pytest.fixture
def parties() -> dict[str, Any]:
    cpo, _ = registered_party("CPO", "NL", "CP1")
    emsp_a, token_a = registered_party("EMSP", "DE", "MSA")
    emsp_b, token_b = registered_party("EMSP", "DE", "MSB")
    for platform in (emsp_a, emsp_b):
        PlatformEndpointFactory(platform=platform, identifier="locations", role="RECEIVER")
    token_owner_learn(
        owner=PartyRef("DE", "MSA"), uid="RFID-1", token_type="RFID", source=TokenSource.TOKENS
    )
    return {"cpo": cpo, "a": emsp_a, "b": emsp_b, "token_a": token_a, "token_b": token_b}


def restricted(allowed: list[dict[str, str]]) -> dict[str, Any]:
    body = location("PRIV")
    body["publish"] = False
    body["publish_allowed_to"] = allowed
    return body


def test_restricted_location_delivered_only_to_the_tokens_emsp(parties: dict[str, Any]) -> None:
    location_write(
        owner=parties["cpo"],
        address=LocationAddress(PartyRef("NL", "CP1"), "PRIV"),
        method="PUT",
        data=restricted([{"uid": "rfid-1", "type": "RFID"}]),
    )
    receivers = set(PushDelivery.objects.values_list("receiver_id", flat=True))
    assert receivers == {parties["a"].pk}


def test_private_location_without_allowed_list_goes_nowhere(parties: dict[str, Any]) -> None:
    location_write(
        owner=parties["cpo"],
        address=LocationAddress(PartyRef("NL", "CP1"), "PRIV"),
        method="PUT",
        data=restricted([]),
    )
    assert not PushDelivery.objects.exists()


def test_restricted_location_visible_only_to_the_allowed_emsp(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    location_write(
        owner=parties["cpo"],
        address=LocationAddress(PartyRef("NL", "CP1"), "PRIV"),
        method="PUT",
        data=restricted([{"uid": "RFID-1"}]),
    )
    seen_by_a = ocpi_client.get("/ocpi/2.2.1/emsp/locations", token=parties["token_a"])
    seen_by_b = ocpi_client.get("/ocpi/2.2.1/emsp/locations", token=parties["token_b"])
    assert [o["id"] for o in seen_by_a.json()["data"]] == ["PRIV"]
    assert seen_by_b.json()["data"] == []
    assert seen_by_b["X-Total-Count"] == "0"
    assert (
        ocpi_client.get("/ocpi/2.2.1/emsp/locations/PRIV", token=parties["token_b"]).status_code
        == 404
    )
