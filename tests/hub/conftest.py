"""Fixtures of the hub's own tests (the admin pages share one CPO and one eMSP)."""

import pytest

from hub.models import Platform
from tests.factories import registered_party


@pytest.fixture
def cpo_platform() -> Platform:
    """The CPO platform the admin pages show (NL*ABC)."""
    platform, _ = registered_party(
        role="CPO", country_code="NL", party_id="ABC", name="Acme CPO Platform"
    )
    return platform


@pytest.fixture
def emsp_platform() -> Platform:
    """The eMSP platform the admin pages show (DE*EMS)."""
    platform, _ = registered_party(
        role="EMSP", country_code="DE", party_id="EMS", name="Blue eMSP Platform"
    )
    return platform
