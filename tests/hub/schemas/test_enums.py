"""The Locations/Tariffs enums: spelled as the spec, strict on input."""

import pytest
from django.db import models
from rest_framework import serializers

from hub.schemas import enums
from hub.schemas.common import IMAGE_CATEGORIES
from hub.schemas.enums import ConnectorType, OcpiEnumField, Status

SIZES = {
    enums.Status: 9,
    enums.Capability: 13,
    enums.ConnectorType: 40,
    enums.ConnectorFormat: 2,
    enums.PowerType: 5,
    enums.ParkingType: 6,
    enums.ParkingRestriction: 5,
    enums.Facility: 20,
    enums.ImageCategory: 7,
    enums.EnergySourceCategory: 8,
    enums.EnvironmentalImpactCategory: 2,
    enums.TokenType: 4,
    enums.TariffType: 5,
    enums.TariffDimensionType: 4,
    enums.DayOfWeek: 7,
    enums.ReservationRestrictionType: 2,
}


@pytest.mark.parametrize(("enum", "size"), SIZES.items(), ids=lambda v: getattr(v, "__name__", ""))
def test_enum_has_the_spec_values_spelled_as_their_names(
    enum: type[models.TextChoices], size: int
) -> None:
    assert len(enum.values) == size
    assert all(member.value == member.name for member in enum)


def test_image_category_matches_common_image_categories() -> None:
    assert sorted(enums.ImageCategory.values) == sorted(IMAGE_CATEGORIES)


def test_connector_type_keeps_the_mixed_case_values() -> None:
    assert {
        "IEC_60309_2_single_16",
        "IEC_60309_2_three_16",
        "IEC_60309_2_three_32",
        "IEC_60309_2_three_64",
    } <= set(ConnectorType.values)


def field() -> OcpiEnumField:
    return OcpiEnumField(Status)


def test_enum_field_accepts_exact_value() -> None:
    assert field().run_validation("AVAILABLE") == "AVAILABLE"


@pytest.mark.parametrize(
    ("value", "fragment"),
    [
        ("available", 'case-sensitive: "AVAILABLE"'),
        ("Available", 'case-sensitive: "AVAILABLE"'),
        ("FREE", '"FREE" is not a valid Status'),
        ("", "is not a valid Status"),
        (1, "must be a string"),
        (True, "must be a string"),
        (["AVAILABLE"], "must be a string"),
    ],
)
def test_enum_field_refuses_anything_else(value: object, fragment: str) -> None:
    with pytest.raises(serializers.ValidationError) as raised:
        field().run_validation(value)
    assert fragment in str(raised.value.detail)
