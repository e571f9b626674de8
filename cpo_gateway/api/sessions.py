"""Sessions, the hub's RECEIVER interface for CPOs (2.2.1 mod_sessions, Receiver).

`/{country_code}/{party_id}/{session_id}`: GET the hub's copy, PUT a new or replacing Session,
PATCH part of one (with `last_updated`; `charging_periods` are appended). Sessions are never
forwarded as they arrive nor broadcast: with TO = the token's eMSP, TO = the hub or no TO, the
hub stores them and delivers them to the `cdr_token` owner (`hub.services.sessions`). A GET with
TO = an eMSP asks that eMSP for its copy (direct routing: the CPO validates the eMSP's state).
"""

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import ClientOwnedObjectMixin, OcpiAPIView, OcpiResponse, check_body_identity
from hub.schemas.sessions import SessionPatchSerializer, SessionSerializer
from hub.services.sessions import session_get, session_write


class SessionReceiverView(ClientOwnedObjectMixin, RoutedViewMixin, OcpiAPIView):
    """A CPO's sessions."""

    ocpi_module = ModuleID.SESSIONS
    gateway = "cpo"
    forward_interface = "RECEIVER"
    owner_roles = ("CPO",)
    id_kwargs = ("session_id",)

    @extend_schema(responses=SessionSerializer, summary="The hub's copy of a session")
    def get(self, request: Request, **kwargs: Any) -> Response:
        party = self.owned_party(request, kwargs)
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        return OcpiResponse(session_get(party, kwargs["session_id"]))

    @extend_schema(request=SessionSerializer, responses=None, summary="Create or replace")
    def put(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PUT", kwargs)

    @extend_schema(
        request=SessionPatchSerializer,
        responses=None,
        summary="Update fields; charging_periods are appended",
    )
    def patch(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PATCH", kwargs)

    def _write(self, request: Request, method: str, kwargs: dict[str, Any]) -> Response:
        party = self.owned_party(request, kwargs)
        serializer_class = SessionSerializer if method == "PUT" else SessionPatchSerializer
        serializer_class(data=request.data).is_valid(raise_exception=True)
        check_body_identity(request.data, party, "id", kwargs["session_id"])
        result = session_write(
            owner=caller_of(request).platform,
            party=party,
            session_id=kwargs["session_id"],
            method=method,
            data=request.data,
            to_party=self.direct_target(request),
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(status=201 if result.created else 200)
