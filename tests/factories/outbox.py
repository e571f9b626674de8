"""Factories for the outbox (DESIGN §5): deliveries, their attempts, a receiver's circuit."""

from datetime import timedelta
from typing import Any

import factory
from django.utils import timezone

from hub.models import Cdr, DeliveryStatus, PushAttempt, PushDelivery, ReceiverCircuit
from tests.factories.base import HubModelFactory
from tests.factories.parties import PlatformFactory


class PushDeliveryFactory(HubModelFactory[PushDelivery]):
    """A delivery of NL*ABC's location LOC1 to DE*EMS, due now, open for an hour.

    `unrouted=True` leaves the TO/FROM parties empty (a delivery the outbox addresses by
    receiver only); `expired=True` dates it days back; a `created_at` is written after the
    insert (it is `auto_now_add`)."""

    _backdatable = ("created_at",)

    class Meta:
        model = PushDelivery

    class Params:
        now = factory.LazyFunction(timezone.now)
        unrouted = factory.Trait(
            to_country_code="", to_party_id="", from_country_code="", from_party_id=""
        )
        # a delivery whose retry window passed days ago (a dead letter's age)
        expired = factory.Trait(
            next_attempt_at=factory.LazyAttribute(lambda o: o.now - timedelta(days=3)),
            expires_at=factory.LazyAttribute(lambda o: o.now - timedelta(days=1)),
            created_at=factory.LazyAttribute(lambda o: o.now - timedelta(days=4)),
        )

    receiver = factory.SubFactory(PlatformFactory)
    to_country_code = "DE"
    to_party_id = "EMS"
    from_country_code = "NL"
    from_party_id = "HUB"
    module = "locations"
    object_key = "NL/ABC/LOC1"
    operation = "PUT"
    status = DeliveryStatus.PENDING
    next_attempt_at = factory.SelfAttribute("now")
    expires_at = factory.LazyAttribute(lambda o: o.now + timedelta(hours=1))

    @classmethod
    def of_cdr(cls, cdr: Cdr, **fields: Any) -> PushDelivery:
        """The POST of `cdr` to the eMSP its token names."""
        values: dict[str, Any] = {
            "to_country_code": cdr.token_country_code,
            "to_party_id": cdr.token_party_id,
            "from_country_code": cdr.country_code,
            "from_party_id": cdr.party_id,
            "module": "cdrs",
            "object_key": f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}",
            "operation": "POST",
            **fields,
        }
        return cls(**values)


class PushAttemptFactory(HubModelFactory[PushAttempt]):
    """A try of a delivery that the receiver answered HTTP 503; a `started_at` is written
    after the insert (it is `auto_now_add`)."""

    _backdatable = ("started_at",)

    class Meta:
        model = PushAttempt

    delivery = factory.SubFactory(PushDeliveryFactory)
    method = "PUT"
    url = "http://127.0.0.1:9/emsp/locations/NL/ABC/LOC1"
    request_id = "req-1"
    http_status = 503
    ocpi_status = None
    duration_ms = 12.0
    error = "HTTP 503, OCPI None: unavailable"


class ReceiverCircuitFactory(HubModelFactory[ReceiverCircuit]):
    """A receiver's circuit breaker, closed."""

    class Meta:
        model = ReceiverCircuit

    receiver = factory.SubFactory(PlatformFactory)
