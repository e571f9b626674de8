"""Classes shared by several modules (2.2.1 types.asciidoc, mod_locations BusinessDetails)."""

import re
from typing import Any

from rest_framework import serializers

from hub.models import Role
from hub.ocpi.fields import CiStringField, OcpiStringField, OcpiUrlField, StrictIntegerField
from hub.ocpi.serializers import OcpiObjectSerializer

_COUNTRY_CODE_RE = re.compile(r"^[A-Za-z]{2}$")
_PARTY_ID_RE = re.compile(r"^[A-Za-z0-9]{3}$")

IMAGE_CATEGORIES = ["CHARGER", "ENTRANCE", "LOCATION", "NETWORK", "OPERATOR", "OTHER", "OWNER"]


class CountryCodeField(CiStringField):
    """CiString(2): an ISO 3166-1 alpha-2 country code."""

    pattern = _COUNTRY_CODE_RE  # read by the OpenAPI schema (hub.ocpi.schema)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 2)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _COUNTRY_CODE_RE.match(value):
            raise serializers.ValidationError("must be a 2-letter ISO 3166-1 country code")
        return value


class PartyIdField(CiStringField):
    """CiString(3): a party id (ISO 15118 style, 3 alphanumerics)."""

    pattern = _PARTY_ID_RE  # read by the OpenAPI schema (hub.ocpi.schema)

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 3)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _PARTY_ID_RE.match(value):
            raise serializers.ValidationError("must be 3 alphanumeric characters")
        return value


class ImageSerializer(OcpiObjectSerializer):
    """Image class."""

    url = OcpiUrlField()
    thumbnail = OcpiUrlField(required=False, allow_null=True)
    category = serializers.ChoiceField(choices=IMAGE_CATEGORIES)
    type = CiStringField(max_length=4)
    width = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=99999)
    height = StrictIntegerField(required=False, allow_null=True, min_value=0, max_value=99999)


class BusinessDetailsSerializer(OcpiObjectSerializer):
    """BusinessDetails class."""

    name = OcpiStringField(max_length=100)
    website = OcpiUrlField(required=False, allow_null=True)
    logo = ImageSerializer(required=False, allow_null=True)


class RoleField(serializers.ChoiceField):
    """Role enum (case-sensitive, as every OCPI enum)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=Role.choices, **kwargs)
