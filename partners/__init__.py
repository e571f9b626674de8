"""Simulated OCPI 2.2.1 partner platforms (CPOs, eMSPs, hub-like peers) on 127.0.0.1.

A real HTTP server per partner lets the hub's integration tests exercise its outbound client
end to end (sockets, timeouts, headers, redirects) instead of mocking it, and lets `make demo`
(hub/management/demo) and the benchmarks run a small roaming network on one machine. The
package ships with the project (the demo needs it on a user's clone) and imports nothing from
the hub (an import-linter contract), so a hub bug cannot hide behind a shared helper.
"""

from partners.behaviour import Behaviour
from partners.ocpi import (
    DEFAULT_MODULES_BY_ROLE,
    DEFAULT_ROLES,
    OCPI_VERSION,
    OcpiCallError,
    encode_token,
    envelope,
    ocpi_timestamp,
)
from partners.simulated import SimulatedPartner
from partners.store import ReceivedRequest, SentRequest

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
