"""Fixtures of the CPO-facing gateway's tests: NL*CP1, the CPO that calls it."""

import pytest

from hub.models import Platform
from tests.factories import registered_party


@pytest.fixture
def cpo_party() -> tuple[Platform, str]:
    """NL*CP1, registered: its platform and the token it calls the hub with."""
    return registered_party("CPO", "NL", "CP1")


@pytest.fixture
def cpo_token(cpo_party: tuple[Platform, str]) -> str:
    return cpo_party[1]
