"""Commands, the hub's RECEIVER interface for eMSPs (2.2.1 mod_commands, Receiver).

`POST {commands}/{command}` with the command object; the hub routes it to a CPO (TO, or the
owner of the location / session / reservation) with its own `response_url`, and relays the
CPO's CommandResponse. The CPO's later CommandResult reaches the eMSP's `response_url` through
the hub (`hub.services.routing.async_results`).

An unknown `{command}` is HTTP 404 with OCPI 2001: the URL addresses no resource (2.2.1
status_codes), and the message lists the CommandType values. A body that is not the command's
object is 2001 naming the field; nothing is stored or forwarded then.
"""

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin, forwarded_response
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import NotFoundError
from hub.ocpi.routing import context_of
from hub.ocpi.status import OcpiStatus
from hub.ocpi.views import OcpiAPIView
from hub.schemas.commands import (
    COMMAND_SERIALIZERS,
    CommandResponseSerializer,
    CommandType,
)
from hub.services.routing.commands import command_send


class CommandReceiverView(RoutedViewMixin, OcpiAPIView):
    """POST a command (START_SESSION, STOP_SESSION, RESERVE_NOW, CANCEL_RESERVATION,
    UNLOCK_CONNECTOR)."""

    ocpi_module = ModuleID.COMMANDS
    gateway = "emsp"
    forward_interface = "RECEIVER"

    @extend_schema(
        # The body is the object of the command in the URL: one of the five.
        request=PolymorphicProxySerializer(
            component_name="Command",
            serializers=list(COMMAND_SERIALIZERS.values()),
            resource_type_field_name=None,
        ),
        responses=CommandResponseSerializer,
        summary="Send a command to a CPO (body: the command's object)",
    )
    def post(self, request: Request, command: str) -> Response:
        require_receiver_role(request)
        serializer_class = COMMAND_SERIALIZERS.get(command)
        if serializer_class is None:
            raise NotFoundError(
                f"command: {command[:40]} is not a CommandType "
                f"({', '.join(CommandType.values)}; case-sensitive)",
                ocpi_status=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
            )
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = command_send(
            caller=caller_of(request),
            context=context_of(request),
            command=command,
            body=serializer.validated_data,
        )
        return forwarded_response(result)
