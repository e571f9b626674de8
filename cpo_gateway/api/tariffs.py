"""Tariffs, the hub's RECEIVER interface for CPOs (2.2.1 mod_tariffs, Receiver).

`/{country_code}/{party_id}/{tariff_id}`: GET the hub's copy, PUT a tariff, DELETE it. TO = the
hub or none: store and broadcast; TO = one eMSP: forward to it only.
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import ClientOwnedObjectMixin, OcpiAPIView, OcpiResponse, check_body_identity
from hub.schemas.tariffs import TariffSerializer
from hub.services.tariffs import tariff_delete, tariff_get, tariff_put


class TariffReceiverView(ClientOwnedObjectMixin, RoutedViewMixin, OcpiAPIView):
    """A CPO's tariffs."""

    ocpi_module = ModuleID.TARIFFS
    gateway = "cpo"
    forward_interface = "RECEIVER"
    owner_roles = ("CPO",)
    id_kwargs = ("tariff_id",)

    @extend_schema(responses=TariffSerializer, summary="The hub's copy of a tariff")
    def get(self, request: Request, **kwargs: Any) -> Response:
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        return OcpiResponse(tariff_get(self.owned_party(request, kwargs), kwargs["tariff_id"]))

    @extend_schema(request=TariffSerializer, responses=None, summary="Create or replace")
    def put(self, request: Request, **kwargs: Any) -> Response:
        party = self.owned_party(request, kwargs)
        TariffSerializer(data=request.data).is_valid(raise_exception=True)
        check_body_identity(request.data, party, "id", kwargs["tariff_id"])
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        result = tariff_put(
            owner=caller_of(request).platform,
            party=party,
            tariff_id=kwargs["tariff_id"],
            data=request.data,
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(status=201 if result.created else 200)

    @extend_schema(request=None, responses=None, summary="Delete a tariff")
    def delete(self, request: Request, **kwargs: Any) -> Response:
        party = self.owned_party(request, kwargs)
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        tariff_delete(
            owner=caller_of(request).platform,
            party=party,
            tariff_id=kwargs["tariff_id"],
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse()
