"""The base serializer of every OCPI object."""

from typing import Any

from django.conf import settings
from rest_framework import serializers


class OcpiObjectSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Refuses fields the 2.2.1 object tables do not define (2001 naming them), unless
    `OCPI_ALLOW_UNKNOWN_FIELDS` is on for partners that agreed on custom fields."""

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data, dict) and not settings.OCPI_ALLOW_UNKNOWN_FIELDS:
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: ["is not a field of this OCPI object"] for name in unknown}
                )
        return super().to_internal_value(data)
