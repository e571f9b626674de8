"""ClientInfo (2.2.1 mod_hub_client_info.asciidoc)."""

from typing import Any

from rest_framework import serializers

from hub.models import ConnectionStatus, PlatformRole
from hub.ocpi.datetimes import format_datetime
from hub.schemas.common import CountryCodeField, PartyIdField, RoleField


class ClientInfoSerializer(serializers.Serializer):  # type: ignore[type-arg]
    """ClientInfo object: one connected party and its connection status."""

    party_id = PartyIdField()
    country_code = CountryCodeField()
    role = RoleField()
    status = serializers.ChoiceField(choices=ConnectionStatus.choices)
    last_updated = serializers.CharField(max_length=25)


def client_info(role: PlatformRole) -> dict[str, Any]:
    """The ClientInfo of a party, from its platform's status."""
    return {
        "party_id": role.party_id,
        "country_code": role.country_code,
        "role": role.role,
        "status": role.platform.status,
        "last_updated": format_datetime(role.platform.status_changed_at),
    }
