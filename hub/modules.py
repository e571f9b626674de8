"""The OCPI modules the hub knows, in one table: what each one is and how the hub treats it.

`ModuleID` names a module (2.2.1 version_information_endpoint.asciidoc "ModuleID", plus
"versions", under which the hub logs its calls to partners' versions endpoints). `MODULES`
says, per module: the endpoints the hub publishes in its version details, where its schemas
live, which model stores it, how the outbox pushes it (state or money), whether and how the
hub pulls it, and where the admin shows it. The per-module lists of the hub are read from here
(the version details in `hub.apps`, the push builders in `hub.apps`, `STATE_MODULES` in the
outbox, `MODULES` in the pull sync, `LOGGED_MODULES`/`OUTBOX_MODULES` in the admin), so adding
a module is adding an entry (and its views, schemas and services).

This module imports nothing of the hub: models and the wire layer may read it, and the code it
names (schemas, models, builders, sync writers) is given by dotted path or app label and
resolved on use.
"""

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Literal

from django.apps import apps
from django.db import models
from django.utils.module_loading import import_string


class ModuleID(models.TextChoices):
    """An OCPI module (2.2.1 version_information_endpoint.asciidoc "ModuleID"; labels are the
    identifiers as the spec spells them, which is what the admin shows)."""

    CDRS = "cdrs", "cdrs"
    CHARGING_PROFILES = "chargingprofiles", "chargingprofiles"
    COMMANDS = "commands", "commands"
    CREDENTIALS = "credentials", "credentials"
    HUB_CLIENT_INFO = "hubclientinfo", "hubclientinfo"
    LOCATIONS = "locations", "locations"
    SESSIONS = "sessions", "sessions"
    TARIFFS = "tariffs", "tariffs"
    TOKENS = "tokens", "tokens"
    # Not a 2.2.1 ModuleID: the versions endpoints, which the exchange log names like one.
    VERSIONS = "versions", "versions"


class Delivery(StrEnum):
    """How the outbox treats a module's deliveries (DESIGN §5)."""

    # Folded per object, sent with the object's state at send time, dropped when the receiver
    # goes OFFLINE (it re-syncs by GET, 2.2.1 transport_and_format "Offline behaviour").
    STATE = "state"
    # Money, or a message no GET can replay (sessions, CDRs, command and charging-profile
    # results): the `ocpi_money` queue, never cancelled, a dead letter when given up.
    MONEY = "money"


class AdminGroup(StrEnum):
    """The admin section a module's objects are shown in."""

    PARTNERS = "Partners"
    LOCATIONS_AND_TARIFFS = "Locations & tariffs"
    TOKENS_AND_SESSIONS = "Tokens & sessions"
    CDRS_AND_RECONCILIATION = "CDRs & reconciliation"
    DELIVERY = "Delivery"


# Who may see an endpoint in the version details: CPOs call the CPO gateway; every other role
# that consumes what CPOs offer calls the eMSP gateway.
CPO_AUDIENCE: tuple[str, ...] = ("CPO",)
EMSP_GATEWAY_AUDIENCE: tuple[str, ...] = ("EMSP", "NSP", "OTHER", "SCSP")


@dataclass(frozen=True)
class Endpoint:
    """One endpoint of the hub's version details (2.2.1 version_information_endpoint
    "Endpoint"): the interface role the hub plays, its URL name (or path, for a module base
    without a view of its own) and the caller roles that see it (empty: every caller)."""

    role: Literal["SENDER", "RECEIVER"]
    url: str
    audience: tuple[str, ...] = ()


@dataclass(frozen=True)
class Push:
    """How the outbox sends a module: its builder (`PushDelivery -> PushRequest | None`, by
    dotted path) and its delivery class."""

    builder: str
    delivery: Delivery


@dataclass(frozen=True)
class PullSync:
    """How the hub pulls a module from a CPO's SENDER list (`hub.services.sync`).

    `put` stores one validated object: `(*, owner, party, object_id, data, correlation_id)`
    returning a `hub.services.results.WriteResult`. `retire_unlisted`, when set, is what a full
    sync does with the party's objects the CPO no longer lists:
    `(*, owner, party, listed, correlation_id) -> int` (how many it retired); without it they
    are kept.
    """

    put: str
    retire_unlisted: str | None = None


@dataclass(frozen=True)
class Module:
    """One OCPI module as the hub handles it (see the module docstring)."""

    id: ModuleID
    admin_group: AdminGroup
    # Where the module's OCPI objects are validated (a `hub.schemas` module).
    schemas: str
    # The serializer of the module's object, where the hub validates whole objects of it.
    serializer: str | None = None
    # The model storing the module's objects (an app label, "hub.Location").
    model: str | None = None
    endpoints: tuple[Endpoint, ...] = ()
    push: Push | None = None
    sync: PullSync | None = None
    # The exchange log names it (a filter choice in the admin).
    logged: bool = True
    # The roaming-agreement scope that governs the module in `OCPI_ROAMING_MODE=agreements`
    # (a `hub.models.agreements.AgreementScope` value, spelled here because the table imports
    # nothing of the hub). None: no data scope; what the module shows (HubClientInfo) needs an
    # agreement in force of any scope, and credentials and versions are never routed.
    agreement_scope: str | None = None

    @property
    def published(self) -> bool:
        """Listed in the hub's version details."""
        return bool(self.endpoints)

    @property
    def roles(self) -> frozenset[str]:
        """The interface roles the hub implements for it."""
        return frozenset(endpoint.role for endpoint in self.endpoints)

    @property
    def is_state(self) -> bool:
        return self.push is not None and self.push.delivery is Delivery.STATE

    @property
    def is_money(self) -> bool:
        return self.push is not None and self.push.delivery is Delivery.MONEY

    def model_class(self) -> type[models.Model]:
        if self.model is None:
            raise LookupError(f"Module {self.id} has no model")
        return apps.get_model(self.model)

    def serializer_class(self) -> Any:
        if self.serializer is None:
            raise LookupError(f"Module {self.id} has no object serializer")
        return import_string(self.serializer)

    def push_builder(self) -> Any:
        if self.push is None:
            raise LookupError(f"Module {self.id} is not pushed")
        return import_string(self.push.builder)


_TABLE: tuple[Module, ...] = (
    Module(
        id=ModuleID.CREDENTIALS,
        admin_group=AdminGroup.PARTNERS,
        schemas="hub.schemas.credentials",
        serializer="hub.schemas.credentials.CredentialsSerializer",
        model="hub.Platform",
        # Published once, as SENDER, whatever the caller's roles.
        endpoints=(Endpoint("SENDER", "ocpi-credentials"),),
    ),
    Module(
        id=ModuleID.HUB_CLIENT_INFO,
        admin_group=AdminGroup.PARTNERS,
        schemas="hub.schemas.hubclientinfo",
        serializer="hub.schemas.hubclientinfo.ClientInfoSerializer",
        # A ClientInfo describes one role of a platform.
        model="hub.PlatformRole",
        # 2.2.1: the hub is SENDER of hubclientinfo, to every caller.
        endpoints=(Endpoint("SENDER", "ocpi-hubclientinfo"),),
        push=Push("hub.services.registry.clientinfo.build_clientinfo_push", Delivery.STATE),
    ),
    Module(
        id=ModuleID.VERSIONS,
        admin_group=AdminGroup.PARTNERS,
        schemas="hub.schemas.versions",
        model="hub.PlatformEndpoint",
    ),
    Module(
        id=ModuleID.LOCATIONS,
        agreement_scope="locations",
        admin_group=AdminGroup.LOCATIONS_AND_TARIFFS,
        schemas="hub.schemas.locations",
        serializer="hub.schemas.locations.LocationSerializer",
        model="hub.Location",
        endpoints=(
            # CPOs push their locations to the hub; eMSPs GET them (all CPOs' via the hub).
            Endpoint("RECEIVER", "/ocpi/2.2.1/cpo/locations", CPO_AUDIENCE),
            Endpoint("SENDER", "emsp-locations", EMSP_GATEWAY_AUDIENCE),
        ),
        push=Push("hub.services.locations.build_location_push", Delivery.STATE),
        # Never retired by a full sync (2.2.1: removal is status=REMOVED on the EVSE).
        sync=PullSync(put="hub.services.locations.location_put_pulled"),
    ),
    Module(
        id=ModuleID.TARIFFS,
        agreement_scope="tariffs",
        admin_group=AdminGroup.LOCATIONS_AND_TARIFFS,
        schemas="hub.schemas.tariffs",
        serializer="hub.schemas.tariffs.TariffSerializer",
        model="hub.Tariff",
        endpoints=(
            Endpoint("RECEIVER", "/ocpi/2.2.1/cpo/tariffs", CPO_AUDIENCE),
            Endpoint("SENDER", "emsp-tariffs", EMSP_GATEWAY_AUDIENCE),
        ),
        push=Push("hub.services.tariffs.build_tariff_push", Delivery.STATE),
        # A full list is the truth: the tariffs it no longer lists are retired.
        sync=PullSync(
            put="hub.services.tariffs.tariff_put_pulled",
            retire_unlisted="hub.services.tariffs.tariff_retire_unlisted",
        ),
    ),
    Module(
        id=ModuleID.TOKENS,
        agreement_scope="tokens",
        admin_group=AdminGroup.TOKENS_AND_SESSIONS,
        schemas="hub.schemas.tokens",
        serializer="hub.schemas.tokens.TokenSerializer",
        model="hub.Token",
        endpoints=(
            # The hub SENDS CPOs the eMSPs' tokens (and routes real-time authorizations); it
            # RECEIVES eMSPs' tokens and broadcasts them to the CPOs.
            Endpoint("SENDER", "cpo-tokens", CPO_AUDIENCE),
            Endpoint("RECEIVER", "/ocpi/2.2.1/emsp/tokens", ("EMSP",)),
        ),
        push=Push("hub.services.tokens.build_token_push", Delivery.STATE),
    ),
    Module(
        id=ModuleID.SESSIONS,
        agreement_scope="sessions",
        admin_group=AdminGroup.TOKENS_AND_SESSIONS,
        schemas="hub.schemas.sessions",
        serializer="hub.schemas.sessions.SessionSerializer",
        model="hub.Session",
        endpoints=(
            # The hub RECEIVES CPOs' sessions, delivers each to the eMSP owning its token,
            # SENDS eMSPs their own sessions and routes their charging preferences.
            Endpoint("RECEIVER", "/ocpi/2.2.1/cpo/sessions", CPO_AUDIENCE),
            Endpoint("SENDER", "emsp-sessions", EMSP_GATEWAY_AUDIENCE),
        ),
        push=Push("hub.services.sessions.build_session_push", Delivery.MONEY),
    ),
    Module(
        id=ModuleID.COMMANDS,
        agreement_scope="sessions",
        # Commands start and stop sessions; their results are relayed like session messages.
        admin_group=AdminGroup.TOKENS_AND_SESSIONS,
        schemas="hub.schemas.commands",
        model="hub.AsyncRequest",
        endpoints=(
            # CPOs post results to the response_url the hub gave them (below this URL);
            # eMSPs' commands are routed to the CPO.
            Endpoint("SENDER", "/ocpi/2.2.1/cpo/commands", CPO_AUDIENCE),
            Endpoint("RECEIVER", "/ocpi/2.2.1/emsp/commands", EMSP_GATEWAY_AUDIENCE),
        ),
        # Results relayed to the requester's response_url.
        push=Push("hub.services.routing.async_results.build_async_result_push", Delivery.MONEY),
    ),
    Module(
        id=ModuleID.CHARGING_PROFILES,
        agreement_scope="sessions",
        admin_group=AdminGroup.TOKENS_AND_SESSIONS,
        schemas="hub.schemas.chargingprofiles",
        model="hub.AsyncRequest",
        endpoints=(
            # CPOs post results to the response_url and PUT ActiveChargingProfiles here.
            Endpoint("SENDER", "/ocpi/2.2.1/cpo/chargingprofiles", CPO_AUDIENCE),
            Endpoint("RECEIVER", "/ocpi/2.2.1/emsp/chargingprofiles", EMSP_GATEWAY_AUDIENCE),
        ),
        push=Push("hub.services.routing.async_results.build_async_result_push", Delivery.MONEY),
    ),
    Module(
        id=ModuleID.CDRS,
        agreement_scope="cdrs",
        admin_group=AdminGroup.CDRS_AND_RECONCILIATION,
        schemas="hub.schemas.cdrs",
        serializer="hub.schemas.cdrs.CdrSerializer",
        model="hub.Cdr",
        endpoints=(
            # The hub RECEIVES CPOs' CDRs, delivers each to the eMSP owning its token, and
            # SENDS eMSPs their own CDRs (the ones also pushed to their cdrs RECEIVER).
            Endpoint("RECEIVER", "cpo-cdrs", CPO_AUDIENCE),
            Endpoint("SENDER", "emsp-cdrs", EMSP_GATEWAY_AUDIENCE),
        ),
        push=Push("hub.services.cdrs.build_cdr_push", Delivery.MONEY),
    ),
)

MODULES: dict[ModuleID, Module] = {module.id: module for module in _TABLE}


def module_entry(module_id: str) -> Module:
    """The table entry of a module (KeyError for a module the hub does not know)."""
    return MODULES[ModuleID(module_id)]


# The per-module lists, each derived from the table.
PUBLISHED_MODULES = frozenset(m.id for m in _TABLE if m.published)
PUSHED_MODULES = frozenset(m.id for m in _TABLE if m.push is not None)
STATE_MODULES = frozenset(m.id for m in _TABLE if m.is_state)
MONEY_MODULES = frozenset(m.id for m in _TABLE if m.is_money)
PULLED_MODULES = tuple(m.id for m in _TABLE if m.sync is not None)
LOGGED_MODULES = tuple(sorted(m.id for m in _TABLE if m.logged))
OUTBOX_MODULES = tuple(sorted(PUSHED_MODULES))
# module -> the agreement scope governing it (None: any agreement in force, or never routed).
AGREEMENT_SCOPES: dict[ModuleID, str | None] = {m.id: m.agreement_scope for m in _TABLE}
