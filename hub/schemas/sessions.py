"""Session, ChargingPreferences, and the classes Sessions share with CDRs (2.2.1 mod_sessions,
mod_cdrs CdrToken/CdrDimension/ChargingPeriod; release-2.2.1-bugfixes tables).

Like the Locations serializers these only check: after `is_valid()` a top-level serializer's
`validated_data` is the partner's object as received and `typed_data` the typed form (see
`hub.schemas.locations.OcpiPayloadSerializer`).

Sessions and CDRs share `CdrToken`, `CdrDimension` and `ChargingPeriod`, with one difference:
mod_cdrs CdrDimensionType marks five types "Session Only" (CURRENT, ENERGY_EXPORT,
ENERGY_IMPORT, POWER, STATE_OF_CHARGE) that "SHALL therefore only be used in Sessions". So
there are two forms of each: `CdrDimensionSerializer`/`ChargingPeriodSerializer` (the CDR form,
refusing those types) and `SessionCdrDimensionSerializer`/`SessionChargingPeriodSerializer`.

Decisions where the spec leaves room (they refuse or accept data):

- `evse_uid`/`connector_id` accept `#NA` whatever the status: the spec allows it for a session
  created for a reservation, and such a session keeps it when it ends COMPLETED without ever
  charging, so the status cannot tell.
- `kwh` ("how many kWh were charged") may not be negative. CdrDimension volumes may (the spec
  gives negative ENERGY, CURRENT, POWER, MIN_* for energy fed back to the grid), except the
  time dimensions (TIME, PARKING_TIME, RESERVATION_TIME: hours) and STATE_OF_CHARGE, which the
  spec limits to 0..100.
- `end_date_time` may not be earlier than `start_date_time`.
- The order of charging periods is not checked: the spec says a period ends where the next
  begins, but refusing a whole session (billing data) over the order of its periods would lose
  more than it protects; the CDR checks look at periods where it matters.
- A ChargingPreferences `energy_need` may not be negative.
"""

from typing import Any, ClassVar

from django.db import models
from rest_framework import serializers

from hub.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiStringField, StrictBooleanField
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.common import CountryCodeField, PartyIdField
from hub.schemas.enums import OcpiEnumField, ProfileType, SessionStatus, TokenType
from hub.schemas.locations import (
    CurrencyField,
    OcpiNumberField,
    OcpiPayloadSerializer,
    list_of,
    patch_fields,
)
from hub.schemas.tariffs import PriceSerializer

# Large enough for any real session, small enough for the hub's Decimal(14, 4) columns.
MAX_KWH = 10**9


class AuthMethod(models.TextChoices):
    """How the session was authorized (mod_cdrs AuthMethod)."""

    AUTH_REQUEST = "AUTH_REQUEST"
    COMMAND = "COMMAND"
    WHITELIST = "WHITELIST"


class CdrDimensionType(models.TextChoices):
    """What a CdrDimension measures (mod_cdrs CdrDimensionType); see `SESSION_ONLY_DIMENSIONS`."""

    CURRENT = "CURRENT"
    ENERGY = "ENERGY"
    ENERGY_EXPORT = "ENERGY_EXPORT"
    ENERGY_IMPORT = "ENERGY_IMPORT"
    MAX_CURRENT = "MAX_CURRENT"
    MIN_CURRENT = "MIN_CURRENT"
    MAX_POWER = "MAX_POWER"
    MIN_POWER = "MIN_POWER"
    PARKING_TIME = "PARKING_TIME"
    POWER = "POWER"
    RESERVATION_TIME = "RESERVATION_TIME"
    STATE_OF_CHARGE = "STATE_OF_CHARGE"
    TIME = "TIME"


# mod_cdrs CdrDimensionType, column "Session Only": "SHALL therefore only be used in Sessions".
SESSION_ONLY_DIMENSIONS = frozenset(
    {
        CdrDimensionType.CURRENT,
        CdrDimensionType.ENERGY_EXPORT,
        CdrDimensionType.ENERGY_IMPORT,
        CdrDimensionType.POWER,
        CdrDimensionType.STATE_OF_CHARGE,
    }
)
# Durations in hours: never negative.
TIME_DIMENSIONS = frozenset(
    {CdrDimensionType.TIME, CdrDimensionType.PARKING_TIME, CdrDimensionType.RESERVATION_TIME}
)


class ChargingPreferencesResponse(models.TextChoices):
    """mod_sessions ChargingPreferencesResponse: the CPO's answer to a preferences PUT."""

    ACCEPTED = "ACCEPTED"
    DEPARTURE_REQUIRED = "DEPARTURE_REQUIRED"
    ENERGY_NEED_REQUIRED = "ENERGY_NEED_REQUIRED"
    NOT_POSSIBLE = "NOT_POSSIBLE"
    PROFILE_TYPE_NOT_SUPPORTED = "PROFILE_TYPE_NOT_SUPPORTED"


# ---- classes shared with CDRs (mod_cdrs) -------------------------------------------------------


class CdrTokenSerializer(OcpiObjectSerializer):
    """CdrToken class: the token that started the session; `country_code`/`party_id` name the
    eMSP owning it (new in 2.2.1), which is who sessions and CDRs are routed to."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    uid = CiStringField(max_length=36)
    type = OcpiEnumField(TokenType)
    contract_id = CiStringField(max_length=36)


class CdrDimensionSerializer(OcpiObjectSerializer):
    """CdrDimension class, CDR form: the "Session Only" types are refused."""

    allow_session_only: ClassVar[bool] = False

    type = OcpiEnumField(CdrDimensionType)
    volume = OcpiNumberField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        kind, volume = attrs.get("type"), attrs.get("volume")
        if kind in SESSION_ONLY_DIMENSIONS and not self.allow_session_only:
            raise serializers.ValidationError(
                {"type": f"{kind} may only be used in Sessions, not in CDRs"}
            )
        if volume is not None and kind in TIME_DIMENSIONS and volume < 0:
            raise serializers.ValidationError({"volume": f"{kind} (hours) may not be negative"})
        if (
            volume is not None
            and kind == CdrDimensionType.STATE_OF_CHARGE
            and not (0 <= volume <= 100)
        ):
            raise serializers.ValidationError(
                {"volume": "STATE_OF_CHARGE is a percentage from 0 to 100"}
            )
        return attrs


class SessionCdrDimensionSerializer(CdrDimensionSerializer):
    """CdrDimension class, Session form: every CdrDimensionType is allowed."""

    allow_session_only = True


class ChargingPeriodSerializer(OcpiObjectSerializer):
    """ChargingPeriod class, CDR form (see `SessionChargingPeriodSerializer`)."""

    start_date_time = OcpiDateTimeField()
    dimensions = list_of(CdrDimensionSerializer(), cardinality="+")
    tariff_id = CiStringField(max_length=36, required=False, allow_null=True)


class SessionChargingPeriodSerializer(ChargingPeriodSerializer):
    """ChargingPeriod class, Session form: its dimensions may use the session-only types."""

    dimensions = list_of(SessionCdrDimensionSerializer(), cardinality="+")


# ---- objects -----------------------------------------------------------------------------------


class SessionSerializer(OcpiPayloadSerializer):
    """Session object (PUT, and each member of a Sender GET list)."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    id = CiStringField(max_length=36)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField(required=False, allow_null=True)
    kwh = OcpiNumberField(min_value=0, max_value=MAX_KWH)
    cdr_token = CdrTokenSerializer()
    auth_method = OcpiEnumField(AuthMethod)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)
    location_id = CiStringField(max_length=36)
    evse_uid = CiStringField(max_length=36)
    connector_id = CiStringField(max_length=36)
    meter_id = OcpiStringField(max_length=255, required=False, allow_null=True, allow_blank=True)
    currency = CurrencyField()
    charging_periods = list_of(SessionChargingPeriodSerializer(), cardinality="*")
    total_cost = PriceSerializer(required=False, allow_null=True)
    status = OcpiEnumField(SessionStatus)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        start, end = attrs.get("start_date_time"), attrs.get("end_date_time")
        if start is not None and end is not None and end < start:
            raise serializers.ValidationError(
                {"end_date_time": "must not be earlier than start_date_time"}
            )
        return attrs


class SessionPatchSerializer(SessionSerializer):
    """PATCH of a Session: any subset of its fields plus the required `last_updated`.

    Present fields are checked as in a PUT (a nested `cdr_token` or `total_cost` replaces the
    whole field, so it must be complete); `charging_periods` are periods to append.
    """

    def get_fields(self) -> dict[str, Any]:
        return patch_fields(super().get_fields())


class ChargingPreferencesSerializer(OcpiPayloadSerializer):
    """ChargingPreferences object: what the driver wants from a smart-charging session."""

    profile_type = OcpiEnumField(ProfileType)
    departure_time = OcpiDateTimeField(required=False, allow_null=True)
    energy_need = OcpiNumberField(min_value=0, required=False, allow_null=True)
    discharge_allowed = StrictBooleanField(required=False, allow_null=True)
