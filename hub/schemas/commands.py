"""The command objects, CommandResponse and CommandResult (2.2.1 mod_commands,
release-2.2.1-bugfixes tables).

Like the Locations serializers, the top-level serializers only check: after `is_valid()` their
`validated_data` is the partner's object as received and `typed_data` the typed form (see
`hub.schemas.locations`). Fields the tables do not define are refused.

Rules from the spec text, and decisions where it leaves room:

- StartSession: `evse_uid` is "Required when `connector_id` is set".
- The `token` of StartSession/ReserveNow is a full Token object (`hub.schemas.tokens`); that it
  belongs to the sending eMSP ("SHALL only use Tokens that are owned by this eMSP") is checked
  by the service, which knows the caller.
- `response_url` is a URL (string(255), http/https); which hosts the hub may call is the URL
  policy's business (checked by the service, DESIGN §7).
- ReserveNow `expiry_date` is not required to lie in the future: the CPO decides what to do with
  a reservation that has already expired (it answers REJECTED), and clocks differ.
- CommandResponse `timeout` may not be negative (seconds).
"""

from typing import Any

from django.db import models
from rest_framework import serializers

from hub.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiUrlField, StrictIntegerField
from hub.schemas.enums import CommandType, OcpiEnumField
from hub.schemas.locations import DisplayTextSerializer, OcpiPayloadSerializer, list_of
from hub.schemas.tokens import TokenSerializer


class CommandResponseType(models.TextChoices):
    """mod_commands CommandResponseType: the CPO's synchronous answer."""

    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    ACCEPTED = "ACCEPTED"
    UNKNOWN_SESSION = "UNKNOWN_SESSION"


class CommandResultType(models.TextChoices):
    """mod_commands CommandResultType: the Charge Point's result, posted to `response_url`."""

    ACCEPTED = "ACCEPTED"
    CANCELED_RESERVATION = "CANCELED_RESERVATION"
    EVSE_OCCUPIED = "EVSE_OCCUPIED"
    EVSE_INOPERATIVE = "EVSE_INOPERATIVE"
    FAILED = "FAILED"
    NOT_SUPPORTED = "NOT_SUPPORTED"
    REJECTED = "REJECTED"
    TIMEOUT = "TIMEOUT"
    UNKNOWN_RESERVATION = "UNKNOWN_RESERVATION"


def _ci36(*, required: bool = True) -> CiStringField:
    if required:
        return CiStringField(max_length=36)
    return CiStringField(max_length=36, required=False, allow_null=True)


class StartSessionSerializer(OcpiPayloadSerializer):
    """StartSession object (POST `{commands}/START_SESSION`)."""

    response_url = OcpiUrlField()
    token = TokenSerializer()
    location_id = _ci36()
    evse_uid = _ci36(required=False)
    connector_id = _ci36(required=False)
    authorization_reference = _ci36(required=False)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if attrs.get("connector_id") is not None and attrs.get("evse_uid") is None:
            raise serializers.ValidationError(
                {"evse_uid": ["is required when connector_id is set"]}
            )
        return attrs


class StopSessionSerializer(OcpiPayloadSerializer):
    """StopSession object (POST `{commands}/STOP_SESSION`)."""

    response_url = OcpiUrlField()
    session_id = _ci36()


class ReserveNowSerializer(OcpiPayloadSerializer):
    """ReserveNow object (POST `{commands}/RESERVE_NOW`)."""

    response_url = OcpiUrlField()
    token = TokenSerializer()
    expiry_date = OcpiDateTimeField()
    reservation_id = _ci36()
    location_id = _ci36()
    evse_uid = _ci36(required=False)
    authorization_reference = _ci36(required=False)


class CancelReservationSerializer(OcpiPayloadSerializer):
    """CancelReservation object (POST `{commands}/CANCEL_RESERVATION`)."""

    response_url = OcpiUrlField()
    reservation_id = _ci36()


class UnlockConnectorSerializer(OcpiPayloadSerializer):
    """UnlockConnector object (POST `{commands}/UNLOCK_CONNECTOR`); every field required."""

    response_url = OcpiUrlField()
    location_id = _ci36()
    evse_uid = _ci36()
    connector_id = _ci36()


COMMAND_SERIALIZERS: dict[str, type[OcpiPayloadSerializer]] = {
    CommandType.START_SESSION: StartSessionSerializer,
    CommandType.STOP_SESSION: StopSessionSerializer,
    CommandType.RESERVE_NOW: ReserveNowSerializer,
    CommandType.CANCEL_RESERVATION: CancelReservationSerializer,
    CommandType.UNLOCK_CONNECTOR: UnlockConnectorSerializer,
}


class CommandResponseSerializer(OcpiPayloadSerializer):
    """CommandResponse object: the CPO's synchronous answer to a command."""

    result = OcpiEnumField(CommandResponseType)
    timeout = StrictIntegerField(min_value=0)
    message = list_of(DisplayTextSerializer(), cardinality="*")


class CommandResultSerializer(OcpiPayloadSerializer):
    """CommandResult object: the asynchronous result the CPO POSTs to `response_url`."""

    result = OcpiEnumField(CommandResultType)
    message = list_of(DisplayTextSerializer(), cardinality="*")
