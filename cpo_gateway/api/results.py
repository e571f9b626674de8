"""The hub URLs CPOs post asynchronous results to (2.2.1 mod_commands and
mod_charging_profiles, Sender interface POST; DESIGN §3 "response_url").

The hub gave these URLs to the CPO as `response_url` when it forwarded a command or a
charging-profile request: `{cpo}/commands/{command}/{id}` and `{cpo}/chargingprofiles/results/{id}`.
Only the platform the request went to may post, while the request still takes a result; the
hub answers 1000 at once (data omitted, as the spec asks) and relays the result to the
requester's own `response_url` through the outbox. Routing headers are accepted but not used
for routing: the URL names the request, and the request names its requester.
"""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.models import AsyncKind
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.views import OcpiAPIView, OcpiResponse
from hub.schemas.chargingprofiles import ChargingProfileResultSerializer
from hub.schemas.commands import CommandResultSerializer
from hub.services.routing.async_results import async_result_receive
from hub.services.routing.chargingprofiles import charging_profile_result_serializer


class CommandResultView(OcpiAPIView):
    """POST the CommandResult of a command the hub forwarded."""

    ocpi_module = ModuleID.COMMANDS
    routed = True

    @extend_schema(request=CommandResultSerializer, responses=None, summary="A command's result")
    def post(self, request: Request, command: str, request_id: str) -> Response:
        async_result_receive(
            caller=caller_of(request),
            kind=AsyncKind.COMMAND,
            request_id=request_id,
            operation=command,
            body=request.data,
            serializer_for=lambda row: CommandResultSerializer,
        )
        return OcpiResponse()


class ChargingProfileResultView(OcpiAPIView):
    """POST the ActiveChargingProfileResult, ChargingProfileResult or ClearProfileResult of a
    charging-profile request the hub forwarded (which one depends on the request)."""

    ocpi_module = ModuleID.CHARGING_PROFILES
    routed = True

    @extend_schema(
        request=ChargingProfileResultSerializer, responses=None, summary="A profile result"
    )
    def post(self, request: Request, request_id: str) -> Response:
        async_result_receive(
            caller=caller_of(request),
            kind=AsyncKind.CHARGING_PROFILE,
            request_id=request_id,
            body=request.data,
            serializer_for=charging_profile_result_serializer,
        )
        return OcpiResponse()
