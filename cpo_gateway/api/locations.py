"""Locations, the hub's RECEIVER interface for CPOs (2.2.1 mod_locations, Receiver).

`/{country_code}/{party_id}/{location_id}[/{evse_uid}[/{connector_id}]]`: GET the hub's copy,
PUT a new or replacing object, PATCH part of one (with `last_updated`). With TO = the hub or no
TO the hub stores and broadcasts; with TO = one eMSP it forwards to that eMSP only.
"""

from typing import Any, ClassVar

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import ClientOwnedObjectMixin, OcpiAPIView, OcpiResponse, check_body_identity
from hub.schemas.locations import (
    ConnectorPatchSerializer,
    ConnectorSerializer,
    EvsePatchSerializer,
    EvseSerializer,
    LocationPatchSerializer,
    LocationSerializer,
)
from hub.services.locations import LocationAddress, location_get, location_write

_SERIALIZERS: dict[tuple[str, str], type[serializers.Serializer]] = {  # type: ignore[type-arg]
    ("location", "PUT"): LocationSerializer,
    ("location", "PATCH"): LocationPatchSerializer,
    ("evse", "PUT"): EvseSerializer,
    ("evse", "PATCH"): EvsePatchSerializer,
    ("connector", "PUT"): ConnectorSerializer,
    ("connector", "PATCH"): ConnectorPatchSerializer,
}
_ID_FIELDS = {"location": "id", "evse": "uid", "connector": "id"}
_LAST_PARAMETER = {"location": "location_id", "evse": "evse_uid", "connector": "connector_id"}
_OBJECTS = {
    "location": LocationSerializer,
    "evse": EvseSerializer,
    "connector": ConnectorSerializer,
}


class LocationReceiverView(ClientOwnedObjectMixin, RoutedViewMixin, OcpiAPIView):
    """A CPO's locations, EVSEs and connectors."""

    ocpi_module = ModuleID.LOCATIONS
    gateway = "cpo"
    forward_interface = "RECEIVER"
    owner_roles: ClassVar[tuple[str, ...]] = ("CPO",)
    id_kwargs: ClassVar[tuple[str, ...]] = ("location_id", "evse_uid", "connector_id")
    # The OpenAPI schema of each depth (hub.ocpi.schema.OcpiAutoSchema).
    serializers_by_depth: ClassVar[dict[tuple[str, str], Any]] = {
        **{(_LAST_PARAMETER[level], method): s for (level, method), s in _SERIALIZERS.items()},
        **{(_LAST_PARAMETER[level], "GET"): s for level, s in _OBJECTS.items()},
    }

    def _address(self, request: Request, kwargs: dict[str, Any]) -> LocationAddress:
        party = self.owned_party(request, kwargs)
        return LocationAddress(
            party, kwargs["location_id"], kwargs.get("evse_uid"), kwargs.get("connector_id")
        )

    @extend_schema(summary="The hub's copy of a location/EVSE/connector")
    def get(self, request: Request, **kwargs: Any) -> Response:
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        return OcpiResponse(location_get(self._address(request, kwargs)))

    @extend_schema(responses=None, summary="Create or replace")
    def put(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PUT", kwargs)

    @extend_schema(responses=None, summary="Update fields")
    def patch(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PATCH", kwargs)

    def _write(self, request: Request, method: str, kwargs: dict[str, Any]) -> Response:
        address = self._address(request, kwargs)
        serializer = _SERIALIZERS[(address.level, method)](data=request.data)
        serializer.is_valid(raise_exception=True)
        url_id = {
            "location": address.location_id,
            "evse": address.evse_uid,
            "connector": address.connector_id,
        }[address.level]
        check_body_identity(
            request.data,
            address.party if address.level == "location" else None,
            _ID_FIELDS[address.level],
            url_id,
        )
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        result = location_write(
            owner=caller_of(request).platform,
            address=address,
            method=method,
            data=request.data,
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(status=201 if result.created else 200)
