"""Factories for the party registry: platforms, their roles, endpoints and tokens, party
claims and the party audit log."""

from typing import Any

import factory
from factory.django import DjangoModelFactory

from hub.models import (
    ClaimState,
    ConnectionStatus,
    PartyAction,
    PartyAuditEntry,
    PartyClaim,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    Role,
    TokenScope,
)
from hub.ocpi.tokens import generate_token, token_digest


class PlatformFactory(DjangoModelFactory[Platform]):
    class Meta:
        model = Platform

    name = factory.Sequence(lambda n: f"Partner {n}")
    status = ConnectionStatus.CONNECTED
    registered = True
    version = "2.2.1"
    versions_url = factory.Sequence(lambda n: f"http://127.0.0.1:9/partner{n}/versions")
    outbound_token = factory.LazyFunction(generate_token)


class PlatformRoleFactory(DjangoModelFactory[PlatformRole]):
    class Meta:
        model = PlatformRole

    platform = factory.SubFactory(PlatformFactory)
    role = Role.CPO
    country_code = "NL"
    party_id = factory.Sequence(lambda n: f"P{n % 100:02d}")
    business_details = factory.LazyAttribute(lambda o: {"name": f"{o.party_id} business"})


class PlatformEndpointFactory(DjangoModelFactory[PlatformEndpoint]):
    class Meta:
        model = PlatformEndpoint

    platform = factory.SubFactory(PlatformFactory)
    identifier = "credentials"
    role = "SENDER"
    url = "http://127.0.0.1:9/ocpi/2.2.1/credentials"


class PlatformTokenFactory(DjangoModelFactory[PlatformToken]):
    """A hub-issued access token, stored as its digest (`issue_token` also returns the token)."""

    class Meta:
        model = PlatformToken

    platform = factory.SubFactory(PlatformFactory)
    digest = factory.LazyFunction(lambda: token_digest(generate_token()))
    scope = TokenScope.ACCESS


class PartyClaimFactory(DjangoModelFactory[PartyClaim]):
    """A party reserved to a platform without being one of its working roles (invited)."""

    class Meta:
        model = PartyClaim

    platform = factory.SubFactory(PlatformFactory)
    role = Role.CPO
    country_code = "NL"
    party_id = factory.Sequence(lambda n: f"C{n % 100:02d}")
    state = ClaimState.INVITED


class PartyAuditEntryFactory(DjangoModelFactory[PartyAuditEntry]):
    """One line of the party audit log (staff invited a party)."""

    class Meta:
        model = PartyAuditEntry

    platform = factory.SubFactory(PlatformFactory)
    platform_name = factory.LazyAttribute(lambda o: o.platform.name if o.platform else "")
    role = Role.CPO
    country_code = "NL"
    party_id = "ABC"
    action = PartyAction.INVITED
    actor = "staff"


def issue_token(platform: Platform, scope: str = TokenScope.ACCESS) -> str:
    """Give `platform` a hub-issued token and return it (only its digest is stored)."""
    token = generate_token()
    PlatformTokenFactory(platform=platform, digest=token_digest(token), scope=scope)
    return token


def registered_party(
    role: str = Role.CPO, country_code: str = "NL", party_id: str = "CPA", **platform: Any
) -> tuple[Platform, str]:
    """A registered platform with one role and an access token."""
    created = PlatformFactory(**platform)
    PlatformRoleFactory(platform=created, role=role, country_code=country_code, party_id=party_id)
    return created, issue_token(created)
