"""Tariffs, the hub's SENDER interface for eMSPs (2.2.1 mod_tariffs, Sender): the list of
stored tariffs across CPOs (GET all via hub), or one CPO's list with TO = that CPO."""

from django.db.models import QuerySet
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin
from hub.models import Tariff
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.renderers import stored_json_of, with_stored_json
from hub.ocpi.views import OcpiGenericAPIView
from hub.schemas.tariffs import TariffSerializer
from hub.selectors import tariffs_visible_to


class TariffSenderListView(RoutedViewMixin, OcpiGenericAPIView):
    """GET all tariffs via the hub."""

    ocpi_module = ModuleID.TARIFFS
    gateway = "emsp"
    forward_interface = "SENDER"

    def get_queryset(self) -> QuerySet[Tariff]:
        return with_stored_json(tariffs_visible_to(caller_of(self.request)), "last_updated")

    @extend_schema(responses=TariffSerializer(many=True), summary="Tariffs (GET all via hub)")
    def get(self, request: Request) -> Response:
        require_receiver_role(request)
        if self.direct_target(request):
            return self.forward(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([stored_json_of(tariff) for tariff in page or []])
