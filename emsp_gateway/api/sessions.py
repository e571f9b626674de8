"""Sessions, the hub's SENDER interface for eMSPs (2.2.1 mod_sessions, Sender).

- GET the list (`date_from` required, paginated): the stored sessions whose `cdr_token` belongs
  to one of the caller's parties (GET all via hub, TO = the hub or none); with TO = one CPO the
  request goes to that CPO's sessions SENDER instead (direct routing).
- PUT `/{session_id}/charging_preferences`: routed to the CPO of the session (open routing by
  the stored session, or TO) and the CPO's ChargingPreferencesResponse relayed.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin, forwarded_response
from hub.models import Session
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, OcpiGenericAPIView, check_id_length
from hub.schemas.sessions import ChargingPreferencesSerializer, SessionSerializer
from hub.selectors import sessions_visible_to
from hub.services.sessions import charging_preferences_set


class SessionSenderListView(RoutedViewMixin, OcpiGenericAPIView):
    """GET the caller's sessions via the hub."""

    ocpi_module = ModuleID.SESSIONS
    gateway = "emsp"
    forward_interface = "SENDER"

    def get_queryset(self) -> QuerySet[Session]:
        context = context_of(self.request)
        return sessions_visible_to(caller_of(self.request), context.from_party).only(
            "data", "last_updated"
        )

    @extend_schema(
        parameters=[OpenApiParameter("date_from", str, required=True, description="OCPI DateTime")],
        responses=SessionSerializer(many=True),
        summary="The caller's sessions (GET all via hub)",
    )
    def get(self, request: Request) -> Response:
        require_receiver_role(request)
        # mod_sessions Sender GET: date_from is required, unlike every other module's list.
        if not request.query_params.get("date_from"):
            raise InvalidParametersError("date_from: required for the Sessions list")
        if self.direct_target(request):
            return self.forward(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([session.data for session in page or []])


class ChargingPreferencesView(RoutedViewMixin, OcpiAPIView):
    """PUT the driver's charging preferences for one of the caller's sessions."""

    ocpi_module = ModuleID.SESSIONS
    gateway = "emsp"
    forward_interface = "SENDER"

    @extend_schema(
        request=ChargingPreferencesSerializer,
        responses=str,
        summary="Set charging preferences (relays the CPO's ChargingPreferencesResponse)",
    )
    def put(self, request: Request, session_id: str) -> Response:
        require_receiver_role(request)
        check_id_length("session_id", session_id, 36)
        ChargingPreferencesSerializer(data=request.data).is_valid(raise_exception=True)
        result = charging_preferences_set(
            caller=caller_of(request),
            context=context_of(request),
            session_id=session_id,
            body=request.data,
        )
        return forwarded_response(result)
