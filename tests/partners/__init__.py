"""Simulated OCPI partner platforms for the hub's integration tests.

A real HTTP server per partner lets the tests exercise the hub's outbound client end to end
(sockets, timeouts, headers, redirects) instead of mocking it. The package is test-only and
imports nothing from the hub, so a hub bug cannot hide behind a shared helper.
"""

from tests.partners.behaviour import Behaviour
from tests.partners.ocpi import (
    DEFAULT_MODULES_BY_ROLE,
    DEFAULT_ROLES,
    OCPI_VERSION,
    OcpiCallError,
    encode_token,
    envelope,
    ocpi_timestamp,
)
from tests.partners.simulated import SimulatedPartner
from tests.partners.store import ReceivedRequest, SentRequest

__all__ = [
    "DEFAULT_MODULES_BY_ROLE",
    "DEFAULT_ROLES",
    "OCPI_VERSION",
    "Behaviour",
    "OcpiCallError",
    "ReceivedRequest",
    "SentRequest",
    "SimulatedPartner",
    "encode_token",
    "envelope",
    "ocpi_timestamp",
]
