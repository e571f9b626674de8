"""Serializer fields for OCPI types (2.2.1 types.asciidoc)."""

import re
from datetime import datetime
from typing import Any

from rest_framework import serializers

from hub.ocpi.datetimes import DateTimeFormatError, format_datetime, parse_datetime

_PRINTABLE_ASCII = re.compile(r"^[\x20-\x7e]*$")


class OcpiStringField(serializers.CharField):
    """string(n): printable UTF-8, no CR/LF/tab; blank allowed only when asked."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        value = super().to_internal_value(data)
        if any(ch in value for ch in "\r\n\t"):
            raise serializers.ValidationError("must not contain line breaks or tabs")
        return value


class CiStringField(OcpiStringField):
    """CiString(n): case-insensitive printable ASCII. The partner's spelling is kept; keys
    are compared upper-cased by the code that uses them."""

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        if not _PRINTABLE_ASCII.match(value):
            raise serializers.ValidationError("must be printable ASCII (CiString)")
        return value


class OcpiUrlField(OcpiStringField):
    """URL: string(255), http or https."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 255)
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        value = super().to_internal_value(data)
        serializers.URLField().run_validators(value)
        if not value.lower().startswith(("http://", "https://")):
            raise serializers.ValidationError("must be an http(s) URL")
        return value


class OcpiDateTimeField(serializers.Field):  # type: ignore[type-arg]
    """DateTime: RFC 3339 UTC, `Z`, at most 25 characters, in and out."""

    default_error_messages = {"invalid": "must be an OCPI DateTime, e.g. 2015-06-29T20:39:09Z"}

    def to_internal_value(self, data: Any) -> datetime:
        if not isinstance(data, str):
            self.fail("invalid")
        try:
            return parse_datetime(data)
        except DateTimeFormatError as exc:
            raise serializers.ValidationError(str(exc)) from None

    def to_representation(self, value: datetime) -> str:
        return format_datetime(value)


class StrictBooleanField(serializers.BooleanField):
    """A JSON boolean, not the strings and numbers DRF would coerce."""

    def to_internal_value(self, data: Any) -> bool:
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer, not a string of digits."""

    def to_internal_value(self, data: Any) -> int:
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)
