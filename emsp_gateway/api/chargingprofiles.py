"""Charging profiles, the hub's RECEIVER interface for eMSPs and SCSPs (2.2.1
mod_charging_profiles, Receiver).

`{chargingprofiles}/{session_id}`: GET `?duration=&response_url=` (ActiveChargingProfile),
PUT a SetChargingProfile, DELETE `?response_url=` (clear). Routed to the session's CPO (TO, or
the stored session's CPO) with the hub's `response_url`; the CPO's ChargingProfileResponse is
relayed, and its asynchronous result reaches the original `response_url` through the hub.
Invalid parameters or bodies are 2001 naming the field; nothing is stored or forwarded then.
"""

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin, forwarded_response
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, check_id_length
from hub.schemas.chargingprofiles import (
    ActiveChargingProfileQuerySerializer,
    ChargingProfileResponseSerializer,
    ClearProfileQuerySerializer,
    SetChargingProfileSerializer,
)
from hub.services.routing.chargingprofiles import charging_profile_request

_RESPONSE_URL = OpenApiParameter("response_url", str, required=True)


class ChargingProfileReceiverView(RoutedViewMixin, OcpiAPIView):
    """GET, PUT or DELETE the charging profile of one session."""

    ocpi_module = ModuleID.CHARGING_PROFILES
    gateway = "emsp"
    forward_interface = "RECEIVER"

    @extend_schema(
        parameters=[OpenApiParameter("duration", int, required=True), _RESPONSE_URL],
        responses=ChargingProfileResponseSerializer,
        summary="Ask the CPO for the session's ActiveChargingProfile",
    )
    def get(self, request: Request, session_id: str) -> Response:
        require_receiver_role(request)
        check_id_length("session_id", session_id, 36)
        query = ActiveChargingProfileQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        result = charging_profile_request(
            caller=caller_of(request),
            context=context_of(request),
            operation="GET",
            session_id=session_id,
            response_url=query.validated_data["response_url"],
            duration=query.validated_data["duration"],
        )
        return forwarded_response(result)

    @extend_schema(
        request=SetChargingProfileSerializer,
        responses=ChargingProfileResponseSerializer,
        summary="Set (create or replace) the session's charging profile",
    )
    def put(self, request: Request, session_id: str) -> Response:
        require_receiver_role(request)
        check_id_length("session_id", session_id, 36)
        serializer = SetChargingProfileSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = serializer.validated_data
        result = charging_profile_request(
            caller=caller_of(request),
            context=context_of(request),
            operation="SET",
            session_id=session_id,
            response_url=str(body["response_url"]),
            body=body,
        )
        return forwarded_response(result)

    @extend_schema(
        parameters=[_RESPONSE_URL],
        responses=ChargingProfileResponseSerializer,
        summary="Clear the charging profile set on the session",
    )
    def delete(self, request: Request, session_id: str) -> Response:
        require_receiver_role(request)
        check_id_length("session_id", session_id, 36)
        query = ClearProfileQuerySerializer(data=request.query_params.dict())
        query.is_valid(raise_exception=True)
        result = charging_profile_request(
            caller=caller_of(request),
            context=context_of(request),
            operation="CLEAR",
            session_id=session_id,
            response_url=query.validated_data["response_url"],
        )
        return forwarded_response(result)
