"""Session, ChargingPreferences and the classes CDRs share (2.2.1 mod_sessions, mod_cdrs)."""

from decimal import Decimal
from typing import Any

import pytest
from django.db import models

from hub.schemas.sessions import (
    SESSION_ONLY_DIMENSIONS,
    AuthMethod,
    CdrDimensionSerializer,
    CdrDimensionType,
    CdrTokenSerializer,
    ChargingPeriodSerializer,
    ChargingPreferencesResponse,
    ChargingPreferencesSerializer,
    SessionChargingPeriodSerializer,
    SessionPatchSerializer,
    SessionSerializer,
    SessionStatus,
)
from tests.fixtures import load_ocpi_fixture
from tests.hub.schemas.helpers import assert_invalid, assert_valid, with_value, without


def active() -> dict[str, Any]:
    return load_ocpi_fixture("sessions", "session_active")


@pytest.mark.parametrize(
    ("enum", "size"),
    [
        (AuthMethod, 3),
        (CdrDimensionType, 13),
        (SessionStatus, 5),
        (ChargingPreferencesResponse, 5),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_enums_have_the_spec_values(enum: type[models.TextChoices], size: int) -> None:
    assert len(enum.values) == size
    assert all(member.value == member.name for member in enum)


def test_session_only_dimensions_are_the_specs_five() -> None:
    assert {d.value for d in SESSION_ONLY_DIMENSIONS} == {
        "CURRENT",
        "ENERGY_EXPORT",
        "ENERGY_IMPORT",
        "POWER",
        "STATE_OF_CHARGE",
    }


@pytest.mark.parametrize("name", ["session_active", "session_reservation"])
def test_fixtures_are_valid_and_validated_data_is_the_input(name: str) -> None:
    data = load_ocpi_fixture("sessions", name)
    serializer = assert_valid(SessionSerializer, data)
    assert serializer.validated_data == data
    assert serializer.typed_data["kwh"] == Decimal(str(data["kwh"]))


@pytest.mark.parametrize("kind", sorted(SESSION_ONLY_DIMENSIONS))
def test_session_only_dimension_is_refused_in_the_cdr_form(kind: str) -> None:
    dimension = {"type": kind, "volume": 10}
    assert_invalid(CdrDimensionSerializer, dimension, "type", "only be used in Sessions")
    period = {"start_date_time": "2024-05-01T10:00:00Z", "dimensions": [dimension]}
    assert_invalid(ChargingPeriodSerializer, period, "dimensions[0].type", "Sessions")
    assert_valid(SessionChargingPeriodSerializer, period)


@pytest.mark.parametrize(
    ("kind", "volume", "valid"),
    [
        ("ENERGY", -2.5, True),  # fed back to the grid
        ("MIN_POWER", -7, True),
        ("TIME", -0.1, False),
        ("PARKING_TIME", -1, False),
        ("RESERVATION_TIME", 0, True),
        ("STATE_OF_CHARGE", 100, True),
        ("STATE_OF_CHARGE", 100.5, False),
        ("STATE_OF_CHARGE", -1, False),
    ],
)
def test_dimension_volumes(kind: str, volume: float, valid: bool) -> None:
    period = {
        "start_date_time": "2024-05-01T10:00:00Z",
        "dimensions": [{"type": kind, "volume": volume}],
    }
    if valid:
        assert_valid(SessionChargingPeriodSerializer, period)
    else:
        assert_invalid(SessionChargingPeriodSerializer, period, "dimensions[0].volume")


@pytest.mark.parametrize("field", ["country_code", "party_id", "uid", "type", "contract_id"])
def test_every_cdr_token_field_is_required(field: str) -> None:
    assert_invalid(CdrTokenSerializer, without(active()["cdr_token"], field), field, "required")


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ("cdr_token.country_code", "DEU"),
        ("cdr_token.party_id", "M1"),
        ("cdr_token.uid", "U" * 37),
        ("cdr_token.contract_id", "C" * 37),
        ("auth_method", "TOKEN"),
        ("authorization_reference", "A" * 37),
        ("location_id", "L" * 37),
        ("evse_uid", None),
        ("connector_id", ""),
        ("charging_periods[0].tariff_id", "T" * 37),
        ("charging_periods[0].start_date_time", "yesterday"),
        ("total_cost.excl_vat", "1.00"),
        ("kwh", 10**10),
    ],
)
def test_invalid_session_fields(path: str, value: Any) -> None:
    assert_invalid(SessionSerializer, with_value(active(), path, value), path)


def test_patch_needs_only_last_updated() -> None:
    assert_valid(SessionPatchSerializer, {"last_updated": "2024-05-01T11:00:00Z"})
    assert_invalid(SessionPatchSerializer, {"kwh": 1}, "last_updated", "required")
    assert_invalid(
        SessionPatchSerializer,
        {"cdr_token": {"uid": "X"}, "last_updated": "2024-05-01T11:00:00Z"},
        "cdr_token.country_code",
    )


@pytest.mark.parametrize(
    ("data", "path"),
    [
        ({}, "profile_type"),
        ({"profile_type": "cheap"}, "profile_type"),
        ({"profile_type": "FAST", "energy_need": -1}, "energy_need"),
        ({"profile_type": "FAST", "departure_time": "2024-05-01T11:00:00+01:00"}, "departure_time"),
        ({"profile_type": "FAST", "discharge_allowed": "yes"}, "discharge_allowed"),
        ({"profile_type": "FAST", "comment": "x"}, "comment"),
    ],
)
def test_invalid_charging_preferences(data: dict[str, Any], path: str) -> None:
    assert_invalid(ChargingPreferencesSerializer, data, path)


def test_full_charging_preferences_are_valid_as_received() -> None:
    data = {
        "profile_type": "GREEN",
        "departure_time": "2024-05-01T18:00:00Z",
        "energy_need": 32.5,
        "discharge_allowed": True,
    }
    assert assert_valid(ChargingPreferencesSerializer, data).validated_data == data
