"""Factory for the heartbeat stamps (hub.models.health)."""

import factory
from django.utils import timezone

from hub.models import Heartbeat
from tests.factories.base import HubModelFactory


class HeartbeatFactory(HubModelFactory[Heartbeat]):
    """A fresh `beat` stamp; pass `name="worker:<queue>"` and an `at` in the past as needed."""

    class Meta:
        model = Heartbeat
        django_get_or_create = ("name",)

    name = "beat"
    at = factory.LazyFunction(timezone.now)
