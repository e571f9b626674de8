"""Location, EVSE and Connector (2.2.1 mod_locations, release-2.2.1-bugfixes tables).

The serializers check a partner's object against the spec tables: every field's type, length
and cardinality (`1` required and not null, `?` optional and nullable, `*` an optional list
that may be null or empty, `+` a required non-empty list), every enum (case-sensitive), and the
rules the spec text adds (GeoLocation patterns, Hours, PublishTokenType, `publish_allowed_to`).
Fields the tables do not define are refused (`OcpiObjectSerializer`).

What validation returns: the hub stores and forwards the partner's JSON as received, so the
top-level serializers (`OcpiPayloadSerializer`) are checks only. After `is_valid()`,
`validated_data` is a deep copy of the input, unchanged (the partner's spellings, ids in their
case, numbers as parsed, DateTimes as sent: JSON-serialisable as is), and `typed_data` holds the
same object as DRF typed it (`Decimal` numbers, aware `datetime`s) for code that computes with
it. Rendering (`.data`) of a stored object returns it unchanged as well.

Decisions where the spec leaves room (documented here because they refuse or accept data):

- `evse_id` is checked as CiString(48) only. The eMI3 format is not enforced: CPOs in the
  field send DIN SPEC 91286 ids and other variants, and refusing the whole Location over a
  display id would hide real charge points from every eMSP.
- GeoLocation follows both the table and the regex: latitude string(10) and
  `-?[0-9]{1,2}\\.[0-9]{5,7}`, longitude string(11) and `-?[0-9]{1,3}\\.[0-9]{5,7}`, plus the
  WGS 84 ranges. (The spec's own regex allows one character more than its length for negative
  coordinates with 7 decimals; those are refused, as the table says.)
- `time_zone` must be a name of the IANA tz database known to the system
  (`zoneinfo.available_timezones()`, exact case).
- `country` is 3 upper-case letters (ISO 3166-1 alpha-3 form; the list itself is not checked).
- RegularHours `period_begin`/`period_end` follow the regex `([0-1][0-9]|2[0-3]):[0-5][0-9]`
  (no `24:00`) and `period_end` must be later than `period_begin`, as the spec says.
  ExceptionalPeriod and StatusSchedule periods must end after they begin.
- Physical quantities (voltage, amperage, power, percentages, environmental amounts) may not be
  negative; EnergySource `percentage` is at most 100. Percentages need not add up to 100 (the
  spec says "should").
- Required strings must not be blank; the optional free-text fields (`name`, `postal_code`,
  `state`, `floor_level`, `physical_reference`, `supplier_name`, `energy_product_name`) may be.
- EVSE `uid`s within a Location and Connector `id`s within an EVSE must be unique
  (case-insensitively, as CiStrings compare): the hub addresses them by those ids.
"""

import copy
import math
import re
import zoneinfo
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, ClassVar

from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from hub.ocpi.fields import (
    CiStringField,
    OcpiDateTimeField,
    OcpiStringField,
    OcpiUrlField,
    StrictBooleanField,
    StrictIntegerField,
)
from hub.ocpi.schema import DATETIME_SCHEMA
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.common import (
    BusinessDetailsSerializer,
    CountryCodeField,
    ImageSerializer,
    PartyIdField,
)
from hub.schemas.enums import (
    Capability,
    ConnectorFormat,
    ConnectorType,
    EnergySourceCategory,
    EnvironmentalImpactCategory,
    Facility,
    OcpiEnumField,
    ParkingRestriction,
    ParkingType,
    PowerType,
    Status,
    TokenType,
)

# ---- building blocks shared with the Tariffs module ------------------------------------------


@extend_schema_field(OpenApiTypes.NUMBER)
class OcpiNumberField(serializers.Field):  # type: ignore[type-arg]
    """number: a JSON number (int or float; not a string, not a boolean), finite, typed as the
    `Decimal` of its JSON spelling (`0.1` becomes `Decimal("0.1")`, not the binary float)."""

    default_error_messages = {
        "invalid": "must be a JSON number",
        "min_value": "must be at least {min_value}",
        "max_value": "must be at most {max_value}",
    }

    def __init__(
        self, *, min_value: int | None = None, max_value: int | None = None, **kwargs: Any
    ) -> None:
        self.min_value = min_value
        self.max_value = max_value
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        if isinstance(data, bool) or not isinstance(data, int | float | Decimal):
            self.fail("invalid")
        if isinstance(data, float) and not math.isfinite(data):
            self.fail("invalid")
        try:
            value = data if isinstance(data, Decimal) else Decimal(str(data))
        except (ValueError, InvalidOperation):  # an int too long to print
            self.fail("invalid")
        if not value.is_finite():
            self.fail("invalid")
        if self.min_value is not None and value < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and value > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return value

    def to_representation(self, value: Any) -> Any:
        return value


class OcpiDateTimeFieldSchema(OpenApiSerializerFieldExtension):
    """OpenAPI: `OcpiDateTimeField` is an OCPI DateTime string. (Its natural home is
    `hub/ocpi/schema.py`; it lives here, next to the first schemas that use the field.)"""

    target_class = OcpiDateTimeField
    match_subclasses = True

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> Any:
        # The exact form the hub reads and writes (UTC, Z), not any RFC 3339 date-time.
        return {"format": "date-time", **DATETIME_SCHEMA}


class PatternStringField(OcpiStringField):
    """string(`length`) that must match a regular expression as a whole."""

    pattern: ClassVar[re.Pattern[str]]
    pattern_message: ClassVar[str]
    length: ClassVar[int | None] = None  # the spec's string(n); a field may pass its own

    def __init__(self, **kwargs: Any) -> None:
        if self.length is not None:
            kwargs.setdefault("max_length", self.length)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not self.pattern.fullmatch(value):
            raise serializers.ValidationError(self.pattern_message)
        return value


class TimeOfDayField(PatternStringField):
    """string(5) `HH:MM`, 24h, leading zeros, 00:00 to 23:59 (RegularHours, TariffRestrictions)."""

    pattern = re.compile(r"([0-1][0-9]|2[0-3]):[0-5][0-9]")
    pattern_message = "must be a time of day HH:MM from 00:00 to 23:59"
    length = 5


class _UpperCodeField(PatternStringField):
    length = 3


class CountryAlpha3Field(_UpperCodeField):
    """string(3): ISO 3166-1 alpha-3 country code."""

    pattern = re.compile(r"[A-Z]{3}")
    pattern_message = "must be an ISO 3166-1 alpha-3 country code (3 upper-case letters)"


class CurrencyField(_UpperCodeField):
    """string(3): ISO 4217 currency code."""

    pattern = re.compile(r"[A-Z]{3}")
    pattern_message = "must be an ISO 4217 currency code (3 upper-case letters)"


class LanguageField(PatternStringField):
    """string(2): ISO 639-1 language code."""

    pattern = re.compile(r"[A-Za-z]{2}")
    pattern_message = "must be a 2-letter ISO 639-1 language code"
    length = 2


@cache
def _iana_zones() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


class TimeZoneField(OcpiStringField):
    """string(255): one of the IANA tz database names, e.g. `Europe/Oslo` (exact case)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if value not in _iana_zones():
            raise serializers.ValidationError(
                f'"{value}" is not an IANA time zone name (e.g. "Europe/Oslo")'
            )
        return value


def list_of(
    child: serializers.Field,  # type: ignore[type-arg]
    *,
    cardinality: str,
) -> serializers.Field:  # type: ignore[type-arg]
    """A list field with OCPI cardinality `*` (optional, null or [] allowed) or `+` (required,
    at least one). Members are never null."""
    if cardinality not in ("*", "+"):
        raise ValueError(f"cardinality must be * or +, not {cardinality!r}")
    kwargs: dict[str, Any] = (
        {"required": False, "allow_null": True, "allow_empty": True}
        if cardinality == "*"
        else {"allow_empty": False}
    )
    if isinstance(child, serializers.BaseSerializer):
        return serializers.ListSerializer(child=child, **kwargs)
    return serializers.ListField(child=child, **kwargs)


def _after(attrs: Mapping[str, Any], begin: str, end: str) -> None:
    """`end` must be later than `begin` when both are present."""
    start, stop = attrs.get(begin), attrs.get(end)
    if start is not None and stop is not None and not stop > start:
        raise serializers.ValidationError({end: f"must be later than {begin}"})


def _unique(items: list[Mapping[str, Any]] | None, key: str, what: str) -> Any:
    """Errors for members whose `key` repeats an earlier one (CiString: case-insensitive)."""
    seen: dict[str, int] = {}
    errors: dict[int, Any] = {}
    for index, item in enumerate(items or []):
        value = str(item.get(key, "")).upper()
        if value in seen:
            errors[index] = {key: [f"{what} {item.get(key)} repeats the one at #{seen[value]}"]}
        else:
            seen[value] = index
    return errors


class OcpiPayloadListSerializer(serializers.ListSerializer):  # type: ignore[type-arg]
    """`many=True` form of `OcpiPayloadSerializer`: validated_data is the input list."""

    _validated_data: Any
    typed_data: Any

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        first = not hasattr(self, "_validated_data")
        valid = super().is_valid(raise_exception=raise_exception)
        if valid and first:
            self.typed_data = self._validated_data
            self._validated_data = copy.deepcopy(self.initial_data)
        return valid


class OcpiPayloadSerializer(OcpiObjectSerializer):
    """A top-level OCPI object the hub stores and forwards as received.

    `is_valid()` runs every check; then `validated_data` is a deep copy of the input (original
    spellings and types, JSON-serialisable) and `typed_data` the DRF-typed values (`Decimal`,
    `datetime`). `to_representation` returns a stored object unchanged.
    """

    _validated_data: Any
    typed_data: Any

    class Meta:
        list_serializer_class = OcpiPayloadListSerializer

    def is_valid(self, *, raise_exception: bool = False) -> bool:
        first = not hasattr(self, "_validated_data")
        valid = super().is_valid(raise_exception=raise_exception)
        if valid and first:
            self.typed_data = self._validated_data
            self._validated_data = copy.deepcopy(self.initial_data)
        return valid

    def to_representation(self, instance: Any) -> Any:
        if isinstance(instance, Mapping):
            return copy.deepcopy(dict(instance))
        return super().to_representation(instance)


PATCH_REQUIRED_FIELDS = frozenset({"last_updated"})


def patch_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """The PATCH form of an object's fields: all optional except `last_updated` (the spec: every
    PATCH SHALL contain it). Present fields are validated as in PUT: required ones may not be
    null, lists keep their cardinality, nested objects must be complete (a PATCH replaces a
    top-level field as a whole)."""
    for name, field in fields.items():
        if name not in PATCH_REQUIRED_FIELDS:
            field.required = False
    return fields


# ---- classes (types.asciidoc, mod_locations data types) ---------------------------------------


class DisplayTextSerializer(OcpiObjectSerializer):
    """DisplayText class (types.asciidoc)."""

    language = LanguageField()
    text = OcpiStringField(max_length=512)


class DegreesField(PatternStringField):
    """A GeoLocation coordinate: string(`length`) of decimal degrees, at most `digits` before
    the point and 5 to 7 after it (`-?[0-9]{1,digits}\\.[0-9]{5,7}`), within ±`limit`."""

    digits: ClassVar[int]
    limit: ClassVar[int]
    example: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        shape = rf"-?[0-9]{{1,{cls.digits}}}\.[0-9]{{5,7}}"
        cls.pattern = re.compile(shape)
        cls.pattern_message = (
            f'must match {shape} (decimal degrees, 5 to 7 decimals, e.g. "{cls.example}")'
        )

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if abs(Decimal(value)) > self.limit:
            raise serializers.ValidationError(f"must be between -{self.limit} and {self.limit}")
        return value


class LatitudeField(DegreesField):
    """GeoLocation latitude: string(10), -90 to 90."""

    digits, limit, length, example = 2, 90, 10, "52.37403"


class LongitudeField(DegreesField):
    """GeoLocation longitude: string(11), -180 to 180."""

    digits, limit, length, example = 3, 180, 11, "4.89170"


class GeoLocationSerializer(OcpiObjectSerializer):
    """GeoLocation class (WGS 84)."""

    latitude = LatitudeField()
    longitude = LongitudeField()


class AdditionalGeoLocationSerializer(GeoLocationSerializer):
    """AdditionalGeoLocation class: a related point, optionally named."""

    name = DisplayTextSerializer(required=False, allow_null=True)


class RegularHoursSerializer(OcpiObjectSerializer):
    """RegularHours class: weekday 1 (Monday) to 7, local HH:MM, end later than begin."""

    weekday = StrictIntegerField(min_value=1, max_value=7)
    period_begin = TimeOfDayField()
    period_end = TimeOfDayField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _after(attrs, "period_begin", "period_end")
        return attrs


class ExceptionalPeriodSerializer(OcpiObjectSerializer):
    """ExceptionalPeriod class."""

    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _after(attrs, "period_begin", "period_end")
        return attrs


class HoursSerializer(OcpiObjectSerializer):
    """Hours class: `regular_hours` is required (non-empty) when `twentyfourseven` is false and
    not allowed when it is true."""

    twentyfourseven = StrictBooleanField()
    regular_hours = list_of(RegularHoursSerializer(), cardinality="*")
    exceptional_openings = list_of(ExceptionalPeriodSerializer(), cardinality="*")
    exceptional_closings = list_of(ExceptionalPeriodSerializer(), cardinality="*")

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        regular = attrs.get("regular_hours")
        if attrs["twentyfourseven"] and regular:
            raise serializers.ValidationError(
                {"regular_hours": "must be empty when twentyfourseven is true"}
            )
        if not attrs["twentyfourseven"] and not regular:
            raise serializers.ValidationError(
                {"regular_hours": "at least one is required when twentyfourseven is false"}
            )
        return attrs


class EnergySourceSerializer(OcpiObjectSerializer):
    """EnergySource class: percentage 0 to 100."""

    source = OcpiEnumField(EnergySourceCategory)  # type: ignore[assignment]  # shadows Field.source
    percentage = OcpiNumberField(min_value=0, max_value=100)


class EnvironmentalImpactSerializer(OcpiObjectSerializer):
    """EnvironmentalImpact class: amount in g/kWh."""

    category = OcpiEnumField(EnvironmentalImpactCategory)
    amount = OcpiNumberField(min_value=0)


class EnergyMixSerializer(OcpiObjectSerializer):
    """EnergyMix class (also used by Tariff)."""

    is_green_energy = StrictBooleanField()
    energy_sources = list_of(EnergySourceSerializer(), cardinality="*")
    environ_impact = list_of(EnvironmentalImpactSerializer(), cardinality="*")
    supplier_name = OcpiStringField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )
    energy_product_name = OcpiStringField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )


class StatusScheduleSerializer(OcpiObjectSerializer):
    """StatusSchedule class: a planned status; a period may have no end."""

    period_begin = OcpiDateTimeField()
    period_end = OcpiDateTimeField(required=False, allow_null=True)
    status = OcpiEnumField(Status)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        _after(attrs, "period_begin", "period_end")
        return attrs


class PublishTokenTypeSerializer(OcpiObjectSerializer):
    """PublishTokenType class: at least one of `uid`, `visual_number`, `group_id`; `uid`
    needs `type`; `visual_number` needs `issuer`."""

    uid = CiStringField(max_length=36, required=False, allow_null=True)
    type = OcpiEnumField(TokenType, required=False, allow_null=True)
    visual_number = OcpiStringField(max_length=64, required=False, allow_null=True)
    issuer = OcpiStringField(max_length=64, required=False, allow_null=True)
    group_id = CiStringField(max_length=36, required=False, allow_null=True)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if all(attrs.get(name) is None for name in ("uid", "visual_number", "group_id")):
            raise serializers.ValidationError(
                "at least one of uid, visual_number or group_id must be set"
            )
        errors: dict[str, str] = {}
        if attrs.get("uid") is not None and attrs.get("type") is None:
            errors["type"] = "is required when uid is set"
        if attrs.get("visual_number") is not None and attrs.get("issuer") is None:
            errors["issuer"] = "is required when visual_number is set"
        if errors:
            raise serializers.ValidationError(errors)
        return attrs


# ---- objects ----------------------------------------------------------------------------------


class ConnectorSerializer(OcpiPayloadSerializer):
    """Connector object (PUT, or a member of an EVSE's `connectors`)."""

    id = CiStringField(max_length=36)
    standard = OcpiEnumField(ConnectorType)
    format = OcpiEnumField(ConnectorFormat)
    power_type = OcpiEnumField(PowerType)
    max_voltage = StrictIntegerField(min_value=0)
    max_amperage = StrictIntegerField(min_value=0)
    max_electric_power = StrictIntegerField(min_value=0, required=False, allow_null=True)
    tariff_ids = list_of(CiStringField(max_length=36), cardinality="*")
    terms_and_conditions = OcpiUrlField(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()


class EvseSerializer(OcpiPayloadSerializer):
    """EVSE object (PUT, or a member of a Location's `evses`)."""

    uid = CiStringField(max_length=36)
    evse_id = CiStringField(max_length=48, required=False, allow_null=True)
    status = OcpiEnumField(Status)
    status_schedule = list_of(StatusScheduleSerializer(), cardinality="*")
    capabilities = list_of(OcpiEnumField(Capability), cardinality="*")
    connectors = list_of(ConnectorSerializer(), cardinality="+")
    floor_level = OcpiStringField(max_length=4, required=False, allow_null=True, allow_blank=True)
    coordinates = GeoLocationSerializer(required=False, allow_null=True)
    physical_reference = OcpiStringField(
        max_length=16, required=False, allow_null=True, allow_blank=True
    )
    directions = list_of(DisplayTextSerializer(), cardinality="*")
    parking_restrictions = list_of(OcpiEnumField(ParkingRestriction), cardinality="*")
    images = list_of(ImageSerializer(), cardinality="*")
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        duplicates = _unique(attrs.get("connectors"), "id", "connector id")
        if duplicates:
            raise serializers.ValidationError({"connectors": duplicates})
        return attrs


class LocationSerializer(OcpiPayloadSerializer):
    """Location object (PUT, and each member of a CPO's GET list)."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    id = CiStringField(max_length=36)
    publish = StrictBooleanField()
    publish_allowed_to = list_of(PublishTokenTypeSerializer(), cardinality="*")
    name = OcpiStringField(max_length=255, required=False, allow_null=True, allow_blank=True)
    address = OcpiStringField(max_length=255)
    city = OcpiStringField(max_length=45)
    postal_code = OcpiStringField(max_length=10, required=False, allow_null=True, allow_blank=True)
    state = OcpiStringField(max_length=45, required=False, allow_null=True, allow_blank=True)
    country = CountryAlpha3Field()
    coordinates = GeoLocationSerializer()
    related_locations = list_of(AdditionalGeoLocationSerializer(), cardinality="*")
    parking_type = OcpiEnumField(ParkingType, required=False, allow_null=True)
    evses = list_of(EvseSerializer(), cardinality="*")
    directions = list_of(DisplayTextSerializer(), cardinality="*")
    operator = BusinessDetailsSerializer(required=False, allow_null=True)
    suboperator = BusinessDetailsSerializer(required=False, allow_null=True)
    owner = BusinessDetailsSerializer(required=False, allow_null=True)
    facilities = list_of(OcpiEnumField(Facility), cardinality="*")
    time_zone = TimeZoneField()
    opening_times = HoursSerializer(required=False, allow_null=True)
    charging_when_closed = StrictBooleanField(required=False, allow_null=True)
    images = list_of(ImageSerializer(), cardinality="*")
    energy_mix = EnergyMixSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("publish") is True and attrs.get("publish_allowed_to"):
            raise serializers.ValidationError(
                {"publish_allowed_to": "may only be used when publish is false"}
            )
        duplicates = _unique(attrs.get("evses"), "uid", "EVSE uid")
        if duplicates:
            raise serializers.ValidationError({"evses": duplicates})
        return attrs


class LocationPatchSerializer(LocationSerializer):
    """PATCH of a Location: any subset of its fields, plus the required `last_updated`."""

    def get_fields(self) -> dict[str, Any]:
        return patch_fields(super().get_fields())


class EvsePatchSerializer(EvseSerializer):
    """PATCH of an EVSE: any subset of its fields, plus the required `last_updated`."""

    def get_fields(self) -> dict[str, Any]:
        return patch_fields(super().get_fields())


class ConnectorPatchSerializer(ConnectorSerializer):
    """PATCH of a Connector: any subset of its fields, plus the required `last_updated`."""

    def get_fields(self) -> dict[str, Any]:
        return patch_fields(super().get_fields())
