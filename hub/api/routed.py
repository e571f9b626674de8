"""The routed-view plumbing (DESIGN §3, direct routing): gateway views whose TO names another
party than the hub forward the request through `hub.services.routing.forwarding` and answer
with what the receiver said. The service returns a `ForwardedResponse` (a domain result); the
DRF response is made here, in the view layer.
"""

from collections.abc import Sequence
from typing import ClassVar

from rest_framework.request import Request
from rest_framework.response import Response

from hub.ocpi.authentication import caller_of
from hub.ocpi.envelope import ocpi_envelope
from hub.ocpi.exceptions import ServerError
from hub.ocpi.routing import PartyRef, context_of
from hub.ocpi.status import OcpiStatus
from hub.ocpi.views import access_checked
from hub.services.routing.forwarding import ForwardedResponse, forward_request


def forwarded_response(result: ForwardedResponse) -> Response:
    """The DRF response relaying a forwarded answer: status, envelope and headers.

    The envelope passes `OcpiAPIView.finalize_response` untouched; the middleware then echoes
    the caller's own X-Request-ID/X-Correlation-ID (2.2.1 transport_and_format, Unique message
    IDs: the hub's answer echoes the origin's request id, not the receiver's).
    """
    body = result.body
    if body is None:
        body = ocpi_envelope(status=OcpiStatus.HUB_ERROR, message="The receiver sent no answer")
    return Response(body, status=result.http_status, headers=result.headers)


class RoutedViewMixin:
    """Functional-module views: routing headers apply, and a request whose TO names another
    party than the hub is forwarded to it (DESIGN §3, direct routing).

    `forward_module` and `forward_interface` name the receiver's endpoint: a CPO pushing to
    one eMSP reaches that eMSP's RECEIVER, an eMSP reading one CPO reaches its SENDER.
    """

    routed: ClassVar[bool] = True
    ocpi_module: ClassVar[str] = ""
    forward_interface: ClassVar[str] = "RECEIVER"
    gateway: ClassVar[str] = ""

    def direct_target(self, request: Request) -> PartyRef | None:
        """The TO party when it is not the hub (None: the hub handles the request itself)."""
        context = context_of(request)
        if context.to_party is None or context.to_hub:
            return None
        return context.to_party

    def forward(self, request: Request, segments: Sequence[str] = ()) -> Response:
        """Forward the request unchanged to the TO party and relay its answer; `segments` are
        the URL's ids below the module (checked and encoded by `forward_request`).

        Fails closed (500, nothing sent) unless the view checked who the caller may speak for
        first (`mark_access_checked`): a forward before the owner check let a CPO read another
        CPO's objects from an eMSP with the hub's token."""
        if not access_checked(request):
            raise ServerError(f"{type(self).__name__} forwards before its access check")
        result = forward_request(
            caller=caller_of(request),
            context=context_of(request),
            module=self.ocpi_module,
            interface_role=self.forward_interface,
            method=request.method or "GET",
            segments=segments,
            query=request.query_params,
            body=request.data if request.method in ("POST", "PUT", "PATCH") else None,
            gateway=self.gateway,
        )
        return forwarded_response(result)
