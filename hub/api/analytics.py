"""The hub's analytics for a partner about its own data (DESIGN §6b; docs/analytics.md).

`GET /ocpi/hub/analytics?date_from=&date_to=&party=CC-PID`, authenticated with the partner's
OCPI credentials token like every hub endpoint, answered in the OCPI envelope. It is the hub's
own endpoint, not an OCPI module: it sits beside `/ocpi/versions`, outside the version's URL
space, and is not listed in the version details.
"""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.ocpi.authentication import caller_of
from hub.ocpi.views import OcpiAPIView
from hub.schemas.analytics import AnalyticsReportSerializer
from hub.services.analytics.period import period_of
from hub.services.analytics.report import analytics_report, parse_party, partner_perspectives

_BOUND = (
    "An OCPI DateTime (2025-03-01T00:00:00Z) or a date (2025-03-01: midnight UTC). "
    "The period is at most OCPI_ANALYTICS_MAX_DAYS (366) days long."
)


class AnalyticsView(OcpiAPIView):
    """GET the caller's own figures for a period."""

    @extend_schema(
        operation_id="hub_analytics",
        summary="Analytics of the caller's own parties (the hub's endpoint, not an OCPI module)",
        parameters=[
            OpenApiParameter(
                "date_from", OpenApiTypes.STR, description=f"Start, inclusive. {_BOUND}"
            ),
            OpenApiParameter(
                "date_to", OpenApiTypes.STR, description=f"End, exclusive; default now. {_BOUND}"
            ),
            OpenApiParameter(
                "party",
                {"type": "string", "pattern": "^[A-Za-z]{2}[-*][A-Za-z0-9]{3}$"},
                description="CC-PID, one of the caller's CPO or eMSP parties; default all of "
                "them. Another platform's party: HTTP 404 with OCPI 2001.",
            ),
        ],
        responses=AnalyticsReportSerializer,
    )
    def get(self, request: Request) -> Response:
        params = request.query_params
        period = period_of(params.get("date_from"), params.get("date_to"))
        party_param = params.get("party")
        party = parse_party(party_param) if party_param else None
        caller = caller_of(request)
        perspectives = partner_perspectives(caller, party)
        return Response(analytics_report(period, perspectives, [caller.platform.pk]))
