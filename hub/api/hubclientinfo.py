"""HubClientInfo module, the hub's SENDER interface (2.2.1 mod_hub_client_info.asciidoc):
the list of connected parties and their status, paginated, for start-up and resync."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.models import PlatformRole
from hub.modules import ModuleID
from hub.ocpi.authentication import ocpi_caller_of
from hub.ocpi.views import OcpiGenericAPIView
from hub.schemas.hubclientinfo import ClientInfoSerializer, client_info
from hub.selectors import client_infos_visible_to


class HubClientInfoSenderListView(OcpiGenericAPIView):
    """GET the ClientInfo of every party connected through the hub."""

    ocpi_module = ModuleID.HUB_CLIENT_INFO
    pagination_date_field = "platform__status_changed_at"

    def get_queryset(self) -> QuerySet[PlatformRole]:
        return client_infos_visible_to(ocpi_caller_of(self.request).platform)

    @extend_schema(responses=ClientInfoSerializer(many=True), summary="ClientInfo list")
    def get(self, request: Request) -> Response:
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([client_info(role) for role in page or []])
