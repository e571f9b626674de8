"""The hub's domain models, one module per concern."""

from hub.models.exchanges import ExchangeDirection, OcpiExchange
from hub.models.parties import (
    ConnectionStatus,
    InterfaceRole,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    RegistrationInitiator,
    Role,
    TokenEncoding,
    TokenScope,
)

__all__ = [
    "ConnectionStatus",
    "ExchangeDirection",
    "InterfaceRole",
    "OcpiExchange",
    "Platform",
    "PlatformEndpoint",
    "PlatformRole",
    "PlatformToken",
    "RegistrationInitiator",
    "Role",
    "TokenEncoding",
    "TokenScope",
]
