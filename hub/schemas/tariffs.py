"""Tariff (2.2.1 mod_tariffs, release-2.2.1-bugfixes tables).

Like the Locations serializers, `TariffSerializer` only checks: after `is_valid()` its
`validated_data` is the partner's object as received and `typed_data` the typed form (see
`hub.schemas.locations`). Tariffs have no PATCH (the module's Receiver interface has GET, PUT
and DELETE only).

Rules from the spec text, and decisions where it leaves room:

- A TariffElement whose restrictions carry `reservation` may only have `FLAT` and `TIME`
  price components ("A reservation can only have: FLAT and TIME TariffDimensions").
- `start_time`/`end_time` follow `([0-1][0-9]|2[0-3]):[0-5][0-9]`; `end_time` may be earlier
  than `start_time` (the period wraps to the next day; `00:00` ends it at midnight).
- `start_date`/`end_date` follow `([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])` and
  must be real dates; `start_date` may not be after `end_date`.
- Prices, VAT percentages, `step_size` and the kWh/current/power/duration restrictions may not
  be negative, and no `min_*` restriction may exceed its `max_*`. `min_price` may not exceed
  `max_price` (excl. VAT, and incl. VAT when both give it); `end_date_time` must be later than
  `start_date_time`.
"""

import re
from datetime import date
from typing import Any

from rest_framework import serializers

from hub.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiUrlField, StrictIntegerField
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.common import CountryCodeField, PartyIdField
from hub.schemas.enums import (
    DayOfWeek,
    OcpiEnumField,
    ReservationRestrictionType,
    TariffDimensionType,
    TariffType,
)
from hub.schemas.locations import (
    CurrencyField,
    DisplayTextSerializer,
    EnergyMixSerializer,
    OcpiNumberField,
    OcpiPayloadSerializer,
    PatternStringField,
    TimeOfDayField,
    list_of,
)

RESERVATION_DIMENSIONS = frozenset({TariffDimensionType.FLAT, TariffDimensionType.TIME})


class LocalDateField(PatternStringField):
    """string(10) `YYYY-MM-DD` (local date), a real calendar date."""

    pattern = re.compile(r"([12][0-9]{3})-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])")
    pattern_message = "must be a date YYYY-MM-DD"
    length = 10

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        try:
            date.fromisoformat(value)
        except ValueError:
            raise serializers.ValidationError(f"{value} is not a calendar date") from None
        return value


def _not_above(attrs: dict[str, Any], low: str, high: str) -> dict[str, list[str]]:
    lower, upper = attrs.get(low), attrs.get(high)
    if lower is not None and upper is not None and lower > upper:
        return {low: [f"must not be greater than {high}"]}
    return {}


class PriceSerializer(OcpiObjectSerializer):
    """Price class (types.asciidoc)."""

    excl_vat = OcpiNumberField()
    incl_vat = OcpiNumberField(required=False, allow_null=True)


class PriceComponentSerializer(OcpiObjectSerializer):
    """PriceComponent class: price per unit excl. VAT; `vat` absent means no VAT applies."""

    type = OcpiEnumField(TariffDimensionType)
    price = OcpiNumberField(min_value=0)
    vat = OcpiNumberField(min_value=0, required=False, allow_null=True)
    step_size = StrictIntegerField(min_value=0)


class TariffRestrictionsSerializer(OcpiObjectSerializer):
    """TariffRestrictions class (all restrictions AND-ed)."""

    start_time = TimeOfDayField(required=False, allow_null=True)
    end_time = TimeOfDayField(required=False, allow_null=True)
    start_date = LocalDateField(required=False, allow_null=True)
    end_date = LocalDateField(required=False, allow_null=True)
    min_kwh = OcpiNumberField(min_value=0, required=False, allow_null=True)
    max_kwh = OcpiNumberField(min_value=0, required=False, allow_null=True)
    min_current = OcpiNumberField(min_value=0, required=False, allow_null=True)
    max_current = OcpiNumberField(min_value=0, required=False, allow_null=True)
    min_power = OcpiNumberField(min_value=0, required=False, allow_null=True)
    max_power = OcpiNumberField(min_value=0, required=False, allow_null=True)
    min_duration = StrictIntegerField(min_value=0, required=False, allow_null=True)
    max_duration = StrictIntegerField(min_value=0, required=False, allow_null=True)
    day_of_week = list_of(OcpiEnumField(DayOfWeek), cardinality="*")
    reservation = OcpiEnumField(ReservationRestrictionType, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        errors: dict[str, list[str]] = {}
        for low, high in (
            ("start_date", "end_date"),
            ("min_kwh", "max_kwh"),
            ("min_current", "max_current"),
            ("min_power", "max_power"),
            ("min_duration", "max_duration"),
        ):
            errors.update(_not_above(attrs, low, high))
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


class TariffElementSerializer(OcpiObjectSerializer):
    """TariffElement class; a reservation element prices only FLAT and TIME."""

    price_components = list_of(PriceComponentSerializer(), cardinality="+")
    restrictions = TariffRestrictionsSerializer(required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        restrictions = attrs.get("restrictions") or {}
        if restrictions.get("reservation") is not None:
            errors: Any = {
                index: {
                    "type": [
                        f"{component['type']} is not allowed in a reservation element "
                        f"(restrictions.reservation={restrictions['reservation']}): only FLAT "
                        "and TIME"
                    ]
                }
                for index, component in enumerate(attrs["price_components"])
                if component["type"] not in RESERVATION_DIMENSIONS
            }
            if errors:
                raise serializers.ValidationError({"price_components": errors})
        return attrs


class TariffSerializer(OcpiPayloadSerializer):
    """Tariff object (PUT, and each member of a CPO's GET list)."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    id = CiStringField(max_length=36)
    currency = CurrencyField()
    type = OcpiEnumField(TariffType, required=False, allow_null=True)
    tariff_alt_text = list_of(DisplayTextSerializer(), cardinality="*")
    tariff_alt_url = OcpiUrlField(required=False, allow_null=True)
    min_price = PriceSerializer(required=False, allow_null=True)
    max_price = PriceSerializer(required=False, allow_null=True)
    elements = list_of(TariffElementSerializer(), cardinality="+")
    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    energy_mix = EnergyMixSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date_time"), attrs.get("end_date_time")
        if start is not None and end is not None and not end > start:
            raise serializers.ValidationError(
                {"end_date_time": "must be later than start_date_time"}
            )
        low, high = attrs.get("min_price"), attrs.get("max_price")
        if low is not None and high is not None:
            for part in ("excl_vat", "incl_vat"):
                if (
                    low.get(part) is not None
                    and high.get(part) is not None
                    and low[part] > high[part]
                ):
                    raise serializers.ValidationError(
                        {"min_price": {part: [f"must not be greater than max_price.{part}"]}}
                    )
        return attrs
