"""CDR and its classes CdrLocation, SignedData, SignedValue (2.2.1 mod_cdrs; CdrToken,
CdrDimension and ChargingPeriod are shared with Sessions in `hub.schemas.sessions`).

Like the other top-level serializers these only check: after `is_valid()` `validated_data` is
the CPO's CDR as received and `typed_data` the typed form. The arithmetic consistency checks
(totals vs periods, costs) are not refusals: they are recorded as findings on the stored CDR by
`hub.services.cdr_checks` (a bill that does not add up is still a bill the hub must deliver).

Decisions where the spec leaves room (they refuse data):

- `id` is CiString(39) but "≤36 for a non-credit CDR" (mod_cdrs CDR object, `id` description:
  the 3 extra characters are for the credit suffix such as `-C`): a non-credit id over 36 is
  refused, and so is `credit=true` without `credit_reference_id` (nothing to credit).
- Charging periods use the CDR form: the "Session Only" dimension types are refused.
- `total_time` and `total_parking_time` (hours) may not be negative; `total_energy` may (the
  spec allows negative ENERGY volumes for energy fed back to the grid).
- A `credit_reference_id` on a non-credit CDR is not refused (the spec only requires it for
  credits); the checks record it as a finding.
"""

from typing import Any

from rest_framework import serializers

from hub.ocpi.fields import (
    CiStringField,
    OcpiDateTimeField,
    OcpiStringField,
    StrictBooleanField,
    StrictIntegerField,
)
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.common import CountryCodeField, PartyIdField
from hub.schemas.enums import ConnectorFormat, ConnectorType, OcpiEnumField, PowerType
from hub.schemas.locations import (
    CountryAlpha3Field,
    CurrencyField,
    GeoLocationSerializer,
    OcpiNumberField,
    OcpiPayloadSerializer,
    list_of,
)
from hub.schemas.sessions import (
    MAX_KWH,
    AuthMethod,
    CdrTokenSerializer,
    ChargingPeriodSerializer,
)
from hub.schemas.tariffs import PriceSerializer, TariffSerializer

# mod_cdrs CDR.id: CiString(39), "the CDR id SHALL be at most 36 characters for non-credit CDRs".
CDR_ID_MAX = 39
NON_CREDIT_CDR_ID_MAX = 36
# Hours; a year is far beyond any real session and keeps the Decimal(18, 4) columns safe.
MAX_HOURS = 10**6


def _optional_string(max_length: int) -> OcpiStringField:
    return OcpiStringField(max_length=max_length, required=False, allow_null=True, allow_blank=True)


class CdrLocationSerializer(OcpiObjectSerializer):
    """CdrLocation class: the location, EVSE and connector as they were at session start.

    `address` 45 / `state` 20: the 2.2.1 errata widened these for Location only, not here."""

    id = CiStringField(max_length=36)
    name = _optional_string(255)
    address = OcpiStringField(max_length=45)
    city = OcpiStringField(max_length=45)
    postal_code = _optional_string(10)
    state = _optional_string(20)
    country = CountryAlpha3Field()
    coordinates = GeoLocationSerializer()
    evse_uid = CiStringField(max_length=36)
    evse_id = CiStringField(max_length=48)
    connector_id = CiStringField(max_length=36)
    connector_standard = OcpiEnumField(ConnectorType)
    connector_format = OcpiEnumField(ConnectorFormat)
    connector_power_type = OcpiEnumField(PowerType)


class SignedValueSerializer(OcpiObjectSerializer):
    """SignedValue class: one signed meter value (e.g. Start, End, Intermediate)."""

    nature = CiStringField(max_length=32)
    plain_data = OcpiStringField(max_length=5000)
    signed_data = OcpiStringField(max_length=5000)


class SignedDataSerializer(OcpiObjectSerializer):
    """SignedData class: the calibration-law signed meter data of the session."""

    encoding_method = CiStringField(max_length=36)
    encoding_method_version = StrictIntegerField(required=False, allow_null=True)
    public_key = _optional_string(512)
    signed_values = list_of(SignedValueSerializer(), cardinality="+")
    url = _optional_string(512)


class CdrSerializer(OcpiPayloadSerializer):
    """CDR object (Receiver POST, and each member of a Sender GET list)."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    id = CiStringField(max_length=CDR_ID_MAX)
    start_date_time = OcpiDateTimeField()
    end_date_time = OcpiDateTimeField()
    session_id = CiStringField(max_length=36, required=False, allow_null=True)
    cdr_token = CdrTokenSerializer()
    auth_method = OcpiEnumField(AuthMethod)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)
    cdr_location = CdrLocationSerializer()
    meter_id = _optional_string(255)
    currency = CurrencyField()
    tariffs = list_of(TariffSerializer(), cardinality="*")
    charging_periods = list_of(ChargingPeriodSerializer(), cardinality="+")
    signed_data = SignedDataSerializer(required=False, allow_null=True)
    total_cost = PriceSerializer()
    total_fixed_cost = PriceSerializer(required=False, allow_null=True)
    total_energy = OcpiNumberField(min_value=-MAX_KWH, max_value=MAX_KWH)
    total_energy_cost = PriceSerializer(required=False, allow_null=True)
    total_time = OcpiNumberField(min_value=0, max_value=MAX_HOURS)
    total_time_cost = PriceSerializer(required=False, allow_null=True)
    total_parking_time = OcpiNumberField(
        min_value=0, max_value=MAX_HOURS, required=False, allow_null=True
    )
    total_parking_cost = PriceSerializer(required=False, allow_null=True)
    total_reservation_cost = PriceSerializer(required=False, allow_null=True)
    remark = _optional_string(255)
    invoice_reference_id = CiStringField(max_length=39, required=False, allow_null=True)
    credit = StrictBooleanField(required=False, allow_null=True)
    credit_reference_id = CiStringField(max_length=39, required=False, allow_null=True)
    home_charging_compensation = StrictBooleanField(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        credit = bool(attrs.get("credit"))
        cdr_id = attrs.get("id") or ""
        if not credit and len(cdr_id) > NON_CREDIT_CDR_ID_MAX:
            raise serializers.ValidationError(
                {"id": f"a non-credit CDR id is at most {NON_CREDIT_CDR_ID_MAX} characters"}
            )
        if credit and not attrs.get("credit_reference_id"):
            raise serializers.ValidationError(
                {"credit_reference_id": "required when credit is true (the CDR it credits)"}
            )
        return attrs
