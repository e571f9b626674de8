"""ChargingProfile and the objects around it (2.2.1 mod_charging_profiles,
release-2.2.1-bugfixes tables).

Like the Locations serializers, the top-level serializers only check: after `is_valid()` their
`validated_data` is the partner's object as received and `typed_data` the typed form (see
`hub.schemas.locations`). Fields the tables do not define are refused.

Rules from the spec text, and decisions where it leaves room:

- `min_charging_rate` and ChargingProfilePeriod `limit` "accept at most one digit fraction
  (e.g. 8.1)": more decimals are refused; neither may be negative.
- `duration` and `start_period` are seconds and may not be negative.
- The GET's `duration` parameter must be a positive integer (a profile of 0 s asks nothing).
- ChargingProfileResponse `timeout` may not be negative (seconds).
- The periods' order is not checked: the Charge Point is the judge of its own profile.
"""

from decimal import Decimal, InvalidOperation
from typing import Any

from django.db import models
from rest_framework import serializers

from hub.ocpi.fields import OcpiDateTimeField, OcpiUrlField, StrictIntegerField
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.enums import OcpiEnumField
from hub.schemas.locations import OcpiNumberField, OcpiPayloadSerializer, list_of

_ONE_DECIMAL = Decimal("0.1")


class ChargingRateUnit(models.TextChoices):
    """mod_charging_profiles ChargingRateUnit."""

    W = "W"
    A = "A"


class ChargingProfileResponseType(models.TextChoices):
    """mod_charging_profiles ChargingProfileResponseType: the CPO's synchronous answer."""

    ACCEPTED = "ACCEPTED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TOO_OFTEN = "TOO_OFTEN"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class ChargingProfileResultType(models.TextChoices):
    """mod_charging_profiles ChargingProfileResultType: the EVSE's result."""

    ACCEPTED = "ACCEPTED"
    REJECTED = "REJECTED"
    UNKNOWN = "UNKNOWN"


class ChargingRateField(OcpiNumberField):
    """A charging rate (W or A): a non-negative number with at most one decimal."""

    default_error_messages = {
        **OcpiNumberField.default_error_messages,
        "one_decimal": "accepts at most one digit fraction (e.g. 8.1)",
        "too_large": "is too large for a charging rate",
    }

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("min_value", 0)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> Decimal:
        value = super().to_internal_value(data)
        try:
            quantized = value.quantize(_ONE_DECIMAL)
        except InvalidOperation:  # beyond Decimal's precision: no charging rate is that large
            self.fail("too_large")
        if value != quantized:
            self.fail("one_decimal")
        return value


class ChargingProfilePeriodSerializer(OcpiObjectSerializer):
    """ChargingProfilePeriod class."""

    start_period = StrictIntegerField(min_value=0)
    limit = ChargingRateField()


class ChargingProfileSerializer(OcpiObjectSerializer):
    """ChargingProfile class: limits for the power or current over time."""

    start_date_time = OcpiDateTimeField(required=False, allow_null=True)
    duration = StrictIntegerField(min_value=0, required=False, allow_null=True)
    charging_rate_unit = OcpiEnumField(ChargingRateUnit)
    min_charging_rate = ChargingRateField(required=False, allow_null=True)
    charging_profile_period = list_of(ChargingProfilePeriodSerializer(), cardinality="*")


class ActiveChargingProfileSerializer(OcpiPayloadSerializer):
    """ActiveChargingProfile class: the profile as the Charge Point calculated it (the body of
    the CPO's PUT on the Sender interface, and `ActiveChargingProfileResult.profile`)."""

    start_date_time = OcpiDateTimeField()
    charging_profile = ChargingProfileSerializer()


class SetChargingProfileSerializer(OcpiPayloadSerializer):
    """SetChargingProfile object: the body of a PUT on the Receiver interface."""

    charging_profile = ChargingProfileSerializer()
    response_url = OcpiUrlField()


class ChargingProfileResponseSerializer(OcpiPayloadSerializer):
    """ChargingProfileResponse object: the CPO's synchronous answer to GET/PUT/DELETE."""

    result = OcpiEnumField(ChargingProfileResponseType)
    timeout = StrictIntegerField(min_value=0)


class ActiveChargingProfileResultSerializer(OcpiPayloadSerializer):
    """ActiveChargingProfileResult object: the async result of a GET."""

    result = OcpiEnumField(ChargingProfileResultType)
    profile = ActiveChargingProfileSerializer(required=False, allow_null=True)


class ChargingProfileResultSerializer(OcpiPayloadSerializer):
    """ChargingProfileResult object: the async result of a PUT (SetChargingProfile)."""

    result = OcpiEnumField(ChargingProfileResultType)


class ClearProfileResultSerializer(OcpiPayloadSerializer):
    """ClearProfileResult object: the async result of a DELETE."""

    result = OcpiEnumField(ChargingProfileResultType)


class ActiveChargingProfileQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The GET's URL parameters: `duration` (s) and `response_url`, both required.

    Query strings carry text, so `duration` is digits here (not a JSON integer)."""

    duration = serializers.RegexField(
        r"^[0-9]{1,9}$", error_messages={"invalid": "must be an integer number of seconds"}
    )
    response_url = OcpiUrlField()

    def validate_duration(self, value: str) -> str:
        if int(value) <= 0:
            raise serializers.ValidationError("must be a positive number of seconds")
        return value


class ClearProfileQuerySerializer(serializers.Serializer):  # type: ignore[type-arg]
    """The DELETE's URL parameter: `response_url`, required."""

    response_url = OcpiUrlField()
