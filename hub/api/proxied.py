"""Proxied URLs: the next page of a forwarded list (or a forwarded Location), through the hub.

2.2.1 transport_and_format, Pagination: a client follows the `Link rel="next"` it was given.
Behind a hub that link is a hub URL (`hub.services.routing.forwarding.proxy_url`); this view GETs
the receiver's page with the receiver's token and relays it, rewriting its next link again.
"""

from uuid import UUID

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import forwarded_response
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView
from hub.services.routing.forwarding import proxied_url_follow, proxied_url_for


class ProxiedPageView(OcpiAPIView):
    """GET a URL a forwarded response pointed to; only the platform it was given to may."""

    # The exchange follows a routed one: it carries the original FROM/TO headers.
    routed = True

    @extend_schema(
        responses=OpenApiTypes.ANY,
        summary="Follow a proxied Link or Location of a forwarded response",
    )
    def get(self, request: Request, gateway: str, module: str, page_id: UUID) -> Response:
        proxied = proxied_url_for(
            caller=caller_of(request), page_id=page_id, gateway=gateway, module=module
        )
        # The module of the exchange log entry is the proxied URL's own.
        setattr(request._request, "ocpi_module", proxied.module)  # noqa: B010 - read by the log
        return forwarded_response(proxied_url_follow(proxied=proxied, context=context_of(request)))
