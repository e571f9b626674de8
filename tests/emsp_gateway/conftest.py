"""Fixtures of the eMSP-facing gateway's tests: DE*MS1, the eMSP that calls it."""

import pytest

from hub.models import Platform
from tests.factories import registered_party


@pytest.fixture
def emsp_party() -> tuple[Platform, str]:
    """DE*MS1, registered: its platform and the token it calls the hub with."""
    return registered_party("EMSP", "DE", "MS1")


@pytest.fixture
def emsp_token(emsp_party: tuple[Platform, str]) -> str:
    return emsp_party[1]
