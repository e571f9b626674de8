"""The eMSP-facing commands RECEIVER and the hub's result URLs (2.2.1 mod_commands): bad input,
who may use which token, routing decisions the hub makes itself, and who may post a result.

No partner answers here (no network): requests that would be forwarded are either refused before
forwarding or addressed to a CPO without the interface. Forwarding end to end is
tests/integration/test_commands.py.
"""

import copy
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import (
    AsyncRequest,
    AsyncState,
    Location,
    OcpiExchange,
    Platform,
    PushDelivery,
    Session,
    TokenOwner,
)
from hub.services.routing.async_results import async_requests_expire, build_async_result_push
from hub.services.routing.commands import inferred_commands_endpoint
from tests.conftest import OcpiTestClient
from tests.factories import (
    AsyncRequestFactory,
    PlatformEndpointFactory,
    PlatformRoleFactory,
    registered_party,
)

pytestmark = pytest.mark.django_db

COMMANDS = "/ocpi/2.2.1/emsp/commands"
EMSP_URL = "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/42"


def token(country_code: str = "DE", party_id: str = "MS1", uid: str = "TOK1") -> dict[str, Any]:
    return {
        "country_code": country_code,
        "party_id": party_id,
        "uid": uid,
        "type": "APP_USER",
        "contract_id": "DE-MS1-C00001",
        "issuer": "MS1 Mobility",
        "valid": True,
        "whitelist": "ALLOWED",
        "last_updated": "2024-05-01T10:00:00Z",
    }


def start_session(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response_url": EMSP_URL,
        "token": token(),
        "location_id": "LOC1",
        "evse_uid": "EVSE1",
        "connector_id": "1",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}


def reserve_now(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "response_url": EMSP_URL,
        "token": token(),
        "expiry_date": "2030-01-01T12:00:00Z",
        "reservation_id": "RES1",
        "location_id": "LOC1",
    }
    body.update(changes)
    return body


def store_location(
    country_code: str = "NL", party_id: str = "CP1", location_id: str = "LOC1"
) -> None:
    Location.objects.create(
        country_code=country_code,
        party_id=party_id,
        location_id=location_id.upper(),
        data={"id": location_id, "country_code": country_code, "party_id": party_id},
        last_updated=timezone.now(),
    )


def store_session(
    session_id: str = "SES1",
    cpo: tuple[str, str] = ("NL", "CP1"),
    emsp: tuple[str, str] = ("DE", "MS1"),
) -> Session:
    return Session.objects.create(
        country_code=cpo[0],
        party_id=cpo[1],
        session_id=session_id.upper(),
        data={"id": session_id},
        status="ACTIVE",
        token_country_code=emsp[0],
        token_party_id=emsp[1],
        start_date_time=timezone.now(),
        last_updated=timezone.now(),
    )


@pytest.fixture
def cpo_party() -> tuple[Platform, str]:
    platform, cpo_token = registered_party("CPO", "NL", "CP1")
    PlatformEndpointFactory(
        platform=platform,
        identifier="commands",
        role="RECEIVER",
        url="http://127.0.0.1:9/ocpi/2.2.1/commands",
    )
    return platform, cpo_token


def post(client: OcpiTestClient, token_: str, command: str, body: Any, **kwargs: Any) -> Any:
    return client.post(f"{COMMANDS}/{command}", json=body, token=token_, **kwargs)


def nothing_happened() -> None:
    assert not AsyncRequest.objects.exists()
    assert not TokenOwner.objects.exists()
    assert not PushDelivery.objects.exists()
    assert not OcpiExchange.objects.filter(direction="OUT").exists()


# ---- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "body", "field"),
    [
        ("START_SESSION", start_session(response_url=None), "response_url"),
        ("START_SESSION", start_session(response_url="ftp://emsp.example.com/x"), "response_url"),
        ("START_SESSION", start_session(evse_uid=None), "evse_uid"),
        ("START_SESSION", start_session(location_id="L" * 37), "location_id"),
        ("START_SESSION", start_session(token={**token(), "type": "rfid"}), "token.type"),
        ("START_SESSION", start_session(token={**token(), "whitelist": None}), "token.whitelist"),
        ("START_SESSION", start_session(colour="red"), "colour"),
        ("STOP_SESSION", {"response_url": EMSP_URL}, "session_id"),
        ("RESERVE_NOW", reserve_now(expiry_date="2030-01-01T12:00:00+01:00"), "expiry_date"),
        ("RESERVE_NOW", {**reserve_now(), "reservation_id": ""}, "reservation_id"),
        ("CANCEL_RESERVATION", {"response_url": EMSP_URL, "reservation_id": 7}, "reservation_id"),
        (
            "UNLOCK_CONNECTOR",
            {"response_url": EMSP_URL, "location_id": "LOC1", "evse_uid": "E1"},
            "connector_id",
        ),
        ("START_SESSION", [start_session()], "non_field_errors"),
    ],
)
def test_invalid_command_is_2001_naming_the_field_and_nothing_happens(
    ocpi_client: OcpiTestClient,
    emsp_token: str,
    cpo_party: Any,
    command: str,
    body: Any,
    field: str,
) -> None:
    store_location()
    # when
    response = post(ocpi_client, emsp_token, command, body)
    # then
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    if field != "non_field_errors":
        assert field in response.json()["status_message"]
    nothing_happened()


@pytest.mark.parametrize("command", ["start_session", "REBOOT", "START_SESSION_"])
def test_unknown_command_is_404_listing_the_command_types(
    ocpi_client: OcpiTestClient, emsp_token: str, command: str
) -> None:
    response = post(ocpi_client, emsp_token, command, start_session())
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert "START_SESSION" in response.json()["status_message"]
    nothing_happened()


def test_non_json_body_is_http_400(ocpi_client: OcpiTestClient, emsp_token: str) -> None:
    response = ocpi_client.post(f"{COMMANDS}/START_SESSION", raw="{nope", token=emsp_token)
    assert response.status_code == 400
    nothing_happened()


def test_a_cpo_cannot_send_commands(ocpi_client: OcpiTestClient, cpo_party: Any) -> None:
    store_location()
    response = post(
        ocpi_client, cpo_party[1], "START_SESSION", start_session(token=token("NL", "CP1"))
    )
    assert response.status_code == 403
    nothing_happened()


def test_response_url_the_hub_may_not_call_is_2001(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any, settings: Any
) -> None:
    # given: the production URL policy (no private addresses)
    settings.OCPI_ALLOW_PRIVATE_URLS = False
    store_location()
    body = start_session(response_url="http://127.0.0.1:8000/ocpi/commands/1")
    # when
    response = post(ocpi_client, emsp_token, "START_SESSION", body)
    # then
    assert response.json()["status_code"] == 2001
    assert "response_url" in response.json()["status_message"]
    nothing_happened()


# ---- tokens: an eMSP may only use its own ----------------------------------------------------


def test_token_of_another_emsp_is_refused(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    # given: another eMSP exists; the caller sends its token
    registered_party("EMSP", "DE", "MS2")
    store_location()
    for command, body in (
        ("START_SESSION", start_session(token=token("DE", "MS2"))),
        ("RESERVE_NOW", reserve_now(token=token("DE", "MS2"))),
    ):
        # when
        response = post(ocpi_client, emsp_token, command, body)
        # then
        assert response.json()["status_code"] == 2001
        assert "token" in response.json()["status_message"]
        assert "own tokens" in response.json()["status_message"]
    nothing_happened()


def test_token_must_belong_to_the_from_party(ocpi_client: OcpiTestClient, cpo_party: Any) -> None:
    # given: one platform hosting two eMSP parties
    platform, emsp_token = registered_party("EMSP", "DE", "MS1")
    PlatformRoleFactory(platform=platform, role="EMSP", country_code="DE", party_id="MS2")
    store_location()
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS2"}
    # when: FROM is MS2, the token is MS1's
    response = post(ocpi_client, emsp_token, "START_SESSION", start_session(), headers=headers)
    # then
    assert response.json()["status_code"] == 2001
    assert "token" in response.json()["status_message"]
    nothing_happened()


def test_from_header_of_another_platform_is_refused(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    registered_party("EMSP", "DE", "MS2")
    store_location()
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS2"}
    body = start_session(token=token("DE", "MS2"))
    response = post(ocpi_client, emsp_token, "START_SESSION", body, headers=headers)
    assert response.json()["status_code"] == 2001
    nothing_happened()


# ---- routing decisions the hub makes itself ----------------------------------------------------


def test_unknown_location_is_2003(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    for command, body in (
        ("START_SESSION", start_session(location_id="NOWHERE")),
        ("RESERVE_NOW", reserve_now(location_id="NOWHERE")),
        (
            "UNLOCK_CONNECTOR",
            {
                "response_url": EMSP_URL,
                "location_id": "NOWHERE",
                "evse_uid": "E",
                "connector_id": "1",
            },
        ),
    ):
        response = post(ocpi_client, emsp_token, command, body)
        assert response.status_code == 200
        assert response.json()["status_code"] == 2003
        assert "Unknown Location" in response.json()["status_message"]
    nothing_happened()


def test_location_id_used_by_two_cpos_asks_for_to(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    registered_party("CPO", "NL", "CP2")
    store_location("NL", "CP1", "LOC1")
    store_location("NL", "CP2", "loc1")  # CiString: the same id
    response = post(ocpi_client, emsp_token, "START_SESSION", start_session())
    assert response.json()["status_code"] == 2001
    assert "OCPI-to" in response.json()["status_message"]
    nothing_happened()


def test_stop_of_a_session_the_hub_does_not_know_is_unknown_session(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    # given: a session of the same id, but another eMSP's token
    registered_party("EMSP", "DE", "MS2")
    store_session("SES1", emsp=("DE", "MS2"))
    # when
    response = post(
        ocpi_client, emsp_token, "STOP_SESSION", {"response_url": EMSP_URL, "session_id": "SES1"}
    )
    # then: the hub answers as the CPO would, without routing anything
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    assert body["data"]["result"] == "UNKNOWN_SESSION"
    assert body["data"]["timeout"] == 0
    assert body["data"]["message"][0]["language"] == "en"
    nothing_happened()


def test_cancel_of_a_reservation_the_hub_never_routed_is_4001(
    ocpi_client: OcpiTestClient, emsp_token: str, cpo_party: Any
) -> None:
    body = {"response_url": EMSP_URL, "reservation_id": "RES1"}
    response = post(ocpi_client, emsp_token, "CANCEL_RESERVATION", body)
    assert response.json()["status_code"] == 4001
    assert "reservation_id" in response.json()["status_message"]
    nothing_happened()


def test_cpo_without_commands_receiver_is_4001_and_recorded_failed(
    ocpi_client: OcpiTestClient, emsp_token: str
) -> None:
    # given: a connected CPO that lists no commands endpoint (the hub infers none by default)
    platform, _ = registered_party("CPO", "NL", "CP1")
    PlatformEndpointFactory(
        platform=platform,
        identifier="locations",
        role="SENDER",
        url="http://127.0.0.1:9/ocpi/cpo/2.2.1/locations/",
    )
    store_location()
    # when
    response = post(ocpi_client, emsp_token, "START_SESSION", start_session())
    # then
    assert response.json()["status_code"] == 4001
    assert "commands RECEIVER" in response.json()["status_message"]
    (row,) = AsyncRequest.objects.all()
    assert row.state == AsyncState.FAILED
    assert not OcpiExchange.objects.filter(direction="OUT").exists()


def test_commands_url_is_inferred_from_the_locations_url() -> None:
    platform, _ = registered_party("CPO", "NL", "EXW")
    assert inferred_commands_endpoint(platform) is None
    endpoint = PlatformEndpointFactory(
        platform=platform,
        identifier="locations",
        role="SENDER",
        url="http://127.0.0.1:9/ocpi/cpo/2.2.1/locations/",
    )
    assert inferred_commands_endpoint(platform) == "http://127.0.0.1:9/ocpi/cpo/2.2.1/commands/"
    endpoint.url = "https://cpo.example.com/ocpi/2.2.1/locations"
    endpoint.save()
    assert inferred_commands_endpoint(platform) == "https://cpo.example.com/ocpi/2.2.1/commands"
    endpoint.url = "https://cpo.example.com/ocpi/2.2.1/loc"
    endpoint.save()
    assert inferred_commands_endpoint(platform) is None


# ---- the hub's result URLs -------------------------------------------------------------------


def waiting_command(
    cpo_platform: Platform,
    emsp_platform: Platform,
    operation: str = "START_SESSION",
    state: str = AsyncState.WAITING,
    body: dict[str, Any] | None = None,
) -> AsyncRequest:
    return AsyncRequestFactory(
        operation=operation,
        requester=emsp_platform,
        requester_party_id="MS1",
        receiver=cpo_platform,
        receiver_party_id="CP1",
        response_url=EMSP_URL,
        location_id="",
        request_body=body or start_session(),
        state=state,
        correlation_id="",
        expires_at=timezone.now() + timedelta(seconds=60),
    )


def result_url(row: AsyncRequest, operation: str | None = None) -> str:
    return f"/ocpi/2.2.1/cpo/commands/{operation or row.operation}/{row.pk}"


def relayed(row: AsyncRequest) -> list[tuple[str, Any, str, str]]:
    """(object_key, body sent, FROM party, url) of every result delivery queued for `row`."""
    out = []
    for delivery in PushDelivery.objects.filter(module="commands").order_by("pk"):
        request = build_async_result_push(delivery)
        assert request is not None
        assert delivery.receiver_id == row.requester_id
        assert (delivery.to_country_code, delivery.to_party_id) == ("DE", "MS1")
        out.append((delivery.object_key, request.body, delivery.from_party_id, request.url or ""))
    return out


def test_result_is_stored_and_queued_once_for_the_original_url(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given
    row = waiting_command(cpo_party[0], emsp_party[0])
    result = {"result": "ACCEPTED", "message": [{"language": "en", "text": "Charging"}]}
    # when
    response = ocpi_client.post(result_url(row), json=result, token=cpo_party[1])
    # then: 1000 at once, data omitted
    assert response.status_code == 200
    assert response.json()["status_code"] == 1000
    assert "data" not in response.json()
    row.refresh_from_db()
    assert row.state == AsyncState.RESULT_RECEIVED
    assert row.result_body == result
    assert relayed(row) == [(f"command/{row.pk}/result/0", result, "CP1", EMSP_URL)]
    # when: the CPO posts the same result again (a retry): a no-op
    again = ocpi_client.post(result_url(row), json=result, token=cpo_party[1])
    assert again.json()["status_code"] == 1000
    # and a different one is refused
    other = ocpi_client.post(result_url(row), json={"result": "FAILED"}, token=cpo_party[1])
    assert other.json()["status_code"] == 2001
    assert len(relayed(row)) == 1


def test_result_from_anyone_but_the_cpo_is_404(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: a command sent to NL*CP1; another CPO and the eMSP itself try to answer it
    row = waiting_command(cpo_party[0], emsp_party[0])
    _, other_cpo_token = registered_party("CPO", "NL", "CP2")
    for token_ in (other_cpo_token, emsp_party[1]):
        # when
        response = ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=token_)
        # then: as if the URL did not exist
        assert response.status_code == 404
        assert response.json()["status_message"] == "Unknown response URL"
    row.refresh_from_db()
    assert row.state == AsyncState.WAITING
    assert not PushDelivery.objects.exists()


def test_result_to_a_wrong_or_unknown_url_is_404(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    row = waiting_command(cpo_party[0], emsp_party[0])
    for path in (
        result_url(row, "STOP_SESSION"),
        "/ocpi/2.2.1/cpo/commands/START_SESSION/not-a-uuid",
        "/ocpi/2.2.1/cpo/commands/START_SESSION/1b4e28ba-2fa1-11d2-883f-0016d3cca427",
        f"/ocpi/2.2.1/cpo/chargingprofiles/results/{row.pk}",
    ):
        response = ocpi_client.post(path, json={"result": "ACCEPTED"}, token=cpo_party[1])
        assert response.status_code == 404, path
    assert not PushDelivery.objects.exists()


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"result": "accepted"},
        {"result": "ACCEPTED", "message": {"language": "en", "text": "x"}},
        {"result": "ACCEPTED", "extra": 1},
        ["ACCEPTED"],
    ],
)
def test_invalid_result_is_2001_and_changes_nothing(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any, body: Any
) -> None:
    row = waiting_command(cpo_party[0], emsp_party[0])
    response = ocpi_client.post(result_url(row), json=body, token=cpo_party[1])
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    row.refresh_from_db()
    assert row.state == AsyncState.WAITING
    assert not PushDelivery.objects.exists()


def test_result_before_the_synchronous_answer_is_accepted(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    row = waiting_command(cpo_party[0], emsp_party[0], state=AsyncState.FORWARDED)
    response = ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    assert response.json()["status_code"] == 1000
    row.refresh_from_db()
    assert row.state == AsyncState.RESULT_RECEIVED


def test_result_of_a_refused_command_is_2001(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    row = waiting_command(cpo_party[0], emsp_party[0], state=AsyncState.REFUSED)
    response = ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    assert response.json()["status_code"] == 2001
    assert not PushDelivery.objects.exists()


def test_overdue_command_gets_one_timeout_and_a_late_result_is_refused(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: a command whose result is overdue
    row = waiting_command(cpo_party[0], emsp_party[0])
    later = timezone.now() + timedelta(seconds=61)
    # when
    assert async_requests_expire(now=later)["timed_out"] == 1
    assert async_requests_expire(now=later)["timed_out"] == 0
    # then: one TIMEOUT result from the hub, for the eMSP's original URL
    row.refresh_from_db()
    assert row.state == AsyncState.TIMED_OUT
    ((key, body, from_party, url),) = relayed(row)
    assert body["result"] == "TIMEOUT"
    assert "NL*CP1" in body["message"][0]["text"]
    assert (from_party, url) == ("HUB", EMSP_URL)
    # and the CPO's late result is refused and not relayed
    late = ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    assert late.json()["status_code"] == 2001
    assert "timed out" in late.json()["status_message"]
    assert len(relayed(row)) == 1


def test_cpo_cancelling_a_reservation_posts_a_second_result(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: an accepted reservation
    row = waiting_command(cpo_party[0], emsp_party[0], operation="RESERVE_NOW", body=reserve_now())
    ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    # when: the CPO cancels it later, on the same URL (2.2.1 mod_commands)
    cancel = {"result": "CANCELED_RESERVATION"}
    response = ocpi_client.post(result_url(row), json=cancel, token=cpo_party[1])
    # then: relayed as a second result, once
    assert response.json()["status_code"] == 1000
    ocpi_client.post(result_url(row), json=cancel, token=cpo_party[1])
    assert [(key, body) for key, body, *_ in relayed(row)] == [
        (f"command/{row.pk}/result/0", {"result": "ACCEPTED"}),
        (f"command/{row.pk}/result/1", cancel),
    ]


def test_cancelled_reservation_after_expiry_is_refused(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    body = reserve_now(expiry_date="2020-01-01T12:00:00Z")
    row = waiting_command(cpo_party[0], emsp_party[0], operation="RESERVE_NOW", body=body)
    ocpi_client.post(result_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    cancel = {"result": "CANCELED_RESERVATION"}
    assert (
        ocpi_client.post(result_url(row), json=cancel, token=cpo_party[1]).json()["status_code"]
        == 2001
    )


def test_cancel_reservation_is_routed_to_the_cpo_of_the_reservation(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: the eMSP's accepted RESERVE_NOW RES1 went to NL*CP1 (whose URL refuses connections)
    waiting_command(
        cpo_party[0], emsp_party[0], operation="RESERVE_NOW", body=copy.deepcopy(reserve_now())
    )
    # when
    body = {"response_url": EMSP_URL, "reservation_id": "res1"}
    response = post(ocpi_client, emsp_party[1], "CANCEL_RESERVATION", body)
    # then: the hub tried NL*CP1 (4003: it cannot be reached) and recorded the attempt
    assert response.json()["status_code"] == 4003
    cancel = AsyncRequest.objects.get(operation="CANCEL_RESERVATION")
    assert (cancel.receiver_country_code, cancel.receiver_party_id) == ("NL", "CP1")
    assert cancel.state == AsyncState.FAILED
