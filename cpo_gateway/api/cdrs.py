"""CDRs, the hub's RECEIVER interface for CPOs (2.2.1 mod_cdrs, Receiver).

- POST `cdrs`: a new CDR. Stored immutable and delivered through the outbox to the eMSP owning
  `cdr_token`, whatever TO says (a TO naming another party is refused); never forwarded
  synchronously nor broadcast (`hub.services.cdrs`). The answer carries `Location`: the hub's
  URL of its copy. An identical replay gets the same answer; a different CDR under a stored id
  is refused (CDRs are immutable: send a credit CDR).
- GET `cdrs/{country_code}/{party_id}/{cdr_id}` (the `Location`): the hub's copy, for the
  CPO that posted it only (404 for anyone else).
"""

from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, OcpiResponse, check_id_length, owner_party
from hub.schemas.cdrs import CDR_ID_MAX, CdrSerializer
from hub.services.cdrs import cdr_get, cdr_ingest, cdr_location_url


class CdrReceiverView(RoutedViewMixin, OcpiAPIView):
    """POST a CPO's CDR."""

    ocpi_module = ModuleID.CDRS
    gateway = "cpo"
    forward_interface = "RECEIVER"

    @extend_schema(
        request=CdrSerializer,
        responses={
            201: OpenApiResponse(description="Stored; `Location` names the hub's copy"),
            200: OpenApiResponse(description="Replay of a stored CDR; same `Location`"),
        },
        summary="Post a CDR (delivered to the cdr_token owner)",
    )
    def post(self, request: Request) -> Response:
        CdrSerializer(data=request.data).is_valid(raise_exception=True)
        # The CDR's own party must be one of the caller's CPO parties and FROM (if given).
        party = owner_party(
            request, str(request.data["country_code"]), str(request.data["party_id"]), ("CPO",)
        )
        result = cdr_ingest(
            owner=caller_of(request).platform,
            party=party,
            data=request.data,
            to_party=self.direct_target(request),
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(
            status=201 if result.created else 200,
            headers={"Location": cdr_location_url(result.stored)},
        )


class CdrReceiverObjectView(OcpiAPIView):
    """GET the hub's copy of one of the caller's CDRs (the URL answered in `Location`)."""

    ocpi_module = ModuleID.CDRS
    gateway = "cpo"

    @extend_schema(responses=CdrSerializer, summary="The hub's copy of a posted CDR")
    def get(self, request: Request, **kwargs: Any) -> Response:
        party = owner_party(request, kwargs["country_code"], kwargs["party_id"], ("CPO",))
        check_id_length("cdr_id", kwargs["cdr_id"], CDR_ID_MAX)
        return OcpiResponse(cdr_get(party, kwargs["cdr_id"]))
