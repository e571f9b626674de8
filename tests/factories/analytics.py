"""Factories for what the hub records for analytics: EVSE status changes and routed
authorizations (hub.models.analytics)."""

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from hub.models import AuthorizationOutcome, AuthorizationRecord, EvseStatusChange
from tests.factories.objects import LocationFactory


class EvseStatusChangeFactory(DjangoModelFactory[EvseStatusChange]):
    """EVSE "1" of a location became AVAILABLE now; the CPO party is the location's."""

    class Meta:
        model = EvseStatusChange

    location = factory.SubFactory(LocationFactory)
    country_code = factory.SelfAttribute("location.country_code")
    party_id = factory.SelfAttribute("location.party_id")
    evse_uid = "1"
    status = "AVAILABLE"
    changed_at = factory.LazyFunction(timezone.now)
    recorded_at = factory.SelfAttribute("changed_at")


class AuthorizationRecordFactory(DjangoModelFactory[AuthorizationRecord]):
    """NL*ABC asked DE*EMS, which answered ALLOWED, now."""

    class Meta:
        model = AuthorizationRecord

    created_at = factory.LazyFunction(timezone.now)
    cpo_country_code = "NL"
    cpo_party_id = "ABC"
    emsp_country_code = "DE"
    emsp_party_id = "EMS"
    outcome = AuthorizationOutcome.ANSWERED
    allowed = "ALLOWED"
    ocpi_status = 1000
    duration_ms = 12.0
