"""Charging profiles, the hub's SENDER interface for CPOs (2.2.1 mod_charging_profiles, Sender
PUT): a CPO sends the ActiveChargingProfile of a session when it changes.

`PUT {chargingprofiles}/{session_id}` with an ActiveChargingProfile; forwarded to the party that
set a profile on the session through the hub (else the session's token owner; TO overrides)
and answered as that party answers (`hub.services.routing.chargingprofiles`).
"""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin, forwarded_response
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import OcpiError
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, check_id_length
from hub.schemas.chargingprofiles import ActiveChargingProfileSerializer
from hub.services.routing.chargingprofiles import active_charging_profile_forward


class ActiveChargingProfileSenderView(RoutedViewMixin, OcpiAPIView):
    """PUT a session's ActiveChargingProfile."""

    ocpi_module = ModuleID.CHARGING_PROFILES
    gateway = "cpo"
    forward_interface = "SENDER"

    @extend_schema(
        request=ActiveChargingProfileSerializer,
        responses=None,
        summary="The session's ActiveChargingProfile changed",
    )
    def put(self, request: Request, session_id: str) -> Response:
        if not caller_of(request).parties("CPO"):
            raise OcpiError("This interface is for CPO parties", http_status=403)
        check_id_length("session_id", session_id, 36)
        serializer = ActiveChargingProfileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = active_charging_profile_forward(
            caller=caller_of(request),
            context=context_of(request),
            session_id=session_id,
            body=serializer.validated_data,
        )
        return forwarded_response(result)
