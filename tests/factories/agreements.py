"""Factories for roaming agreements (DESIGN §6b)."""

from datetime import date

import factory

from hub.models import ALL_SCOPES, AgreementStatus, RoamingAgreement
from tests.factories.base import HubModelFactory


class RoamingAgreementFactory(HubModelFactory[RoamingAgreement]):
    """NL*CPO (CPO) and DE*EMS (eMSP), ACTIVE from 2025-01-01, open-ended, every scope, the
    whole location list; `in_force` as if applied (pass `in_force=False` for one the hub has
    not applied yet)."""

    class Meta:
        model = RoamingAgreement

    cpo_country_code = "NL"
    cpo_party_id = "CPO"
    emsp_country_code = "DE"
    emsp_party_id = "EMS"
    valid_from = date(2025, 1, 1)
    valid_to = None
    status = AgreementStatus.ACTIVE
    scopes = factory.LazyFunction(lambda: list(ALL_SCOPES))
    location_ids = factory.LazyFunction(list)
    in_force = True
