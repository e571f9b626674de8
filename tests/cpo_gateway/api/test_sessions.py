"""The CPO-facing sessions RECEIVER: receiver semantics (PUT replaces, PATCH appends charging
periods, stale and replayed updates ignored), routing to the `cdr_token` owner only, ownership
and bad input (2.2.1 mod_sessions; DESIGN §3)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import (
    ConnectionStatus,
    DeliveryStatus,
    Platform,
    PushDelivery,
    Session,
    TokenOwner,
)
from hub.services.sessions import build_session_push
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, registered_party
from tests.fixtures import load_ocpi_fixture

pytestmark = pytest.mark.django_db

URL = "/ocpi/2.2.1/cpo/sessions/NL/CP1/SES-0001"


def session(
    last_updated: str = "2024-05-01T10:20:00Z",
    owner: tuple[str, str] = ("DE", "MS1"),
    **fields: Any,
) -> dict[str, Any]:
    """An ACTIVE session of NL*CP1 (`SES-0001`) for a token of `owner`."""
    data = load_ocpi_fixture("sessions", "session_active")
    data["cdr_token"]["country_code"], data["cdr_token"]["party_id"] = owner
    data["last_updated"] = last_updated
    data.update(fields)
    return data


def period(start: str, kwh: float) -> dict[str, Any]:
    return {"start_date_time": start, "dimensions": [{"type": "ENERGY", "volume": kwh}]}


@pytest.fixture
def emsp_platform() -> Platform:
    """DE*MS1, the token owner, with a sessions RECEIVER."""
    platform, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=platform, identifier="sessions", role="RECEIVER")
    return platform


@pytest.fixture
def other_emsp() -> Platform:
    platform, _ = registered_party("EMSP", "DE", "MS2")
    PlatformEndpointFactory(platform=platform, identifier="sessions", role="RECEIVER")
    return platform


def put(client: OcpiTestClient, token: str, body: Any, url: str = URL, **kwargs: Any) -> Any:
    return client.put(url, json=body, token=token, **kwargs)


def deliveries() -> list[tuple[int, str, str, str, str]]:
    return [
        (d.receiver_id, d.object_key, d.operation, d.from_party_id, d.to_party_id)
        for d in PushDelivery.objects.filter(module="sessions").order_by("pk")
    ]


def deliver_all() -> None:
    """Pretend the eMSP accepted what is pending (no worker in these unit tests)."""
    PushDelivery.objects.filter(module="sessions", status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.DELIVERED, delivered_at=timezone.now()
    )


def assert_2001(response: Any, *words: str) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status_code"] == 2001, body
    for word in words:
        assert word in body["status_message"], body["status_message"]


# ---- writes and receiver semantics --------------------------------------------------------------


def test_put_creates_201_stores_and_queues_a_put_to_the_token_owner_only(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, other_emsp: Platform
) -> None:
    # when
    response = put(ocpi_client, cpo_token, session())
    # then
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    stored = Session.objects.get()
    assert stored.data == session()  # as received, last_updated untouched
    assert (stored.country_code, stored.party_id, stored.session_id) == ("NL", "CP1", "SES-0001")
    assert (stored.token_country_code, stored.token_party_id) == ("DE", "MS1")
    assert (stored.status, stored.location_id, str(stored.kwh)) == ("ACTIVE", "LOC1", "3.5000")
    assert deliveries() == [(emsp_platform.pk, "NL/CP1/SES-0001", "PUT", "CP1", "MS1")]
    delivery = PushDelivery.objects.get()
    assert delivery.from_country_code == "NL"
    assert delivery.to_country_code == "DE"
    window = delivery.expires_at - delivery.created_at
    assert timedelta(hours=23) < window <= timedelta(days=1, seconds=5)
    owner = TokenOwner.objects.get()
    assert (owner.uid, owner.type, owner.party_id, owner.source) == (
        "04A1B2C3D4",
        "RFID",
        "MS1",
        "SESSION",
    )


def test_lower_case_ids_are_keyed_upper_case_and_kept_in_the_payload(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = session(id="ses-0001", party_id="cp1")
    body["cdr_token"]["party_id"] = "ms1"
    response = put(ocpi_client, cpo_token, body, url="/ocpi/2.2.1/cpo/sessions/nl/cp1/ses-0001")
    assert response.status_code == 201
    stored = Session.objects.get()
    assert (stored.party_id, stored.session_id, stored.token_party_id) == ("CP1", "SES-0001", "MS1")
    assert stored.data["id"] == "ses-0001"
    # and the push goes to the owner's spelling of the URL
    request = build_session_push(PushDelivery.objects.get())
    assert request is not None
    assert (request.method, request.path) == ("PUT", "/NL/cp1/ses-0001")


def test_replayed_and_stale_puts_change_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    deliver_all()
    for body in (session(), session(last_updated="2024-05-01T09:00:00Z", status="INVALID")):
        response = put(ocpi_client, cpo_token, body)
        assert response.status_code == 200
        assert response.json()["status_code"] == 1000
    assert Session.objects.get().data == session()
    assert PushDelivery.objects.filter(status=DeliveryStatus.PENDING).count() == 0


def test_put_replaces_the_whole_session_including_charging_periods(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    newer = session(last_updated="2024-05-01T10:30:00Z")
    del newer["charging_periods"]
    del newer["meter_id"]
    assert put(ocpi_client, cpo_token, newer).status_code == 200
    assert Session.objects.get().data == newer  # periods and meter_id gone


def test_patch_merges_fields_and_appends_charging_periods(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    # given
    put(ocpi_client, cpo_token, session())
    deliver_all()
    second = period("2024-05-01T10:20:00Z", 4.0)
    patch = {"kwh": 7.5, "charging_periods": [second], "last_updated": "2024-05-01T10:40:00Z"}
    # when
    response = ocpi_client.patch(URL, json=patch, token=cpo_token)
    # then
    assert response.status_code == 200
    data = Session.objects.get().data
    assert data["kwh"] == 7.5
    assert data["charging_periods"] == [*session()["charging_periods"], second]
    assert data["last_updated"] == "2024-05-01T10:40:00Z"
    assert data["status"] == "ACTIVE"  # untouched
    # when: a PATCH without periods, and one with an empty list
    for n, periods in enumerate((None, []), start=1):
        patch = {"status": "ACTIVE", "last_updated": f"2024-05-01T10:5{n}:00Z"}
        if periods is not None:
            patch["charging_periods"] = periods
        assert ocpi_client.patch(URL, json=patch, token=cpo_token).status_code == 200
    # then: the periods are unchanged
    assert len(Session.objects.get().data["charging_periods"]) == 2


def test_replayed_patch_does_not_append_its_periods_twice(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    patch = {
        "charging_periods": [period("2024-05-01T10:20:00Z", 4.0)],
        "last_updated": "2024-05-01T10:40:00Z",
    }
    for _ in range(2):
        assert ocpi_client.patch(URL, json=patch, token=cpo_token).status_code == 200
    assert len(Session.objects.get().data["charging_periods"]) == 2


def test_stale_patch_changes_nothing_and_queues_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    deliver_all()
    stale = {
        "status": "COMPLETED",
        "charging_periods": [period("2024-05-01T10:20:00Z", 4.0)],
        "last_updated": "2024-05-01T10:00:00Z",
    }
    response = ocpi_client.patch(URL, json=stale, token=cpo_token)
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert Session.objects.get().data == session()
    assert not PushDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_reservation_session_with_na_evse_is_accepted(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = load_ocpi_fixture("sessions", "session_reservation")
    response = put(ocpi_client, cpo_token, body, url="/ocpi/2.2.1/cpo/sessions/NL/CP1/RES-0001")
    assert response.status_code == 201
    assert Session.objects.get().data["evse_uid"] == "#NA"


def test_get_returns_the_hub_copy_and_404_for_unknown(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    assert ocpi_client.get(URL, token=cpo_token).json()["data"] == session()
    missing = ocpi_client.get(URL + "X", token=cpo_token)
    assert missing.status_code == 404


# ---- what is delivered ------------------------------------------------------------------------


def test_deliveries_put_first_then_patch_of_changed_fields_then_put_for_new_periods(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    # given: the first version, not yet delivered, then a PATCH: still one pending PUT
    put(ocpi_client, cpo_token, session())
    patch = {"kwh": 5.0, "last_updated": "2024-05-01T10:25:00Z"}
    ocpi_client.patch(URL, json=patch, token=cpo_token)
    pending = PushDelivery.objects.get(status=DeliveryStatus.PENDING)
    request = build_session_push(pending)
    assert request is not None
    assert (request.method, request.body) == ("PUT", Session.objects.get().data)
    deliver_all()
    # when: fields change after the eMSP acknowledged a version
    patch = {"kwh": 6.0, "status": "ACTIVE", "last_updated": "2024-05-01T10:30:00Z"}
    ocpi_client.patch(URL, json=patch, token=cpo_token)
    # then: a PATCH of those fields, with the PUT as the fallback
    pending = PushDelivery.objects.get(status=DeliveryStatus.PENDING)
    assert (pending.operation, pending.patch_fields) == ("PATCH", ["kwh", "last_updated", "status"])
    request = build_session_push(pending)
    assert request is not None
    assert (request.method, request.path) == ("PATCH", "/NL/CP1/SES-0001")
    assert request.body == patch
    assert request.fallback is not None
    assert request.fallback.method == "PUT"
    deliver_all()
    # when: periods are appended
    patch = {
        "charging_periods": [period("2024-05-01T10:30:00Z", 1.0)],
        "last_updated": "2024-05-01T10:35:00Z",
    }
    ocpi_client.patch(URL, json=patch, token=cpo_token)
    # then: the whole session is PUT (a PATCH would append; a PUT always converges)
    pending = PushDelivery.objects.get(status=DeliveryStatus.PENDING)
    request = build_session_push(pending)
    assert request is not None
    assert request.method == "PUT"
    assert len(request.body["charging_periods"]) == 2


def test_patch_delivery_becomes_a_put_when_no_version_was_acknowledged(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    PushDelivery.objects.update(status=DeliveryStatus.DEAD)  # the eMSP never got the PUT
    ocpi_client.patch(
        URL, json={"kwh": 9.0, "last_updated": "2024-05-01T11:00:00Z"}, token=cpo_token
    )
    pending = PushDelivery.objects.get(status=DeliveryStatus.PENDING)
    assert pending.operation == "PATCH"
    request = build_session_push(pending)
    assert request is not None
    assert request.method == "PUT"
    assert request.body["kwh"] == 9.0


def test_owner_without_sessions_receiver_stores_without_delivery(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("EMSP", "DE", "MS1")  # pulls: no sessions RECEIVER endpoint
    assert put(ocpi_client, cpo_token, session()).status_code == 201
    assert Session.objects.exists()
    assert not PushDelivery.objects.exists()


def test_offline_owner_is_accepted_and_the_delivery_waits_for_it(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    Platform.objects.filter(pk=emsp_platform.pk).update(status=ConnectionStatus.OFFLINE)
    assert put(ocpi_client, cpo_token, session()).status_code == 201
    assert deliveries() == [(emsp_platform.pk, "NL/CP1/SES-0001", "PUT", "CP1", "MS1")]


# ---- routing refusals: nothing stored ----------------------------------------------------------


def assert_nothing_stored() -> None:
    assert not Session.objects.exists()
    assert not PushDelivery.objects.exists()
    assert not TokenOwner.objects.exists()


@pytest.mark.parametrize("to", [("DE", "MS2"), ("NL", "CP1")], ids=["other-emsp", "the-cpo"])
def test_to_contradicting_cdr_token_is_refused_2001(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    other_emsp: Platform,
    to: tuple[str, str],
) -> None:
    headers = {"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]}
    response = put(ocpi_client, cpo_token, session(), headers=headers)
    assert_2001(response, "cdr_token", "DE*MS1")
    assert_nothing_stored()


@pytest.mark.parametrize("to", [("DE", "MS1"), ("de", "ms1"), ("NL", "HUB")])
def test_to_naming_the_token_owner_or_the_hub_is_stored_and_queued(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, to: tuple[str, str]
) -> None:
    headers = {"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]}
    assert put(ocpi_client, cpo_token, session(), headers=headers).status_code == 201
    assert deliveries() == [(emsp_platform.pk, "NL/CP1/SES-0001", "PUT", "CP1", "MS1")]


def test_unknown_token_owner_is_refused_4001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = put(ocpi_client, cpo_token, session(owner=("FR", "XYZ")))
    assert response.status_code == 200
    assert response.json()["status_code"] == 4001
    assert "FR*XYZ" in response.json()["status_message"]
    assert_nothing_stored()


def test_token_owned_by_a_cpo_party_is_refused_4001(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("CPO", "DE", "MS1")
    assert put(ocpi_client, cpo_token, session()).json()["status_code"] == 4001
    assert_nothing_stored()


@pytest.mark.parametrize(
    "platform",
    [{"registered": False, "status": "PLANNED"}],
    ids=["never-registered"],
)
def test_owner_not_connected_for_good_is_refused_4003(
    ocpi_client: OcpiTestClient, cpo_token: str, platform: dict[str, Any]
) -> None:
    registered_party("EMSP", "DE", "MS1", **platform)
    assert put(ocpi_client, cpo_token, session()).json()["status_code"] == 4003
    assert_nothing_stored()


def test_a_session_for_a_suspended_owner_is_kept_and_its_delivery_held(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    # Suspension holds deliveries (issue 10, defect 7): the session waits for reactivation.
    Platform.objects.filter(pk=emsp_platform.pk).update(status=ConnectionStatus.SUSPENDED)
    assert put(ocpi_client, cpo_token, session()).json()["status_code"] == 1000
    assert Session.objects.count() == 1
    delivery = PushDelivery.objects.get(receiver=emsp_platform, module="sessions")
    assert delivery.status == DeliveryStatus.HELD


def test_token_owner_of_a_stored_session_cannot_change(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, other_emsp: Platform
) -> None:
    put(ocpi_client, cpo_token, session())
    moved = session(last_updated="2024-05-01T11:00:00Z", owner=("DE", "MS2"))
    assert_2001(put(ocpi_client, cpo_token, moved), "cdr_token")
    patch = {"cdr_token": moved["cdr_token"], "last_updated": "2024-05-01T11:00:00Z"}
    assert_2001(ocpi_client.patch(URL, json=patch, token=cpo_token), "cdr_token")
    assert Session.objects.get().data == session()
    assert PushDelivery.objects.filter(receiver=other_emsp).count() == 0


# ---- ownership and bad input: nothing stored ----------------------------------------------------


def test_cpo_writing_another_partys_session_404(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    registered_party("CPO", "NL", "CP2")
    body = session(party_id="CP2")
    response = put(ocpi_client, cpo_token, body, url="/ocpi/2.2.1/cpo/sessions/NL/CP2/SES-0001")
    assert response.status_code == 404
    assert_nothing_stored()
    # nor read it
    assert (
        ocpi_client.get("/ocpi/2.2.1/cpo/sessions/NL/CP2/SES-0001", token=cpo_token).status_code
        == 404
    )


def test_emsp_cannot_use_the_cpo_receiver(
    ocpi_client: OcpiTestClient, emsp_platform: Platform
) -> None:
    _, token = registered_party("EMSP", "DE", "MS9")
    body = session(country_code="DE", party_id="MS9")
    response = put(ocpi_client, token, body, url="/ocpi/2.2.1/cpo/sessions/DE/MS9/SES-0001")
    assert response.status_code == 404
    assert_nothing_stored()


def test_from_header_of_another_party_is_refused(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS1"}
    assert_2001(put(ocpi_client, cpo_token, session(), headers=headers), "OCPI-from")
    assert_nothing_stored()


def _without(name: str, inner: str | None = None) -> dict[str, Any]:
    body = session()
    if inner is None:
        del body[name]
    else:
        del body[name][inner]
    return body


def _with(path: tuple[Any, ...], value: Any) -> dict[str, Any]:
    body = session()
    target: Any = body
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("cdr_token"), "cdr_token"),
        (_without("cdr_token", "contract_id"), "cdr_token.contract_id"),
        (_without("cdr_token", "country_code"), "cdr_token.country_code"),
        (_with(("cdr_token", "type"), "rfid"), "cdr_token.type"),
        (_without("auth_method"), "auth_method"),
        (_without("location_id"), "location_id"),
        (_without("evse_uid"), "evse_uid"),
        (_without("currency"), "currency"),
        (_without("start_date_time"), "start_date_time"),
        (_without("kwh"), "kwh"),
        (_without("last_updated"), "last_updated"),
        (_with(("status",), "RESERVED"), "status"),
        (_with(("kwh",), -1), "kwh"),
        (_with(("kwh",), "3.5"), "kwh"),
        (_with(("currency",), "eur"), "currency"),
        (_with(("id",), "S" * 37), "id"),
        (_with(("meter_id",), "x" * 256), "meter_id"),
        (_with(("last_updated",), "2024-05-01T10:20:00+02:00"), "last_updated"),
        (_with(("end_date_time",), "2024-05-01T09:00:00Z"), "end_date_time"),
        (_with(("charging_periods", 0, "dimensions"), []), "charging_periods[0].dimensions"),
        (
            _with(("charging_periods", 0, "dimensions", 0, "type"), "VOLTAGE"),
            "charging_periods[0].dimensions[0].type",
        ),
        (
            _with(("charging_periods", 0, "dimensions", 2, "volume"), 150),
            "charging_periods[0].dimensions[2].volume",
        ),
        (_with(("total_cost",), {"incl_vat": 1.0}), "total_cost.excl_vat"),
        (_with(("surprise",), 1), "surprise"),
    ],
)
def test_invalid_session_is_refused_2001_naming_the_field(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, body: Any, field: str
) -> None:
    assert_2001(put(ocpi_client, cpo_token, body), field)
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (session(id="SES-0002"), "id"),
        (session(party_id="CP2"), "party_id"),
        (session(country_code="BE"), "country_code"),
    ],
)
def test_body_identity_must_equal_the_url(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, body: Any, field: str
) -> None:
    assert_2001(put(ocpi_client, cpo_token, body), field)
    assert_nothing_stored()


def test_non_json_body_is_http_400(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.put(URL, raw="{not json", token=cpo_token)
    assert response.status_code == 400
    assert_nothing_stored()


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"kwh": 5.0}, "last_updated"),
        ({"status": "DONE", "last_updated": "2024-05-01T11:00:00Z"}, "status"),
        ({"kwh": None, "last_updated": "2024-05-01T11:00:00Z"}, "kwh"),
        ({"cdr_token": {"uid": "X"}, "last_updated": "2024-05-01T11:00:00Z"}, "cdr_token"),
        ({"end_date_time": "2024-05-01T09:00:00Z", "last_updated": "2024-05-01T11:00:00Z"}, "end"),
        ({"id": "OTHER", "last_updated": "2024-05-01T11:00:00Z"}, "id"),
    ],
)
def test_invalid_patch_is_refused_2001_and_changes_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, patch: Any, field: str
) -> None:
    put(ocpi_client, cpo_token, session())
    deliver_all()
    assert_2001(ocpi_client.patch(URL, json=patch, token=cpo_token), field)
    assert Session.objects.get().data == session()
    assert not PushDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()


def test_patch_of_an_unknown_session_is_404(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    patch = {"kwh": 1.0, "last_updated": "2024-05-01T11:00:00Z"}
    response = ocpi_client.patch(URL, json=patch, token=cpo_token)
    assert response.status_code == 404
    assert "PUT" in response.json()["status_message"]
    assert_nothing_stored()
