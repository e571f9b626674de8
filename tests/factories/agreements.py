"""Factories for roaming agreements (DESIGN §6b)."""

import datetime

import factory
from django.utils import timezone
from factory.django import DjangoModelFactory

from hub.models import AgreementStatus, RoamingAgreement
from hub.models.agreements import ALL_SCOPES


class RoamingAgreementFactory(DjangoModelFactory[RoamingAgreement]):
    """An ACTIVE agreement of every scope, in force from yesterday, open-ended; `in_force`
    as if applied (pass `in_force=False` for one the hub has not applied yet)."""

    class Meta:
        model = RoamingAgreement

    cpo_country_code = "NL"
    cpo_party_id = "CPO"
    emsp_country_code = "DE"
    emsp_party_id = "EMS"
    valid_from = factory.LazyFunction(lambda: timezone.localdate() - datetime.timedelta(days=1))
    valid_to = None
    status = AgreementStatus.ACTIVE
    scopes = factory.LazyFunction(lambda: list(ALL_SCOPES))
    location_ids = factory.LazyFunction(list)
    in_force = True
