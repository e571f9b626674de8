"""Charging profiles through the hub (2.2.1 mod_charging_profiles): bad input on every
endpoint, the hub's own UNKNOWN_SESSION answer, and who may post which result. Forwarding end to
end is tests/integration/test_chargingprofiles.py."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import AsyncKind, AsyncRequest, AsyncState, OcpiExchange, Platform, PushDelivery
from hub.services.routing.async_results import async_requests_expire, build_async_result_push
from tests.conftest import OcpiTestClient
from tests.emsp_gateway.api.test_commands import store_session
from tests.factories import AsyncRequestFactory, PlatformEndpointFactory, registered_party

pytestmark = pytest.mark.django_db

PROFILES = "/ocpi/2.2.1/emsp/chargingprofiles"
EMSP_URL = "https://emsp.example.com/ocpi/2.2.1/chargingprofiles/result/9"


def profile(**changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "charging_rate_unit": "W",
        "min_charging_rate": 1400.5,
        "charging_profile_period": [
            {"start_period": 0, "limit": 11000},
            {"start_period": 1800, "limit": 3700.5},
        ],
    }
    body.update(changes)
    return body


def set_profile(**changes: Any) -> dict[str, Any]:
    return {"charging_profile": profile(**changes), "response_url": EMSP_URL}


def active_profile() -> dict[str, Any]:
    return {"start_date_time": "2024-05-01T10:00:00Z", "charging_profile": profile()}


@pytest.fixture
def cpo_party() -> tuple[Platform, str]:
    platform, token = registered_party("CPO", "NL", "CP1")
    PlatformEndpointFactory(
        platform=platform,
        identifier="chargingprofiles",
        role="RECEIVER",
        url="http://127.0.0.1:9/ocpi/2.2.1/chargingprofiles",
    )
    return platform, token


def nothing_happened() -> None:
    assert not AsyncRequest.objects.exists()
    assert not PushDelivery.objects.exists()
    assert not OcpiExchange.objects.filter(direction="OUT").exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"charging_profile": profile()}, "response_url"),
        ({"response_url": EMSP_URL}, "charging_profile"),
        (set_profile(charging_rate_unit="kW"), "charging_profile.charging_rate_unit"),
        (set_profile(min_charging_rate=8.15), "charging_profile.min_charging_rate"),
        # Found by make fuzz: a rate beyond Decimal's precision crashed the check (500).
        (set_profile(min_charging_rate=1.3e267), "charging_profile.min_charging_rate"),
        (set_profile(duration=-1), "charging_profile.duration"),
        (set_profile(duration="60"), "charging_profile.duration"),
        (
            set_profile(charging_profile_period=[{"start_period": 0}]),
            "charging_profile.charging_profile_period[0].limit",
        ),
        (
            set_profile(charging_profile_period=[{"start_period": 0, "limit": -1}]),
            "charging_profile.charging_profile_period[0].limit",
        ),
        (set_profile(start_date_time="2024-05-01 10:00"), "charging_profile.start_date_time"),
        ({**set_profile(), "session_id": "S1"}, "session_id"),
    ],
)
def test_invalid_set_charging_profile_is_2001_naming_the_field(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any, body: Any, field: str
) -> None:
    store_session("SES1")
    response = ocpi_client.put(f"{PROFILES}/SES1", json=body, token=emsp_party[1])
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(field)
    nothing_happened()


@pytest.mark.parametrize(
    ("method", "query", "field"),
    [
        ("GET", {"response_url": EMSP_URL}, "duration"),
        ("GET", {"duration": "900"}, "response_url"),
        ("GET", {"duration": "ten", "response_url": EMSP_URL}, "duration"),
        ("GET", {"duration": "0", "response_url": EMSP_URL}, "duration"),
        ("GET", {"duration": "900", "response_url": "mailto:x@example.com"}, "response_url"),
        ("DELETE", {}, "response_url"),
        ("DELETE", {"response_url": "not a url"}, "response_url"),
    ],
)
def test_invalid_query_parameters_are_2001_naming_them(
    ocpi_client: OcpiTestClient,
    cpo_party: Any,
    emsp_party: Any,
    method: str,
    query: Any,
    field: str,
) -> None:
    store_session("SES1")
    response = ocpi_client.request(method, f"{PROFILES}/SES1", token=emsp_party[1], query=query)
    assert response.status_code == 200
    assert response.json()["status_code"] == 2001
    assert response.json()["status_message"].startswith(field)
    nothing_happened()


def test_too_long_session_id_is_2001(ocpi_client: OcpiTestClient, emsp_party: Any) -> None:
    response = ocpi_client.put(f"{PROFILES}/{'S' * 37}", json=set_profile(), token=emsp_party[1])
    assert response.json()["status_code"] == 2001
    nothing_happened()


def test_unknown_session_is_answered_unknown_session(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: SES1 exists, but for another eMSP's token
    registered_party("EMSP", "DE", "MS2")
    store_session("SES1", emsp=("DE", "MS2"))
    for method, kwargs in (
        ("PUT", {"json": set_profile()}),
        ("GET", {"query": {"duration": "900", "response_url": EMSP_URL}}),
        ("DELETE", {"query": {"response_url": EMSP_URL}}),
    ):
        # when
        response = ocpi_client.request(method, f"{PROFILES}/SES1", token=emsp_party[1], **kwargs)
        # then
        assert response.json()["status_code"] == 1000
        assert response.json()["data"] == {"result": "UNKNOWN_SESSION", "timeout": 0}
        assert "OCPI-to" in response.json()["status_message"]
    nothing_happened()


def test_invalid_active_charging_profile_from_the_cpo_is_2001(
    ocpi_client: OcpiTestClient, cpo_party: Any
) -> None:
    store_session("SES1")
    body = active_profile()
    del body["start_date_time"]
    response = ocpi_client.put(
        "/ocpi/2.2.1/cpo/chargingprofiles/SES1", json=body, token=cpo_party[1]
    )
    assert response.json()["status_code"] == 2001
    assert "start_date_time" in response.json()["status_message"]
    nothing_happened()


def test_active_charging_profile_for_a_session_nobody_profiled_is_4001(
    ocpi_client: OcpiTestClient, cpo_party: Any
) -> None:
    response = ocpi_client.put(
        "/ocpi/2.2.1/cpo/chargingprofiles/SES404", json=active_profile(), token=cpo_party[1]
    )
    assert response.json()["status_code"] == 4001
    nothing_happened()


def test_an_emsp_cannot_put_active_charging_profiles(
    ocpi_client: OcpiTestClient, emsp_party: Any
) -> None:
    response = ocpi_client.put(
        "/ocpi/2.2.1/cpo/chargingprofiles/SES1", json=active_profile(), token=emsp_party[1]
    )
    assert response.status_code == 403
    nothing_happened()


def profile_request(cpo: Platform, emsp: Platform, operation: str) -> AsyncRequest:
    return AsyncRequestFactory(
        kind=AsyncKind.CHARGING_PROFILE,
        operation=operation,
        requester=emsp,
        requester_party_id="MS1",
        receiver=cpo,
        receiver_party_id="CP1",
        response_url=EMSP_URL,
        location_id="",
        session_id="SES1",
        request_body=set_profile(),
        response_body=None,
        state=AsyncState.WAITING,
        correlation_id="",
        expires_at=timezone.now() + timedelta(seconds=60),
    )


def results_url(row: AsyncRequest) -> str:
    return f"/ocpi/2.2.1/cpo/chargingprofiles/results/{row.pk}"


@pytest.mark.parametrize(
    ("operation", "wrong", "right"),
    [
        ("SET", {"result": "ACCEPTED", "profile": active_profile()}, {"result": "ACCEPTED"}),
        ("CLEAR", {"result": "TIMEOUT"}, {"result": "UNKNOWN"}),
        (
            "GET",
            {"result": "ACCEPTED", "profile": {"charging_profile": profile()}},
            {"result": "ACCEPTED", "profile": active_profile()},
        ),
    ],
)
def test_result_must_be_the_object_of_the_request(
    ocpi_client: OcpiTestClient,
    cpo_party: Any,
    emsp_party: Any,
    operation: str,
    wrong: Any,
    right: Any,
) -> None:
    row = profile_request(cpo_party[0], emsp_party[0], operation)
    refused = ocpi_client.post(results_url(row), json=wrong, token=cpo_party[1])
    assert refused.json()["status_code"] == 2001
    assert not PushDelivery.objects.exists()
    accepted = ocpi_client.post(results_url(row), json=right, token=cpo_party[1])
    assert accepted.json()["status_code"] == 1000
    (delivery,) = PushDelivery.objects.filter(module="chargingprofiles")
    request = build_async_result_push(delivery)
    assert request is not None
    assert (request.url, request.body) == (EMSP_URL, right)


def test_result_from_another_platform_is_404(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    row = profile_request(cpo_party[0], emsp_party[0], "SET")
    _, other = registered_party("CPO", "NL", "CP2")
    response = ocpi_client.post(results_url(row), json={"result": "ACCEPTED"}, token=other)
    assert response.status_code == 404
    assert not PushDelivery.objects.exists()


def test_profile_timeout_sends_nothing_and_a_late_result_is_still_relayed(
    ocpi_client: OcpiTestClient, cpo_party: Any, emsp_party: Any
) -> None:
    # given: an overdue SET (ChargingProfileResultType has no TIMEOUT value)
    row = profile_request(cpo_party[0], emsp_party[0], "SET")
    assert async_requests_expire(now=timezone.now() + timedelta(seconds=61))["timed_out"] == 1
    row.refresh_from_db()
    assert row.state == AsyncState.TIMED_OUT
    assert not PushDelivery.objects.exists()
    # when: the result comes late
    response = ocpi_client.post(results_url(row), json={"result": "ACCEPTED"}, token=cpo_party[1])
    # then: the requester, told nothing so far, gets it
    assert response.json()["status_code"] == 1000
    assert PushDelivery.objects.filter(module="chargingprofiles").count() == 1
