"""Token, LocationReferences and AuthorizationInfo against the 2.2.1 mod_tokens tables."""

import json
from typing import Any

import pytest

from hub.ocpi.exceptions import InvalidParametersError
from hub.schemas import enums
from hub.schemas.tokens import (
    AuthorizationInfoSerializer,
    LocationReferencesSerializer,
    TokenPatchSerializer,
    TokenSerializer,
    token_type_param,
)
from tests.fixtures import load_ocpi_fixture
from tests.hub.schemas.helpers import assert_invalid, assert_valid, with_value, without


def rfid() -> dict[str, Any]:
    return load_ocpi_fixture("tokens", "token_rfid")


@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (enums.WhitelistType, {"ALWAYS", "ALLOWED", "ALLOWED_OFFLINE", "NEVER"}),
        (enums.AllowedType, {"ALLOWED", "BLOCKED", "EXPIRED", "NO_CREDIT", "NOT_ALLOWED"}),
        (enums.ProfileType, {"CHEAP", "FAST", "GREEN", "REGULAR"}),
    ],
)
def test_token_enums_have_the_spec_values(enum: Any, values: set[str]) -> None:
    assert set(enum.values) == values


@pytest.mark.parametrize("name", ["token_rfid", "token_app_user"])
def test_valid_tokens_pass_and_validated_data_is_the_input(name: str) -> None:
    data = load_ocpi_fixture("tokens", name)
    validated = assert_valid(TokenSerializer, data).validated_data
    assert validated == data
    assert json.loads(json.dumps(validated)) == data


@pytest.mark.parametrize(
    "field",
    ["country_code", "party_id", "uid", "type", "contract_id", "issuer", "valid", "whitelist"]
    + ["last_updated"],
)
def test_required_field_missing_is_named(field: str) -> None:
    assert_invalid(TokenSerializer, without(rfid(), field), field, "required")


@pytest.mark.parametrize(
    "field",
    ["visual_number", "group_id", "language", "default_profile_type", "energy_contract"],
)
def test_optional_fields_may_be_absent_or_null(field: str) -> None:
    assert_valid(TokenSerializer, without(rfid(), field))
    assert_valid(TokenSerializer, with_value(rfid(), field, None))


@pytest.mark.parametrize(
    ("path", "value", "fragment"),
    [
        ("uid", "X" * 37, "36"),
        ("uid", "", "blank"),
        ("uid", "café", "ASCII"),
        ("contract_id", "C" * 37, ""),
        ("group_id", "G" * 37, ""),
        ("issuer", "I" * 65, ""),
        ("visual_number", "V" * 65, ""),
        ("type", "rfid", "case-sensitive"),
        ("type", "NFC", "TokenType"),
        ("whitelist", "SOMETIMES", "WhitelistType"),
        ("default_profile_type", "TURBO", "ProfileType"),
        ("valid", "true", ""),
        ("language", "deu", ""),
        ("country_code", "DEU", ""),
        ("party_id", "MS", ""),
        ("last_updated", "2024-05-01T10:00:00+02:00", ""),
        ("energy_contract.supplier_name", "S" * 65, ""),
        ("energy_contract.contract_id", "C" * 65, ""),
    ],
)
def test_invalid_field_is_named(path: str, value: Any, fragment: str) -> None:
    assert_invalid(TokenSerializer, with_value(rfid(), path, value), path, fragment)


def test_energy_contract_needs_a_supplier() -> None:
    data = rfid()
    del data["energy_contract"]["supplier_name"]
    assert_invalid(TokenSerializer, data, "energy_contract.supplier_name", "required")


def test_unknown_field_refused() -> None:
    assert_invalid(TokenSerializer, {**rfid(), "pin": "1234"}, "pin", "not a field")


def test_patch_needs_only_last_updated() -> None:
    assert_valid(TokenPatchSerializer, {"valid": False, "last_updated": "2024-05-02T00:00:00Z"})
    assert_invalid(TokenPatchSerializer, {"valid": False}, "last_updated", "required")
    assert_invalid(
        TokenPatchSerializer,
        {"whitelist": "NOPE", "last_updated": "2024-05-02T00:00:00Z"},
        "whitelist",
    )


def test_location_references() -> None:
    assert_valid(LocationReferencesSerializer, {"location_id": "LOC1"})
    assert_valid(LocationReferencesSerializer, {"location_id": "LOC1", "evse_uids": ["E1", "E2"]})
    assert_invalid(LocationReferencesSerializer, {"evse_uids": ["E1"]}, "location_id", "required")
    assert_invalid(LocationReferencesSerializer, {"location_id": "L" * 37}, "location_id", "36")
    assert_invalid(
        LocationReferencesSerializer,
        {"location_id": "LOC1", "evse_uids": ["E" * 37]},
        "evse_uids[0]",
    )


def test_authorization_info() -> None:
    info = load_ocpi_fixture("tokens", "authorization_info")
    assert assert_valid(AuthorizationInfoSerializer, info).validated_data == info
    assert_invalid(AuthorizationInfoSerializer, {**info, "allowed": "YES"}, "allowed")
    assert_invalid(AuthorizationInfoSerializer, without(info, "token.uid"), "token.uid")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [(None, "RFID"), ("", "RFID"), ("APP_USER", "APP_USER"), ("AD_HOC_USER", "AD_HOC_USER")],
)
def test_type_parameter_defaults_to_rfid(raw: str | None, expected: str) -> None:
    assert token_type_param(raw) == expected


@pytest.mark.parametrize("raw", ["rfid", "CARD", "RFID "])
def test_invalid_type_parameter_is_2001_naming_type(raw: str) -> None:
    with pytest.raises(InvalidParametersError, match="^type: "):
        token_type_param(raw)
