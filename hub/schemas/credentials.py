"""Credentials and CredentialsRole (2.2.1 credentials.asciidoc)."""

from typing import Any

from rest_framework import serializers

from hub.ocpi.fields import OcpiStringField, OcpiUrlField
from hub.ocpi.serializers import OcpiObjectSerializer
from hub.ocpi.tokens import TOKEN_MAX_LENGTH, is_valid_token
from hub.schemas.common import BusinessDetailsSerializer, CountryCodeField, PartyIdField, RoleField


class CredentialsRoleSerializer(OcpiObjectSerializer):
    """CredentialsRole class."""

    role = RoleField()
    business_details = BusinessDetailsSerializer()
    party_id = PartyIdField()
    country_code = CountryCodeField()


class CredentialsSerializer(OcpiObjectSerializer):
    """Credentials object: the token the other side must use, its versions URL, its roles."""

    token = OcpiStringField(max_length=TOKEN_MAX_LENGTH)
    url = OcpiUrlField()
    roles = CredentialsRoleSerializer(many=True, allow_empty=False)

    def validate_token(self, value: str) -> str:
        if not is_valid_token(value):
            raise serializers.ValidationError(
                "must be 1 to 64 printable ASCII characters without whitespace"
            )
        return value

    def validate_roles(self, value: list[dict[str, Any]]) -> list[dict[str, Any]]:
        seen: set[tuple[str, str, str]] = set()
        for role in value:
            key = (role["country_code"].upper(), role["party_id"].upper(), role["role"])
            if key in seen:
                raise serializers.ValidationError(
                    f"{key[0]}*{key[1]} {key[2]} is listed twice; (role, party_id, "
                    "country_code) must be unique"
                )
            seen.add(key)
        return value
