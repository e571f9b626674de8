"""The policy (`hub.services.agreements.policy`) and the selectors that consult it: what an
agreement in force allows, on which day, for which scopes and locations; and that open mode
allows everything."""

import datetime
from typing import Any

import pytest
from django.utils import timezone

from hub.models import AgreementStatus, PushDelivery
from hub.models.agreements import ALL_SCOPES
from hub.modules import MODULES, ModuleID
from hub.ocpi.caller import Caller
from hub.ocpi.routing import PartyRef
from hub.selectors import (
    cdrs_visible_to,
    client_infos_visible_to,
    delivery_refusal,
    evse_status_allowed,
    locations_visible_to,
    may_route,
    receivers_for,
    route_refusal,
    sessions_visible_to,
    tariffs_visible_to,
    tokens_visible_to,
)
from hub.services.agreements import policy
from tests.factories import (
    CdrFactory,
    LocationFactory,
    PushDeliveryFactory,
    RoamingAgreementFactory,
    SessionFactory,
    TariffFactory,
    TokenFactory,
)

pytestmark = pytest.mark.django_db

CPO = PartyRef("NL", "CPO")
EMSP = PartyRef("DE", "EMS")
OTHER = PartyRef("DE", "EMT")
TODAY = datetime.date(2026, 6, 15)


def test_every_module_names_its_scope() -> None:
    scopes = {module.id: module.agreement_scope for module in MODULES.values()}
    assert scopes == {
        ModuleID.LOCATIONS: "locations",
        ModuleID.TARIFFS: "tariffs",
        ModuleID.TOKENS: "tokens",
        ModuleID.SESSIONS: "sessions",
        ModuleID.COMMANDS: "sessions",
        ModuleID.CHARGING_PROFILES: "sessions",
        ModuleID.CDRS: "cdrs",
        ModuleID.CREDENTIALS: None,
        ModuleID.HUB_CLIENT_INFO: None,
        ModuleID.VERSIONS: None,
    }
    assert {s for s in scopes.values() if s} <= set(ALL_SCOPES)


@pytest.mark.parametrize(
    ("valid_from", "valid_to", "status", "in_force"),
    [
        (TODAY, TODAY, AgreementStatus.ACTIVE, True),  # both ends included
        (TODAY - datetime.timedelta(days=9), None, AgreementStatus.ACTIVE, True),
        (TODAY + datetime.timedelta(days=1), None, AgreementStatus.ACTIVE, False),
        (TODAY - datetime.timedelta(days=9), TODAY - datetime.timedelta(days=1), "ACTIVE", False),
        (TODAY, None, AgreementStatus.SUSPENDED, False),
        (TODAY, None, AgreementStatus.ENDED, False),
    ],
)
def test_agreement_allowing_on_a_day(
    valid_from: datetime.date, valid_to: datetime.date | None, status: str, in_force: bool
) -> None:
    RoamingAgreementFactory(valid_from=valid_from, valid_to=valid_to, status=status)
    found = policy.agreement_allowing(CPO, EMSP, "locations", on=TODAY)
    assert (found is not None) is in_force


def test_agreement_allowing_only_its_scopes_and_pair() -> None:
    RoamingAgreementFactory(scopes=["locations", "tariffs"], valid_from=TODAY)
    assert policy.agreement_allowing(CPO, EMSP, "tariffs", on=TODAY) is not None
    assert policy.agreement_allowing(CPO, EMSP, "tokens", on=TODAY) is None
    assert policy.agreement_allowing(CPO, OTHER, "tariffs", on=TODAY) is None
    # the pair is named one way: the eMSP is not a CPO of the CPO
    assert policy.agreement_allowing(EMSP, CPO, "tariffs", on=TODAY) is None


def test_location_subset_narrows_locations_and_status_not_tariffs() -> None:
    RoamingAgreementFactory(location_ids=["LOC1"], valid_from=TODAY)
    assert policy.agreement_allowing(CPO, EMSP, "locations", on=TODAY, location_id="loc1")
    assert not policy.agreement_allowing(CPO, EMSP, "locations", on=TODAY, location_id="LOC2")
    assert not policy.agreement_allowing(CPO, EMSP, "evse_status", on=TODAY, location_id="LOC2")
    assert policy.agreement_allowing(CPO, EMSP, "tariffs", on=TODAY, location_id="LOC2")


def test_open_mode_routes_everything(settings: Any) -> None:
    settings.OCPI_ROAMING_MODE = "open"
    assert may_route(CPO, EMSP, "locations")
    assert route_refusal({EMSP}, CPO, "tokens") is None


def test_agreements_mode_routes_both_directions_by_scope(agreements_mode: None) -> None:
    RoamingAgreementFactory(scopes=["locations", "tokens"])
    assert may_route(CPO, EMSP, "locations")
    assert may_route(EMSP, CPO, "tokens")  # an eMSP's tokens and authorizations to its CPO
    assert not may_route(EMSP, CPO, "commands")  # sessions scope missing
    assert not may_route(CPO, OTHER, "locations")
    assert may_route(CPO, EMSP, "hubclientinfo")  # any agreement in force
    assert not may_route(CPO, OTHER, "hubclientinfo")


def test_refusal_names_the_missing_agreement_cpo_first(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    assert route_refusal({EMSP}, CPO, "tokens") == (
        "no roaming agreement in force between NL*CPO and DE*EMS for tokens"
    )
    assert route_refusal({CPO}, EMSP, "commands") == (
        "no roaming agreement in force between NL*CPO and DE*EMS for sessions"
    )


def test_broadcast_receivers_are_the_agreed_emsps(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    RoamingAgreementFactory(location_ids=["LOC1"])
    receivers = receivers_for("locations", owner=CPO, location_id="LOC1")
    assert [r.party for r in receivers] == [EMSP]
    assert receivers_for("locations", owner=CPO, location_id="LOC2") == []
    assert receivers_for("tariffs", owner=CPO) != []


def test_gets_show_only_agreed_data(agreements_mode: None, pair: dict[str, Any]) -> None:
    RoamingAgreementFactory(scopes=["locations", "tokens"], location_ids=["LOC1"])
    LocationFactory(party=("NL", "CPO"), location_id="LOC1")
    LocationFactory(party=("NL", "CPO"), location_id="LOC2")
    LocationFactory(party=("NL", "XYZ"), location_id="LOC1")
    TariffFactory(country_code="NL", party_id="CPO")
    TokenFactory(party=("DE", "EMS"), uid="A1")
    TokenFactory(party=("DE", "EMT"), uid="B1")
    emsp, other, cpo = (Caller.of(pair[name]) for name in ("emsp", "other", "cpo"))
    assert [loc.location_id for loc in locations_visible_to(emsp)] == ["LOC1"]
    assert list(locations_visible_to(other)) == []
    assert list(tariffs_visible_to(emsp)) == []  # no tariffs scope
    assert [t.uid for t in tokens_visible_to(cpo)] == ["A1"]


def test_evse_status_needs_its_scope(agreements_mode: None, pair: dict[str, Any]) -> None:
    RoamingAgreementFactory(scopes=["locations"])
    assert not evse_status_allowed(CPO, EMSP, "LOC1")
    RoamingAgreementFactory(
        emsp_party_id="EMT", scopes=["locations", "evse_status"], location_ids=["LOC1"]
    )
    assert evse_status_allowed(CPO, OTHER, "LOC1")
    assert not evse_status_allowed(CPO, OTHER, "LOC2")


def test_clientinfo_directory_only_of_counterparts(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    RoamingAgreementFactory(scopes=["cdrs"])
    seen = {(r.country_code, r.party_id) for r in client_infos_visible_to(pair["emsp"])}
    assert seen == {("NL", "CPO")}
    assert list(client_infos_visible_to(pair["other"])) == []


def test_queued_delivery_refused_once_agreement_suspended(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    agreement = RoamingAgreementFactory()
    delivery: PushDelivery = PushDeliveryFactory(
        receiver=pair["emsp"],
        module="locations",
        object_key="NL/CPO/LOC1",
        to_country_code="DE",
        to_party_id="EMS",
    )
    assert delivery_refusal(delivery) is None
    agreement.status = AgreementStatus.SUSPENDED
    agreement.save()
    assert delivery_refusal(delivery) == (
        "no roaming agreement in force between NL*CPO and DE*EMS for locations at location LOC1"
    )


def test_today_is_the_local_date() -> None:
    assert policy.today() == timezone.localdate()


def test_sessions_and_cdrs_visible_only_under_their_scope(
    agreements_mode: None, pair: dict[str, Any]
) -> None:
    RoamingAgreementFactory(scopes=["sessions"])
    SessionFactory(party=("NL", "CPO"), emsp=("DE", "EMS"), session_id="S1")
    SessionFactory(party=("NL", "XYZ"), emsp=("DE", "EMS"), session_id="S2")  # no agreement
    CdrFactory(party=("NL", "CPO"), emsp=("DE", "EMS"), cdr_id="C1")
    emsp = Caller.of(pair["emsp"])
    assert [s.session_id for s in sessions_visible_to(emsp)] == ["S1"]
    assert list(cdrs_visible_to(emsp)) == []  # no cdrs scope
