"""One factory per hub model (factory-boy): where tests build the rows they need.

Import from here: `from tests.factories import CdrFactory, registered_party`. The modules
follow the models' concerns: parties, objects (what partners send), outbox, exchanges,
reports, agreements and settlement, analytics."""

from tests.factories.agreements import RoamingAgreementFactory
from tests.factories.analytics import AuthorizationRecordFactory, EvseStatusChangeFactory
from tests.factories.exchanges import (
    AsyncRequestFactory,
    OcpiExchangeFactory,
    ProxiedUrlFactory,
    SyncStateFactory,
)
from tests.factories.health import HeartbeatFactory
from tests.factories.objects import (
    CdrFactory,
    EvseFactory,
    LocationFactory,
    SessionFactory,
    TariffFactory,
    TokenFactory,
    TokenOwnerFactory,
    evse,
)
from tests.factories.outbox import PushAttemptFactory, PushDeliveryFactory, ReceiverCircuitFactory
from tests.factories.parties import (
    PartyAuditEntryFactory,
    PartyClaimFactory,
    PlatformEndpointFactory,
    PlatformFactory,
    PlatformRoleFactory,
    PlatformTokenFactory,
    issue_token,
    registered_party,
)
from tests.factories.reports import (
    ReconciliationFindingFactory,
    ReconciliationReportFactory,
    StaffExportFactory,
)
from tests.factories.settlement import (
    FeeTermFactory,
    SettlementLineFactory,
    SettlementStatementFactory,
)

__all__ = [
    "HeartbeatFactory",
    "AsyncRequestFactory",
    "AuthorizationRecordFactory",
    "EvseStatusChangeFactory",
    "CdrFactory",
    "EvseFactory",
    "FeeTermFactory",
    "LocationFactory",
    "OcpiExchangeFactory",
    "PartyAuditEntryFactory",
    "PartyClaimFactory",
    "PlatformEndpointFactory",
    "PlatformFactory",
    "PlatformRoleFactory",
    "PlatformTokenFactory",
    "ProxiedUrlFactory",
    "PushAttemptFactory",
    "PushDeliveryFactory",
    "ReceiverCircuitFactory",
    "RoamingAgreementFactory",
    "ReconciliationFindingFactory",
    "ReconciliationReportFactory",
    "SessionFactory",
    "SettlementLineFactory",
    "SettlementStatementFactory",
    "StaffExportFactory",
    "SyncStateFactory",
    "TariffFactory",
    "TokenFactory",
    "TokenOwnerFactory",
    "evse",
    "issue_token",
    "registered_party",
]
