"""Version and VersionDetails (2.2.1 version_information_endpoint.asciidoc)."""

from rest_framework import serializers

from hub.models import InterfaceRole
from hub.ocpi.fields import OcpiStringField, OcpiUrlField

VERSION_NUMBERS = ["2.0", "2.1", "2.1.1", "2.2", "2.2.1"]


class VersionSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Version class. Partners' lists may carry versions newer than 2.2.1: kept as text."""

    version = OcpiStringField(max_length=10)
    url = OcpiUrlField()


class EndpointSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """Endpoint class; the identifier is free text (custom modules are allowed)."""

    identifier = OcpiStringField(max_length=64)
    role = serializers.ChoiceField(choices=InterfaceRole.choices)
    url = OcpiUrlField()


class VersionDetailsSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """VersionDetails object (read from partners: extra fields there are harmless)."""

    version = OcpiStringField(max_length=10)
    endpoints = EndpointSerializer(many=True, allow_empty=False)
