"""The module table (`hub.modules`): every per-module list of the hub is read from it, and it
says what the hub did before it existed (the concrete sets below)."""

import ast
from pathlib import Path

import pytest
from django.apps import apps
from django.utils.module_loading import import_string

from hub.admin import filters as hub_admin
from hub.models import AsyncKind, OcpiExchange, ProxiedUrl, PushDelivery, SyncState
from hub.modules import (
    LOGGED_MODULES,
    MODULES,
    MONEY_MODULES,
    OUTBOX_MODULES,
    PUBLISHED_MODULES,
    PULLED_MODULES,
    PUSHED_MODULES,
    STATE_MODULES,
    AdminGroup,
    ModuleID,
    module_entry,
)
from hub.ocpi import registry
from hub.schemas.locations import LocationSerializer
from hub.schemas.tariffs import TariffSerializer
from hub.services import sync
from hub.services.delivery import broker, enqueue, rules
from hub.services.routing.async_results import MODULE_OF
from hub.tasks import deliver_money_task, deliver_push_task

# 2.2.1 version_information_endpoint.asciidoc, "ModuleID".
SPEC_MODULE_IDS = {
    "cdrs",
    "chargingprofiles",
    "commands",
    "credentials",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
}


def test_module_ids_are_the_spec_identifiers_plus_versions() -> None:
    assert set(ModuleID.values) == SPEC_MODULE_IDS | {"versions"}
    # The admin shows the identifier as the spec spells it.
    assert all(label == value for value, label in ModuleID.choices)


def test_the_table_has_one_entry_per_module() -> None:
    assert set(MODULES) == set(ModuleID)
    assert all(entry.id is module_id for module_id, entry in MODULES.items())
    assert module_entry("locations") is MODULES[ModuleID.LOCATIONS]
    with pytest.raises(ValueError):
        module_entry("payments")


# ---- the version details --------------------------------------------------------------------


def test_the_published_endpoints_are_the_tables() -> None:
    published = {(e.module, e.interface_role) for e in registry._published.values()}
    assert published == {
        (entry.id, endpoint.role) for entry in MODULES.values() for endpoint in entry.endpoints
    }
    assert {module for module, _ in published} == PUBLISHED_MODULES
    assert {entry.id for entry in MODULES.values() if entry.published} == PUBLISHED_MODULES


def test_the_hub_publishes_what_it_published_before_the_table() -> None:
    both = {"SENDER", "RECEIVER"}
    assert {module: MODULES[module].roles for module in PUBLISHED_MODULES} == {
        "cdrs": both,
        "chargingprofiles": both,
        "commands": both,
        "credentials": {"SENDER"},
        "hubclientinfo": {"SENDER"},
        "locations": both,
        "sessions": both,
        "tariffs": both,
        "tokens": both,
    }
    audiences = {(e.module, e.interface_role): e.audience for e in registry._published.values()}
    emsp_side = frozenset({"EMSP", "NSP", "OTHER", "SCSP"})
    assert audiences[("credentials", "SENDER")] == frozenset()
    assert audiences[("hubclientinfo", "SENDER")] == frozenset()
    assert audiences[("locations", "RECEIVER")] == {"CPO"}
    assert audiences[("locations", "SENDER")] == emsp_side
    assert audiences[("tokens", "SENDER")] == {"CPO"}
    assert audiences[("tokens", "RECEIVER")] == {"EMSP"}
    assert audiences[("cdrs", "SENDER")] == emsp_side
    assert audiences[("commands", "RECEIVER")] == emsp_side


def test_versions_is_logged_but_not_published() -> None:
    assert not MODULES[ModuleID.VERSIONS].published
    assert ModuleID.VERSIONS in LOGGED_MODULES


# ---- the outbox -----------------------------------------------------------------------------


def test_every_pushed_module_has_its_builder_registered() -> None:
    assert set(enqueue._builders) == PUSHED_MODULES
    for module in PUSHED_MODULES:
        assert enqueue._builders[module] is MODULES[module].push_builder()
    assert {
        "cdrs",
        "chargingprofiles",
        "commands",
        "hubclientinfo",
        "locations",
        "sessions",
        "tariffs",
        "tokens",
    } == PUSHED_MODULES


def test_the_state_money_split_is_the_outboxs() -> None:
    assert rules.STATE_MODULES is STATE_MODULES
    assert {"locations", "tariffs", "tokens", "hubclientinfo"} == STATE_MODULES
    assert {"sessions", "cdrs", "commands", "chargingprofiles"} == MONEY_MODULES
    assert STATE_MODULES | MONEY_MODULES == PUSHED_MODULES
    assert not STATE_MODULES & MONEY_MODULES
    for module in PUSHED_MODULES:
        assert rules.is_money(module) is MODULES[module].is_money
        expected = deliver_money_task if module in MONEY_MODULES else deliver_push_task
        assert broker.delivery_task(module) == expected


def test_async_results_are_delivered_under_their_modules() -> None:
    assert set(MODULE_OF.values()) == {ModuleID.COMMANDS, ModuleID.CHARGING_PROFILES}
    assert MODULE_OF[AsyncKind.COMMAND] == "commands"


# ---- the pull sync --------------------------------------------------------------------------


def test_the_pull_sync_pulls_the_tables_modules() -> None:
    assert sync.MODULES == PULLED_MODULES == ("locations", "tariffs")
    assert MODULES[ModuleID.LOCATIONS].serializer_class() is LocationSerializer
    assert MODULES[ModuleID.TARIFFS].serializer_class() is TariffSerializer
    # Locations are never retired by a full sync (removal is status=REMOVED); tariffs are.
    locations, tariffs = MODULES[ModuleID.LOCATIONS].sync, MODULES[ModuleID.TARIFFS].sync
    assert locations is not None and locations.retire_unlisted is None
    assert tariffs is not None and tariffs.retire_unlisted is not None


def test_a_module_without_sync_is_refused() -> None:
    with pytest.raises(sync.SyncError, match="only locations, tariffs"):
        sync.sync_module(platform=None, party=None, module="cdrs")  # type: ignore[arg-type]


# ---- the admin ------------------------------------------------------------------------------


def test_the_admin_lists_read_the_table() -> None:
    assert hub_admin.LOGGED_MODULES == LOGGED_MODULES == tuple(sorted(ModuleID.values))
    assert hub_admin.OUTBOX_MODULES == OUTBOX_MODULES == tuple(sorted(PUSHED_MODULES))
    assert hub_admin.OutboxModuleFilter.values == OUTBOX_MODULES


def test_every_module_has_an_admin_group() -> None:
    groups = {entry.id: entry.admin_group for entry in MODULES.values()}
    assert groups[ModuleID.CREDENTIALS] is AdminGroup.PARTNERS
    assert groups[ModuleID.LOCATIONS] is AdminGroup.LOCATIONS_AND_TARIFFS
    assert groups[ModuleID.TARIFFS] is AdminGroup.LOCATIONS_AND_TARIFFS
    assert groups[ModuleID.TOKENS] is AdminGroup.TOKENS_AND_SESSIONS
    assert groups[ModuleID.SESSIONS] is AdminGroup.TOKENS_AND_SESSIONS
    assert groups[ModuleID.CDRS] is AdminGroup.CDRS_AND_RECONCILIATION


# ---- the table's references -----------------------------------------------------------------


@pytest.mark.parametrize("module_id", list(ModuleID))
def test_every_reference_of_an_entry_resolves(module_id: ModuleID) -> None:
    entry = MODULES[module_id]
    import_string(f"{entry.schemas}.__name__")
    if entry.serializer is not None:
        entry.serializer_class()
    if entry.model is not None:
        assert entry.model_class() is apps.get_model(entry.model)
    if entry.push is not None:
        assert callable(entry.push_builder())
    if entry.sync is not None:
        assert callable(import_string(entry.sync.put))
        if entry.sync.retire_unlisted is not None:
            assert callable(import_string(entry.sync.retire_unlisted))


def test_module_fields_offer_the_module_ids_as_choices() -> None:
    for model in (PushDelivery, OcpiExchange, SyncState, ProxiedUrl):
        assert model._meta.get_field("module").choices == ModuleID.choices


def test_the_table_imports_nothing_of_the_hub() -> None:
    """Models and the wire layer read the table, so it may not import them back."""
    source = Path(import_string("hub.modules.__file__")).read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
        elif isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
    assert imported <= {"dataclasses", "enum", "typing", "django"}
