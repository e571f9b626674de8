"""CDRs, the hub's SENDER interface for eMSPs (2.2.1 mod_cdrs, Sender).

GET the list (paginated, `date_from`/`date_to` optional): the stored CDRs whose `cdr_token`
belongs to one of the caller's parties (GET all via hub; TO = the hub or none). This is the
pull side of the pushes to the eMSP's cdrs RECEIVER: an eMSP that was offline, or publishes no
RECEIVER, re-syncs here. With TO = one CPO the request goes to that CPO's cdrs SENDER instead
(direct routing; the forwarding rewrites its `Link`).

The date filters apply to the CDR's `last_updated` (mod_cdrs Sender GET: "last_updated after or
equal to date_from"; for a CDR that is its creation time, set by the CPO). Decision: the hub does
not filter on when it received a CDR, so every item returned lies inside the requested range as
the spec defines it. Consequence: a CDR the CPO sends days after creating it has an old
`last_updated`; an eMSP pulling only since its last pull misses it in the pull, though it still
gets the push — a full-period pull (reconciliation) finds it.
"""

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from emsp_gateway.api.access import require_receiver_role
from hub.api.routed import RoutedViewMixin
from hub.models import Cdr
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiGenericAPIView
from hub.schemas.cdrs import CdrSerializer
from hub.selectors import cdrs_visible_to


class CdrSenderListView(RoutedViewMixin, OcpiGenericAPIView):
    """GET the caller's CDRs via the hub."""

    ocpi_module = ModuleID.CDRS
    gateway = "emsp"
    forward_interface = "SENDER"
    pagination_date_field = "last_updated"

    def get_queryset(self) -> QuerySet[Cdr]:
        context = context_of(self.request)
        return cdrs_visible_to(caller_of(self.request), context.from_party).only(
            "data", "last_updated"
        )

    @extend_schema(
        parameters=[
            OpenApiParameter("date_from", str, required=False, description="OCPI DateTime"),
            OpenApiParameter("date_to", str, required=False, description="OCPI DateTime"),
        ],
        responses=CdrSerializer(many=True),
        summary="The caller's CDRs (GET all via hub)",
    )
    def get(self, request: Request) -> Response:
        require_receiver_role(request)
        if self.direct_target(request):
            return self.forward(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([cdr.data for cdr in page or []])
