"""Unpublished locations reach only the eMSPs of the tokens in `publish_allowed_to`."""

import importlib
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import LocationAudience, PushDelivery, TokenSource
from hub.ocpi.routing import PartyRef
from hub.services.locations import LocationAddress, location_write
from hub.services.routing.token_index import token_owner_learn
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, TokenFactory, registered_party
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db

fill_audience = importlib.import_module("hub.migrations.0023_location_audience").fill_audience


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


def store_restricted(parties: dict[str, Any], allowed: list[dict[str, str]], **extra: Any) -> None:
    location_write(
        owner=parties["cpo"],
        address=LocationAddress(PartyRef("NL", "CP1"), "PRIV"),
        method="PUT",
        data={**restricted(allowed), **extra},
    )


def ids_seen(ocpi_client: OcpiTestClient, token: str) -> tuple[list[str], str]:
    """The location ids on the caller's first page, and its X-Total-Count."""
    answer = ocpi_client.get("/ocpi/2.2.1/emsp/locations", token=token)
    assert answer.status_code == 200, answer.content
    return [o["id"] for o in answer.json()["data"]], answer["X-Total-Count"]


@pytest.mark.parametrize(
    ("entry", "a_sees"),
    [
        ({"uid": "rfid-1", "type": "RFID"}, True),  # CiString: any case
        ({"uid": "RFID-1", "type": "APP_USER"}, False),  # the type must match when given
        ({"uid": "RFID-1"}, True),  # no type: any type of that uid
        ({"uid": "RFID-2", "type": "RFID"}, False),  # nobody's token
        ({"visual_number": "DF000-2001-8999", "issuer": "Blue Mobility"}, True),
        ({"visual_number": "DF000-2001-8999", "issuer": "Red Mobility"}, False),
        ({"visual_number": "DF000-2001-8999"}, False),  # without its issuer it names nothing
        ({"group_id": "FAMILY-7"}, True),
        ({"group_id": "FAMILY-8"}, False),
        # visual_number + issuer take precedence over group_id, as they do for delivery
        ({"visual_number": "OTHER", "issuer": "Blue Mobility", "group_id": "FAMILY-7"}, False),
    ],
)
def test_each_kind_of_publish_token_is_matched_in_the_page_query(
    parties: dict[str, Any], ocpi_client: OcpiTestClient, entry: dict[str, str], a_sees: bool
) -> None:
    # given: MSA's stored token (visual number, issuer, group) and its uid in the owner index
    token = TokenFactory(party=("DE", "MSA"), uid="TOK-9")
    token.data["group_id"] = "FAMILY-7"
    token.save()
    store_restricted(parties, [entry])
    # then: MSA sees the location exactly when the entry names one of its tokens; MSB never
    assert ids_seen(ocpi_client, parties["token_a"]) == ((["PRIV"], "1") if a_sees else ([], "0"))
    assert ids_seen(ocpi_client, parties["token_b"]) == ([], "0")
    # and the delivery path, which resolves the same entries in Python, agrees
    delivered = PushDelivery.objects.filter(receiver=parties["a"]).exists()
    assert delivered is a_sees


def test_a_token_learnt_after_the_location_counts_at_once(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    store_restricted(parties, [{"uid": "LATE-1", "type": "RFID"}])
    assert ids_seen(ocpi_client, parties["token_b"]) == ([], "0")
    token_owner_learn(
        owner=PartyRef("DE", "MSB"), uid="late-1", token_type="RFID", source=TokenSource.TOKENS
    )
    assert ids_seen(ocpi_client, parties["token_b"]) == (["PRIV"], "1")


def test_a_rewrite_replaces_the_audience(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    token_owner_learn(
        owner=PartyRef("DE", "MSB"), uid="RFID-B", token_type="RFID", source=TokenSource.TOKENS
    )
    store_restricted(parties, [{"uid": "RFID-1", "type": "RFID"}])
    # when: the CPO moves the location from MSA's driver to MSB's
    store_restricted(
        parties, [{"uid": "RFID-B", "type": "RFID"}], last_updated="2024-06-01T00:00:00Z"
    )
    assert ids_seen(ocpi_client, parties["token_a"]) == ([], "0")
    assert ids_seen(ocpi_client, parties["token_b"]) == (["PRIV"], "1")
    assert LocationAudience.objects.get().uid == "RFID-B"
    # when: it becomes public, no entry is left, and everyone sees it
    published = location("PRIV")
    published["last_updated"] = "2024-07-01T00:00:00Z"
    location_write(
        owner=parties["cpo"],
        address=LocationAddress(PartyRef("NL", "CP1"), "PRIV"),
        method="PUT",
        data=published,
    )
    assert not LocationAudience.objects.exists()
    assert ids_seen(ocpi_client, parties["token_a"]) == (["PRIV"], "1")


def test_a_location_patch_making_it_private_takes_effect(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    address = LocationAddress(PartyRef("NL", "CP1"), "PRIV")
    location_write(owner=parties["cpo"], address=address, method="PUT", data=location("PRIV"))
    location_write(
        owner=parties["cpo"],
        address=address,
        method="PATCH",
        data={
            "publish": False,
            "publish_allowed_to": [{"uid": "RFID-1", "type": "RFID"}],
            "last_updated": "2024-06-01T00:00:00Z",
        },
    )
    assert ids_seen(ocpi_client, parties["token_a"]) == (["PRIV"], "1")
    assert ids_seen(ocpi_client, parties["token_b"]) == ([], "0")


def test_restricted_locations_cost_the_page_no_query(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    def statements_of_a_page() -> list[str]:
        """The page's statements about locations and tokens (not the directory's reads,
        which another test's write in a parallel worker may make this request repeat)."""
        with CaptureQueriesContext(connection) as captured:
            ocpi_client.get("/ocpi/2.2.1/emsp/locations", token=parties["token_a"])
        return [
            q["sql"]
            for q in captured
            if any(t in q["sql"] for t in ('"hub_location"', '"hub_token', "hub_locationaudience"))
        ]

    before = statements_of_a_page()
    assert len(before) == 2  # the count and the page
    for number in range(5):
        location_write(
            owner=parties["cpo"],
            address=LocationAddress(PartyRef("NL", "CP1"), f"PRIV{number}"),
            method="PUT",
            data={**restricted([{"uid": "RFID-1"}, {"group_id": "G"}]), "id": f"PRIV{number}"},
        )
    # the same two statements: no lookup of the restricted locations or of their tokens
    assert len(statements_of_a_page()) == 2
    assert ids_seen(ocpi_client, parties["token_a"])[1] == "5"


def test_the_migration_fills_the_audience_of_stored_locations(
    parties: dict[str, Any], ocpi_client: OcpiTestClient
) -> None:
    store_restricted(parties, [{"uid": "RFID-1", "type": "RFID"}, {"group_id": "G"}])
    wanted = list(LocationAudience.objects.values_list("uid", "token_type", "group_id"))
    LocationAudience.objects.all().delete()  # as stored before migration 0023
    fill_audience(django_apps, None)
    assert list(LocationAudience.objects.values_list("uid", "token_type", "group_id")) == wanted
    assert wanted == [("RFID-1", "RFID", None), (None, None, "G")]
    assert ids_seen(ocpi_client, parties["token_a"]) == (["PRIV"], "1")
