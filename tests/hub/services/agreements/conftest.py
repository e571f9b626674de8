"""Parties of the agreement tests: a CPO (NL*CPO) and two eMSPs (DE*EMS, DE*EMT), each on a
registered, CONNECTED platform publishing the RECEIVER endpoints the hub pushes to."""

from typing import Any

import pytest

from hub.models import Platform
from tests.factories import PlatformEndpointFactory, PlatformFactory, PlatformRoleFactory

RECEIVER_MODULES = ("locations", "tariffs", "tokens", "sessions", "cdrs", "hubclientinfo")


def party_platform(role: str, country_code: str, party_id: str) -> Platform:
    platform = PlatformFactory(name=f"{country_code}*{party_id}")
    PlatformRoleFactory(platform=platform, role=role, country_code=country_code, party_id=party_id)
    for module in RECEIVER_MODULES:
        PlatformEndpointFactory(
            platform=platform,
            identifier=module,
            role="RECEIVER",
            url=f"http://127.0.0.1:9/{party_id}/ocpi/2.2.1/{module}",
        )
    return platform


@pytest.fixture
def agreements_mode(settings: Any) -> None:
    settings.OCPI_ROAMING_MODE = "agreements"


@pytest.fixture
def pair(db: None) -> dict[str, Platform]:
    return {
        "cpo": party_platform("CPO", "NL", "CPO"),
        "emsp": party_platform("EMSP", "DE", "EMS"),
        "other": party_platform("EMSP", "DE", "EMT"),
    }
