"""The simulated partners' self-tests and the hostile partner (socket-level answers) the
security and fault suites use. The simulated partner itself ships with the project, in the
top-level `partners` package (the demo and the benchmarks start it too); this package
re-exports it so tests can name either."""

from partners import (
    DEFAULT_MODULES_BY_ROLE,
    DEFAULT_ROLES,
    OCPI_VERSION,
    Behaviour,
    OcpiCallError,
    ReceivedRequest,
    SentRequest,
    SimulatedPartner,
    encode_token,
    envelope,
    ocpi_timestamp,
)

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
