"""Factories for what the hub records about its exchanges with partners: the exchange log,
routed asynchronous requests (commands, charging profiles), proxied URLs, pull-sync state."""

from datetime import timedelta

import factory
from django.utils import timezone

from hub.models import (
    AsyncKind,
    AsyncRequest,
    AsyncState,
    ExchangeDirection,
    OcpiExchange,
    ProxiedUrl,
    SyncState,
)
from tests.factories.base import HubModelFactory
from tests.factories.parties import PlatformFactory

EMSP_RESPONSE_URL = "https://emsp.example/ocpi/commands/START_SESSION/42"


class OcpiExchangeFactory(HubModelFactory[OcpiExchange]):
    """An inbound GET of the eMSP locations that succeeded; a `created_at` is written after
    the insert (it is `auto_now_add`)."""

    _backdatable = ("created_at",)

    class Meta:
        model = OcpiExchange

    direction = ExchangeDirection.INBOUND
    method = "GET"
    url = "http://hub.example/ocpi/2.2.1/emsp/locations"
    module = "locations"
    from_party = "NL*ABC"
    to_party = "DE*XYZ"
    http_status = 200
    ocpi_status = 1000
    duration_ms = 12.5


class AsyncRequestFactory(HubModelFactory[AsyncRequest]):
    """DE*EMS's START_SESSION to NL*ABC, accepted and answered, as
    `hub.services.routing.async_results` records it."""

    _backdatable = ("created_at",)

    class Meta:
        model = AsyncRequest

    kind = AsyncKind.COMMAND
    operation = "START_SESSION"
    requester = factory.SubFactory(PlatformFactory)
    requester_country_code = "DE"
    requester_party_id = "EMS"
    receiver = factory.SubFactory(PlatformFactory)
    receiver_country_code = "NL"
    receiver_party_id = "ABC"
    response_url = EMSP_RESPONSE_URL
    location_id = "Loc1"
    session_id = ""
    request_body = factory.LazyAttribute(
        lambda o: {
            "response_url": EMSP_RESPONSE_URL,
            "token": {"uid": "abc123", "type": "RFID", "contract_id": "DE-EMS-C00000001-A"},
            "location_id": o.location_id,
        }
    )
    response_body = factory.LazyFunction(lambda: {"result": "ACCEPTED", "timeout": 30})
    result_body = None
    state = AsyncState.RESULT_RECEIVED
    timeout_s = 30
    correlation_id = "corr-cmd-1"


class ProxiedUrlFactory(HubModelFactory[ProxiedUrl]):
    """A page link of a receiver's locations, handed to a caller, valid for an hour."""

    class Meta:
        model = ProxiedUrl

    target_url = "http://127.0.0.1:9/page"
    receiver = factory.SubFactory(PlatformFactory)
    caller = factory.SelfAttribute("receiver")
    module = "locations"
    gateway = "emsp"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


class SyncStateFactory(HubModelFactory[SyncState]):
    """Where the pull sync of a party's module stands (never run)."""

    class Meta:
        model = SyncState

    platform = factory.SubFactory(PlatformFactory)
    country_code = "NL"
    party_id = "ABC"
    module = "locations"
