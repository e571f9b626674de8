"""The base views every OCPI endpoint subclasses (netbox `NetBoxModelViewSet`).

They envelope success data, parse the routing headers once into `request.ocpi`, check that a
FROM header names one of the caller's own parties, and map PUT results to 200/201.
"""

from typing import Any, ClassVar

from django.http import HttpRequest, HttpResponseBase
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.ocpi.authentication import OcpiCaller
from hub.ocpi.envelope import ENVELOPE_KEYS, ocpi_envelope
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.routing import OcpiRequestContext, parse_routing_headers
from hub.ocpi.status import OcpiStatus


class OcpiResponse(Response):
    """A success response whose data is enveloped by `OcpiAPIView.finalize_response`."""

    def __init__(
        self,
        data: Any = None,
        *,
        status: int = 200,
        ocpi_status: int = OcpiStatus.SUCCESS,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(ocpi_envelope(data, ocpi_status, message), status=status, headers=headers)


class OcpiViewMixin:
    """Shared behaviour of `OcpiAPIView` and `OcpiGenericAPIView`."""

    # The OCPI module this view belongs to, for the exchange log and version details.
    ocpi_module: ClassVar[str] = ""
    # Configuration modules (versions, credentials, hubclientinfo) are not routed.
    routed: ClassVar[bool] = False
    # Token A (and a pending token B) may call only versions and credentials.
    allow_registration_token: ClassVar[bool] = False

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # The spec says Content-Type SHALL be sent with a body; a partner that forgets it
        # still means JSON, so read it as JSON rather than silently ignoring the body.
        if not request.META.get("CONTENT_TYPE") and request.META.get("CONTENT_LENGTH", "0") not in (
            "",
            "0",
        ):
            request.META["CONTENT_TYPE"] = "application/json"
        setattr(request, "ocpi_module", self.ocpi_module)  # noqa: B010 - read by the log
        return super().initialize_request(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        context = parse_routing_headers(request._request)
        setattr(request._request, "ocpi_context", context)  # noqa: B010 - read by context_of
        self.check_from_party(request, context)

    def check_from_party(self, request: Request, context: OcpiRequestContext) -> None:
        """A FROM header must name one of the caller's own parties: FROM cannot be spoofed
        across platforms (DESIGN §3). Unregistered callers have no parties yet."""
        caller = request.user
        if context.from_party is None or not isinstance(caller, OcpiCaller):
            return
        if not caller.registered:
            return
        if context.from_party not in caller.parties():
            raise InvalidParametersError(
                f"OCPI-from-country-code/OCPI-from-party-id: {context.from_party} is not a "
                "party of the calling platform"
            )

    def finalize_response(  # type: ignore[override]
        self, request: Request, response: HttpResponseBase, *args: Any, **kwargs: Any
    ) -> HttpResponseBase:
        # Errors arrive enveloped by the exception handler; plain Response data is wrapped.
        if isinstance(response, Response) and not (
            isinstance(response.data, dict)
            and "status_code" in response.data
            and set(response.data) <= ENVELOPE_KEYS
        ):
            response.data = ocpi_envelope(response.data)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class OcpiAPIView(OcpiViewMixin, APIView):  # type: ignore[misc]
    """Base for OCPI views without a queryset."""


class OcpiGenericAPIView(OcpiViewMixin, generics.GenericAPIView):  # type: ignore[type-arg,misc]
    """Base for OCPI views over a queryset (lists use `OcpiPagination`)."""
