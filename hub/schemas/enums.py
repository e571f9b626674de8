"""The enums of the Locations and Tariffs modules (2.2.1 mod_locations, mod_tariffs, mod_tokens).

Values are spelled exactly as the spec tables spell them. OCPI enums are case-sensitive, and a
few values are mixed case (`IEC_60309_2_single_16`), so nothing here is upper-cased or folded:
`OcpiEnumField` accepts exactly these strings and nothing else.

In the OpenAPI schema each enum is one component named as in the spec (`ConnectorType`,
`Status`, ...), so fields that share a name across objects (`type`, `status`, `category`) never
collide.

`ImageCategory` holds the same values as `hub.schemas.common.IMAGE_CATEGORIES` (a test keeps
the two equal); new code should use `ImageCategory.values`.
"""

import functools
from typing import Any

from django.db import models
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from rest_framework import serializers

# The enums the models store as choices live with the models (models import no layer above
# them); they are part of this vocabulary all the same.
from hub.models.spec_enums import (  # noqa: F401 - re-exported with the other enums
    AllowedType,
    CommandType,
    SessionStatus,
    Status,
    TokenType,
)


class Capability(models.TextChoices):
    """What an EVSE can do (mod_locations Capability)."""

    CHARGING_PROFILE_CAPABLE = "CHARGING_PROFILE_CAPABLE"
    CHARGING_PREFERENCES_CAPABLE = "CHARGING_PREFERENCES_CAPABLE"
    CHIP_CARD_SUPPORT = "CHIP_CARD_SUPPORT"
    CONTACTLESS_CARD_SUPPORT = "CONTACTLESS_CARD_SUPPORT"
    CREDIT_CARD_PAYABLE = "CREDIT_CARD_PAYABLE"
    DEBIT_CARD_PAYABLE = "DEBIT_CARD_PAYABLE"
    PED_TERMINAL = "PED_TERMINAL"
    REMOTE_START_STOP_CAPABLE = "REMOTE_START_STOP_CAPABLE"
    RESERVABLE = "RESERVABLE"
    RFID_READER = "RFID_READER"
    START_SESSION_CONNECTOR_REQUIRED = "START_SESSION_CONNECTOR_REQUIRED"
    TOKEN_GROUP_CAPABLE = "TOKEN_GROUP_CAPABLE"  # noqa: S105 (an enum value, not a secret)
    UNLOCK_CAPABLE = "UNLOCK_CAPABLE"


class ConnectorType(models.TextChoices):
    """The standard of a connector (mod_locations ConnectorType); note the mixed-case IEC 60309
    values."""

    CHADEMO = "CHADEMO"
    CHAOJI = "CHAOJI"
    DOMESTIC_A = "DOMESTIC_A"
    DOMESTIC_B = "DOMESTIC_B"
    DOMESTIC_C = "DOMESTIC_C"
    DOMESTIC_D = "DOMESTIC_D"
    DOMESTIC_E = "DOMESTIC_E"
    DOMESTIC_F = "DOMESTIC_F"
    DOMESTIC_G = "DOMESTIC_G"
    DOMESTIC_H = "DOMESTIC_H"
    DOMESTIC_I = "DOMESTIC_I"
    DOMESTIC_J = "DOMESTIC_J"
    DOMESTIC_K = "DOMESTIC_K"
    DOMESTIC_L = "DOMESTIC_L"
    DOMESTIC_M = "DOMESTIC_M"
    DOMESTIC_N = "DOMESTIC_N"
    DOMESTIC_O = "DOMESTIC_O"
    GBT_AC = "GBT_AC"
    GBT_DC = "GBT_DC"
    IEC_60309_2_single_16 = "IEC_60309_2_single_16"
    IEC_60309_2_three_16 = "IEC_60309_2_three_16"
    IEC_60309_2_three_32 = "IEC_60309_2_three_32"
    IEC_60309_2_three_64 = "IEC_60309_2_three_64"
    IEC_62196_T1 = "IEC_62196_T1"
    IEC_62196_T1_COMBO = "IEC_62196_T1_COMBO"
    IEC_62196_T2 = "IEC_62196_T2"
    IEC_62196_T2_COMBO = "IEC_62196_T2_COMBO"
    IEC_62196_T3A = "IEC_62196_T3A"
    IEC_62196_T3C = "IEC_62196_T3C"
    NEMA_5_20 = "NEMA_5_20"
    NEMA_6_30 = "NEMA_6_30"
    NEMA_6_50 = "NEMA_6_50"
    NEMA_10_30 = "NEMA_10_30"
    NEMA_10_50 = "NEMA_10_50"
    NEMA_14_30 = "NEMA_14_30"
    NEMA_14_50 = "NEMA_14_50"
    PANTOGRAPH_BOTTOM_UP = "PANTOGRAPH_BOTTOM_UP"
    PANTOGRAPH_TOP_DOWN = "PANTOGRAPH_TOP_DOWN"
    TESLA_R = "TESLA_R"
    TESLA_S = "TESLA_S"


class ConnectorFormat(models.TextChoices):
    """Socket or cable (mod_locations ConnectorFormat)."""

    SOCKET = "SOCKET"
    CABLE = "CABLE"


class PowerType(models.TextChoices):
    """mod_locations PowerType."""

    AC_1_PHASE = "AC_1_PHASE"
    AC_2_PHASE = "AC_2_PHASE"
    AC_2_PHASE_SPLIT = "AC_2_PHASE_SPLIT"
    AC_3_PHASE = "AC_3_PHASE"
    DC = "DC"


class ParkingType(models.TextChoices):
    """The general type of parking at a location (mod_locations ParkingType)."""

    ALONG_MOTORWAY = "ALONG_MOTORWAY"
    PARKING_GARAGE = "PARKING_GARAGE"
    PARKING_LOT = "PARKING_LOT"
    ON_DRIVEWAY = "ON_DRIVEWAY"
    ON_STREET = "ON_STREET"
    UNDERGROUND_GARAGE = "UNDERGROUND_GARAGE"


class ParkingRestriction(models.TextChoices):
    """Restrictions on the parking spot of an EVSE (mod_locations ParkingRestriction)."""

    EV_ONLY = "EV_ONLY"
    PLUGGED = "PLUGGED"
    DISABLED = "DISABLED"
    CUSTOMERS = "CUSTOMERS"
    MOTORCYCLES = "MOTORCYCLES"


class Facility(models.TextChoices):
    """Facilities a location belongs to (mod_locations Facility)."""

    HOTEL = "HOTEL"
    RESTAURANT = "RESTAURANT"
    CAFE = "CAFE"
    MALL = "MALL"
    SUPERMARKET = "SUPERMARKET"
    SPORT = "SPORT"
    RECREATION_AREA = "RECREATION_AREA"
    NATURE = "NATURE"
    MUSEUM = "MUSEUM"
    BIKE_SHARING = "BIKE_SHARING"
    BUS_STOP = "BUS_STOP"
    TAXI_STAND = "TAXI_STAND"
    TRAM_STOP = "TRAM_STOP"
    METRO_STATION = "METRO_STATION"
    TRAIN_STATION = "TRAIN_STATION"
    AIRPORT = "AIRPORT"
    PARKING_LOT = "PARKING_LOT"
    CARPOOL_PARKING = "CARPOOL_PARKING"
    FUEL_STATION = "FUEL_STATION"
    WIFI = "WIFI"


class ImageCategory(models.TextChoices):
    """mod_locations ImageCategory."""

    CHARGER = "CHARGER"
    ENTRANCE = "ENTRANCE"
    LOCATION = "LOCATION"
    NETWORK = "NETWORK"
    OPERATOR = "OPERATOR"
    OTHER = "OTHER"
    OWNER = "OWNER"


class EnergySourceCategory(models.TextChoices):
    """mod_locations EnergySourceCategory."""

    NUCLEAR = "NUCLEAR"
    GENERAL_FOSSIL = "GENERAL_FOSSIL"
    COAL = "COAL"
    GAS = "GAS"
    GENERAL_GREEN = "GENERAL_GREEN"
    SOLAR = "SOLAR"
    WIND = "WIND"
    WATER = "WATER"


class EnvironmentalImpactCategory(models.TextChoices):
    """mod_locations EnvironmentalImpactCategory."""

    NUCLEAR_WASTE = "NUCLEAR_WASTE"
    CARBON_DIOXIDE = "CARBON_DIOXIDE"


class WhitelistType(models.TextChoices):
    """mod_tokens WhitelistType: whether a CPO may authorize a token without asking the eMSP."""

    ALWAYS = "ALWAYS"
    ALLOWED = "ALLOWED"
    ALLOWED_OFFLINE = "ALLOWED_OFFLINE"
    NEVER = "NEVER"


class ProfileType(models.TextChoices):
    """mod_sessions ProfileType (also Token.default_profile_type)."""

    CHEAP = "CHEAP"
    FAST = "FAST"
    GREEN = "GREEN"
    REGULAR = "REGULAR"


class TariffType(models.TextChoices):
    """mod_tariffs TariffType."""

    AD_HOC_PAYMENT = "AD_HOC_PAYMENT"
    PROFILE_CHEAP = "PROFILE_CHEAP"
    PROFILE_FAST = "PROFILE_FAST"
    PROFILE_GREEN = "PROFILE_GREEN"
    REGULAR = "REGULAR"


class TariffDimensionType(models.TextChoices):
    """What a PriceComponent prices (mod_tariffs TariffDimensionType)."""

    ENERGY = "ENERGY"
    FLAT = "FLAT"
    PARKING_TIME = "PARKING_TIME"
    TIME = "TIME"


class DayOfWeek(models.TextChoices):
    """mod_tariffs DayOfWeek."""

    MONDAY = "MONDAY"
    TUESDAY = "TUESDAY"
    WEDNESDAY = "WEDNESDAY"
    THURSDAY = "THURSDAY"
    FRIDAY = "FRIDAY"
    SATURDAY = "SATURDAY"
    SUNDAY = "SUNDAY"


class ReservationRestrictionType(models.TextChoices):
    """mod_tariffs ReservationRestrictionType."""

    RESERVATION = "RESERVATION"
    RESERVATION_EXPIRES = "RESERVATION_EXPIRES"


@functools.cache
def _choices_of(enum: type[models.TextChoices]) -> tuple[tuple[str, str], ...]:
    """`enum.choices`, built once: DRF builds a serializer's fields afresh for every request
    (a deep copy that runs each field's __init__ again), and Django's `choices` makes its list
    anew on every read (issue 14: 0.15 of an EVSE PATCH's 0.58 ms in its serializer)."""
    return tuple((str(value), str(label)) for value, label in enum.choices)


@functools.cache
def _values_of(enum: type[models.TextChoices]) -> tuple[str, ...]:
    """`enum.values`, built once (Django rebuilds the list on every read)."""
    return tuple(value for value, _ in _choices_of(enum))


class OcpiEnumField(serializers.ChoiceField):
    """A value of one OCPI enum: a JSON string spelled exactly as the spec spells it.

    Unlike DRF's ChoiceField nothing is coerced (`str(1)`, `str(True)`), and a value that differs
    only in case is refused with a hint, since OCPI enums are case-sensitive.
    """

    default_error_messages = {
        "invalid_choice": '"{input}" is not a valid {enum}',
        "invalid_case": '"{input}" is not a valid {enum} (enum values are case-sensitive: '
        '"{expected}")',
        "not_a_string": "must be a string (a {enum} value)",
    }

    def __init__(self, enum: type[models.TextChoices], **kwargs: Any) -> None:
        self.enum = enum
        super().__init__(choices=_choices_of(enum), **kwargs)

    def to_internal_value(self, data: Any) -> str:
        name = self.enum.__name__
        if not isinstance(data, str):
            self.fail("not_a_string", enum=name)
        values = _values_of(self.enum)
        if data in values:
            return data
        for value in values:
            if value.lower() == data.lower():
                self.fail("invalid_case", input=data, enum=name, expected=value)
        self.fail("invalid_choice", input=data, enum=name)
        raise AssertionError("unreachable")  # self.fail always raises

    def to_representation(self, value: Any) -> Any:
        return value


class OcpiEnumFieldSchema(OpenApiSerializerFieldExtension):
    """OpenAPI: an `OcpiEnumField` refers to one component per OCPI enum, named as the spec."""

    target_class = OcpiEnumField
    match_subclasses = True

    def get_name(self) -> str:
        return str(self.target.enum.__name__)

    def map_serializer_field(self, auto_schema: Any, direction: Any) -> dict[str, Any]:
        return {"type": "string", "enum": list(self.target.enum.values)}
