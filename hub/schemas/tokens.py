"""Token, LocationReferences and AuthorizationInfo (2.2.1 mod_tokens, release-2.2.1-bugfixes
tables).

Like the Locations serializers, the top-level serializers only check: after `is_valid()` their
`validated_data` is the partner's object as received and `typed_data` the typed form (see
`hub.schemas.locations`). Fields the tables do not define are refused.

Decisions where the spec leaves room:

- `uid`, `contract_id`, `group_id` are CiString(36) and must not be blank (a blank uid or
  contract id identifies nothing); `issuer` is a required string(64), not blank either.
- `language` is two letters (ISO 639-1), case as sent.
- `visual_number` may be blank (it is display text "as printed on the token").
- `EnergyContract.contract_id` is string(64) (case-sensitive, unlike Token.contract_id).
- A Token PATCH may carry `uid`/`type`/`country_code`/`party_id`; the views check that they
  equal the URL's (2001 otherwise).
"""

from typing import Any

from rest_framework import serializers

from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.fields import CiStringField, OcpiDateTimeField, OcpiStringField, StrictBooleanField
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.schemas.common import CountryCodeField, PartyIdField
from hub.schemas.enums import AllowedType, OcpiEnumField, ProfileType, TokenType, WhitelistType
from hub.schemas.locations import (
    DisplayTextSerializer,
    LanguageField,
    OcpiPayloadSerializer,
    list_of,
    patch_fields,
)


class EnergyContractSerializer(OcpiObjectSerializer):
    """EnergyContract class: the driver's own energy supplier and contract."""

    supplier_name = OcpiStringField(max_length=64)
    contract_id = OcpiStringField(max_length=64, required=False, allow_null=True)


class TokenSerializer(OcpiPayloadSerializer):
    """Token object (PUT by an eMSP, each member of a GET list, `AuthorizationInfo.token`)."""

    country_code = CountryCodeField()
    party_id = PartyIdField()
    uid = CiStringField(max_length=36)
    type = OcpiEnumField(TokenType)
    contract_id = CiStringField(max_length=36)
    visual_number = OcpiStringField(
        max_length=64, required=False, allow_null=True, allow_blank=True
    )
    issuer = OcpiStringField(max_length=64)
    group_id = CiStringField(max_length=36, required=False, allow_null=True)
    valid = StrictBooleanField()
    whitelist = OcpiEnumField(WhitelistType)
    language = LanguageField(required=False, allow_null=True)
    default_profile_type = OcpiEnumField(ProfileType, required=False, allow_null=True)
    energy_contract = EnergyContractSerializer(required=False, allow_null=True)
    last_updated = OcpiDateTimeField()


class TokenPatchSerializer(TokenSerializer):
    """PATCH of a Token: any subset of its fields, plus the required `last_updated` (2.2.1
    mod_tokens PATCH: "Any request to the PATCH method SHALL contain the last_updated field")."""

    def get_fields(self) -> dict[str, Any]:
        return patch_fields(super().get_fields())


class LocationReferencesSerializer(OcpiPayloadSerializer):
    """LocationReferences class: the optional body of a real-time authorization, and the EVSEs
    an eMSP allows in its answer."""

    location_id = CiStringField(max_length=36)
    evse_uids = list_of(CiStringField(max_length=36), cardinality="*")


class AuthorizationInfoSerializer(OcpiPayloadSerializer):
    """AuthorizationInfo object: an eMSP's answer to a real-time authorization."""

    allowed = OcpiEnumField(AllowedType)
    token = TokenSerializer()
    location = LocationReferencesSerializer(required=False, allow_null=True)
    authorization_reference = CiStringField(max_length=36, required=False, allow_null=True)
    info = DisplayTextSerializer(required=False, allow_null=True)


def token_type_param(raw: str | None) -> str:
    """The `type` URL parameter of the tokens interfaces: a TokenType, RFID when omitted
    (2.2.1 mod_tokens: "Default if omitted: RFID"); anything else is 2001 naming `type`."""
    if raw is None or raw == "":
        return TokenType.RFID.value
    try:
        return str(OcpiEnumField(TokenType).run_validation(raw))
    except serializers.ValidationError as exc:
        raise InvalidParametersError(f"type: {' '.join(map(str, exc.detail))}") from None
