"""Locations, the hub's SENDER interface for eMSPs (2.2.1 mod_locations, Sender).

GET the list (paginated, date filters) and single objects from the hub's store, merged across
CPOs and filtered to what the caller may see (TO = the hub, or no TO: GET all via hub); with
TO = one CPO the request goes to that CPO instead (direct routing).
"""

from typing import Any, ClassVar

import orjson
from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin
from hub.models import Location
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.renderers import stored_json_of, with_stored_json
from hub.ocpi.routing import PartyRef
from hub.ocpi.views import OcpiAPIView, OcpiGenericAPIView, OcpiResponse, check_id_length
from hub.schemas.locations import ConnectorSerializer, EvseSerializer, LocationSerializer
from hub.selectors import evse_status_visibility, locations_visible_to
from hub.services.locations import (
    LocationAddress,
    UnknownObjectError,
    evse_without_status,
    location_object,
    location_without_status,
)


class LocationSenderListView(RoutedViewMixin, OcpiGenericAPIView):
    """GET all locations via the hub."""

    ocpi_module = ModuleID.LOCATIONS
    gateway = "emsp"
    forward_interface = "SENDER"

    def get_queryset(self) -> QuerySet[Location]:
        # The documents as stored text (hub.ocpi.renderers): a page is spliced, not re-encoded.
        return with_stored_json(
            locations_visible_to(caller_of(self.request)),
            "last_updated",
            "country_code",
            "party_id",
            "location_id",
        )

    @extend_schema(responses=LocationSerializer(many=True), summary="Locations (GET all via hub)")
    def get(self, request: Request) -> Response:
        require_receiver_role(request)
        if self.direct_target(request):
            return self.forward(request)
        page = self.paginate_queryset(self.get_queryset())
        # Without the `evse_status` agreement scope every EVSE status is served as UNKNOWN.
        status_visible = evse_status_visibility(caller_of(request))
        return self.get_paginated_response(
            [
                stored_json_of(location)
                if status_visible(location)
                else location_without_status(orjson.loads(stored_json_of(location).text))
                for location in page or []
            ]
        )


class LocationSenderObjectView(RoutedViewMixin, OcpiAPIView):
    """GET one location, EVSE or connector by id."""

    ocpi_module = ModuleID.LOCATIONS
    gateway = "emsp"
    forward_interface = "SENDER"
    # The OpenAPI schema of each depth (hub.ocpi.schema.OcpiAutoSchema).
    serializers_by_depth: ClassVar[dict[tuple[str, str], Any]] = {
        ("location_id", "GET"): LocationSerializer,
        ("evse_uid", "GET"): EvseSerializer,
        ("connector_id", "GET"): ConnectorSerializer,
    }

    @extend_schema(summary="One location/EVSE/connector")
    def get(self, request: Request, **kwargs: Any) -> Response:
        require_receiver_role(request)
        names = ("location_id", "evse_uid", "connector_id")
        for name in names:
            if kwargs.get(name) is not None:
                check_id_length(name, kwargs[name], 36)
        if self.direct_target(request):
            return self.forward(request, tuple(kwargs[n] for n in names if kwargs.get(n)))
        matches = list(
            locations_visible_to(caller_of(request)).filter(
                location_id=kwargs["location_id"].upper()
            )[:2]
        )
        if not matches:
            raise UnknownObjectError(f"Unknown location {kwargs['location_id']}")
        if len(matches) > 1:
            # Location ids are unique per CPO only: the caller must say which CPO it means.
            raise InvalidParametersError(
                f"location_id: {kwargs['location_id']} exists at several CPOs; name the CPO "
                "with OCPI-to-country-code/OCPI-to-party-id"
            )
        location = matches[0]
        address = LocationAddress(
            PartyRef(location.country_code, location.party_id),
            kwargs["location_id"],
            kwargs.get("evse_uid"),
            kwargs.get("connector_id"),
        )
        shown = location_object(location, address)
        if not evse_status_visibility(caller_of(request))(location):
            # Without the `evse_status` agreement scope every EVSE status is served as UNKNOWN.
            if address.level == "location":
                shown = location_without_status(shown)
            elif address.level == "evse":
                shown = evse_without_status(shown)
        return OcpiResponse(shown)
