"""HubClientInfo pushes through the outbox (2.2.1 mod_hub_client_info): who gets a delivery
when a platform's status changes, what the request built at send time looks like, and the
directory a newly CONNECTED platform is sent."""

import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from django.utils import timezone

from hub.models import ConnectionStatus, Platform, PushAttempt, PushDelivery
from hub.ocpi import client as ocpi_client_module
from hub.ocpi.datetimes import format_datetime
from hub.services.delivery.sending import delivery_send
from hub.services.registry.clientinfo import build_clientinfo_push, clientinfo_send_directory
from hub.services.registry.credentials import credentials_unregister
from hub.services.registry.status import platform_set_status
from tests.factories import PlatformEndpointFactory, PlatformFactory, PlatformRoleFactory

pytestmark = pytest.mark.django_db


def platform(
    country_code: str,
    party_id: str,
    role: str = "EMSP",
    *,
    status: str = ConnectionStatus.CONNECTED,
    registered: bool = True,
    clientinfo_receiver: bool = True,
) -> Platform:
    created = PlatformFactory(status=status, registered=registered, name=party_id)
    PlatformRoleFactory(platform=created, role=role, country_code=country_code, party_id=party_id)
    if clientinfo_receiver:
        PlatformEndpointFactory(
            platform=created,
            identifier="hubclientinfo",
            role="RECEIVER",
            url=f"http://127.0.0.1:9/{party_id}/ocpi/2.2.1/hubclientinfo/",
        )
    return created


@pytest.fixture
def parties() -> dict[str, Platform]:
    return {
        "subject": platform("NL", "CPA", "CPO"),
        "listener": platform("DE", "MSA"),
        "offline": platform("DE", "MSB", status=ConnectionStatus.OFFLINE),
        "no_endpoint": platform("DE", "MSC", clientinfo_receiver=False),
        "unregistered": platform("DE", "MSD", registered=False),
        "planned": platform("DE", "MSE", status=ConnectionStatus.PLANNED, registered=False),
    }


def clientinfo_deliveries(**filters: Any) -> list[PushDelivery]:
    return list(PushDelivery.objects.filter(module="hubclientinfo", **filters).order_by("pk"))


def test_status_change_is_pushed_to_connected_receivers_only(parties: dict[str, Any]) -> None:
    # when
    platform_set_status(platform=parties["subject"], status=ConnectionStatus.OFFLINE)
    # then: one PUT delivery of NL/CPA/CPO, to the connected platform with the endpoint only
    deliveries = clientinfo_deliveries()
    assert [(d.receiver_id, d.object_key, d.operation) for d in deliveries] == [
        (parties["listener"].pk, "NL/CPA/CPO", "PUT")
    ]


def test_request_is_built_at_send_time_without_routing_headers(parties: dict[str, Any]) -> None:
    subject = parties["subject"]
    platform_set_status(platform=subject, status=ConnectionStatus.OFFLINE)
    (delivery,) = clientinfo_deliveries()
    # when: the status changes again before the delivery is sent
    platform_set_status(platform=subject, status=ConnectionStatus.CONNECTED)
    request = build_clientinfo_push(delivery)
    # then: the request carries the current state, at the party's URL, unrouted
    subject.refresh_from_db()
    assert request is not None
    assert (request.method, request.path, request.routed) == ("PUT", "/NL/CPA", False)
    assert request.body == {
        "party_id": "CPA",
        "country_code": "NL",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": format_datetime(subject.status_changed_at),
    }
    # and the two changes folded into one pending delivery
    assert len(clientinfo_deliveries(receiver=parties["listener"])) == 1


def test_delivery_on_the_wire_has_no_ocpi_routing_headers(
    parties: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={"status_code": 1000, "status_message": "OK", "timestamp": "2024-01-01T00:00:00Z"},
        )

    wire = httpx.Client(transport=httpx.MockTransport(answer))
    monkeypatch.setattr(ocpi_client_module, "shared_http_client", lambda: wire)
    platform_set_status(platform=parties["subject"], status=ConnectionStatus.OFFLINE)
    (delivery,) = clientinfo_deliveries()
    # when
    assert delivery_send(delivery_id=delivery.pk) == "delivered"
    # then
    (sent,) = seen
    assert sent.method == "PUT"
    assert str(sent.url) == "http://127.0.0.1:9/MSA/ocpi/2.2.1/hubclientinfo/NL/CPA"
    assert not [h for h in sent.headers if h.lower().startswith("ocpi-")]
    assert sent.headers["Authorization"].startswith("Token ")
    assert json.loads(sent.content)["status"] == "OFFLINE"
    assert PushAttempt.objects.get(delivery=delivery).http_status == 200


def test_unregister_announces_suspended(parties: dict[str, Any]) -> None:
    # when: the platform deletes its credentials
    credentials_unregister(platform=parties["subject"])
    # then: ClientInfo is never deleted; its party is announced SUSPENDED
    (delivery,) = clientinfo_deliveries()
    request = build_clientinfo_push(delivery)
    assert request is not None
    assert request.body["status"] == "SUSPENDED"
    assert request.method == "PUT"


def test_a_role_that_is_gone_is_announced_suspended(parties: dict[str, Any]) -> None:
    platform_set_status(platform=parties["subject"], status=ConnectionStatus.OFFLINE)
    (delivery,) = clientinfo_deliveries()
    parties["subject"].roles.all().delete()
    request = build_clientinfo_push(delivery)
    assert request is not None
    assert request.body == {
        "party_id": "CPA",
        "country_code": "NL",
        "role": "CPO",
        "status": "SUSPENDED",
        "last_updated": format_datetime(delivery.created_at),
    }


def test_no_change_no_delivery(parties: dict[str, Any]) -> None:
    platform_set_status(platform=parties["subject"], status=ConnectionStatus.CONNECTED)
    assert clientinfo_deliveries() == []


def test_every_role_of_the_platform_is_announced(parties: dict[str, Any]) -> None:
    subject = parties["subject"]
    PlatformRoleFactory(platform=subject, role="EMSP", country_code="NL", party_id="CPA")
    platform_set_status(platform=subject, status=ConnectionStatus.OFFLINE)
    assert sorted(d.object_key for d in clientinfo_deliveries()) == ["NL/CPA/CPO", "NL/CPA/EMSP"]


def test_connected_platform_is_sent_the_directory_later(
    parties: dict[str, Any], settings: Any
) -> None:
    settings.OCPI_CLIENTINFO_DIRECTORY_DELAY_S = 2.0
    subject = parties["subject"]
    platform_set_status(platform=subject, status=ConnectionStatus.OFFLINE)
    PushDelivery.objects.all().delete()
    before = timezone.now()
    # when: it comes back
    platform_set_status(platform=subject, status=ConnectionStatus.CONNECTED)
    # then: the others hear about it, and it gets every party it may see but never-invited ones
    to_subject = clientinfo_deliveries(receiver=subject)
    assert sorted(d.object_key for d in to_subject) == [
        "DE/MSA/EMSP",
        "DE/MSB/EMSP",
        "DE/MSC/EMSP",
        "DE/MSD/EMSP",
    ]
    assert {(d.to_country_code, d.to_party_id) for d in to_subject} == {("NL", "CPA")}
    # a moment later, so that a partner that just registered has stored the hub's token
    assert all(d.next_attempt_at >= before + timedelta(seconds=1.9) for d in to_subject)
    assert [d.object_key for d in clientinfo_deliveries(receiver=parties["listener"])] == [
        "NL/CPA/CPO"
    ]


def test_directory_needs_the_receiver_endpoint(parties: dict[str, Any]) -> None:
    assert clientinfo_send_directory(platform=parties["no_endpoint"]) == []
    assert clientinfo_deliveries(receiver=parties["no_endpoint"]) == []


def test_directory_can_be_turned_off(parties: dict[str, Any], settings: Any) -> None:
    settings.OCPI_CLIENTINFO_DIRECTORY_ON_CONNECT = False
    platform_set_status(platform=parties["offline"], status=ConnectionStatus.CONNECTED)
    assert clientinfo_deliveries(receiver=parties["offline"]) == []
    assert len(clientinfo_deliveries(receiver=parties["listener"])) == 1
