"""The hub's domain models, one module per concern."""

from hub.models.agreements import (
    ALL_SCOPES,
    AgreementScope,
    AgreementStatus,
    RoamingAgreement,
)
from hub.models.analytics import AuthorizationOutcome, AuthorizationRecord, EvseStatusChange
from hub.models.cdrs import (
    Cdr,
    FindingKind,
    PriceCheck,
    ReconciliationFinding,
    ReconciliationReport,
    ReportStatus,
)
from hub.models.commands import ASYNC_OPERATION_CHOICES, AsyncKind, AsyncRequest, AsyncState
from hub.models.deliveries import (
    CircuitState,
    DeliveryOperation,
    DeliveryStatus,
    PushAttempt,
    PushDelivery,
    ReceiverCircuit,
)
from hub.models.exchanges import ExchangeDirection, OcpiExchange
from hub.models.health import Heartbeat
from hub.models.locations import Evse, Location, LocationAudience
from hub.models.parties import (
    ClaimState,
    ConnectionStatus,
    InterfaceRole,
    PartyAction,
    PartyAuditEntry,
    PartyClaim,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    RegistrationInitiator,
    Role,
    TokenEncoding,
    TokenScope,
)
from hub.models.proxies import Gateway, ProxiedUrl, ProxiedUrlKind
from hub.models.sessions import Session
from hub.models.settlement import (
    FeeKind,
    FeeParty,
    FeeTerm,
    SettlementLine,
    SettlementStatement,
    StatementStatus,
)
from hub.models.staff import StaffExport
from hub.models.sync import SyncState
from hub.models.tariffs import Tariff
from hub.models.tokens import Token, TokenOwner, TokenSource

__all__ = [
    "AuthorizationOutcome",
    "AuthorizationRecord",
    "EvseStatusChange",
    "ALL_SCOPES",
    "AgreementScope",
    "AgreementStatus",
    "RoamingAgreement",
    "ASYNC_OPERATION_CHOICES",
    "DeliveryOperation",
    "FindingKind",
    "Gateway",
    "ReportStatus",
    "CircuitState",
    "Cdr",
    "PriceCheck",
    "ReconciliationFinding",
    "ReconciliationReport",
    "AsyncKind",
    "AsyncRequest",
    "AsyncState",
    "Session",
    "FeeKind",
    "FeeParty",
    "FeeTerm",
    "SettlementLine",
    "SettlementStatement",
    "StatementStatus",
    "StaffExport",
    "Token",
    "TokenOwner",
    "TokenSource",
    "ClaimState",
    "ConnectionStatus",
    "PartyAction",
    "PartyAuditEntry",
    "PartyClaim",
    "DeliveryStatus",
    "Evse",
    "Heartbeat",
    "Location",
    "LocationAudience",
    "PushAttempt",
    "ProxiedUrl",
    "ProxiedUrlKind",
    "PushDelivery",
    "ReceiverCircuit",
    "SyncState",
    "Tariff",
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
