"""Versions module (2.2.1 version_information_endpoint.asciidoc): the versions list and the
2.2.1 details, which list the endpoints for the caller's own roles."""

from django.conf import settings
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from hub.modules import ModuleID
from hub.ocpi.authentication import ocpi_caller_of
from hub.ocpi.registry import endpoints_for
from hub.ocpi.views import OcpiAPIView, OcpiResponse
from hub.schemas.versions import VersionDetailsSerializer, VersionSerializer


class VersionsListView(OcpiAPIView):
    """GET the versions the hub supports (Token A accepted)."""

    ocpi_module = ModuleID.VERSIONS
    allow_registration_token = True

    @extend_schema(responses=VersionSerializer(many=True), summary="Versions list")
    def get(self, request: Request) -> OcpiResponse:
        return OcpiResponse([{"version": "2.2.1", "url": f"{settings.OCPI_BASE_URL}/ocpi/2.2.1"}])


class VersionDetailsView(OcpiAPIView):
    """GET the 2.2.1 endpoints; a caller sees those for its own roles (all while unknown)."""

    ocpi_module = ModuleID.VERSIONS
    allow_registration_token = True

    @extend_schema(responses=VersionDetailsSerializer, summary="Version 2.2.1 details")
    def get(self, request: Request) -> OcpiResponse:
        caller = ocpi_caller_of(request)
        roles = {role.role for role in caller.identity.roles} if caller.registered else None
        return OcpiResponse({"version": "2.2.1", "endpoints": endpoints_for(roles)})
