"""Tokens, the hub's RECEIVER interface for eMSPs (2.2.1 mod_tokens, Receiver).

`/{country_code}/{party_id}/{token_uid}[?type=RFID|APP_USER|AD_HOC_USER|OTHER]` (type RFID when
omitted): GET the hub's copy, PUT a new or replacing token, PATCH part of one (with
`last_updated`). Tokens are never deleted (the eMSP sets `valid=false`). With TO = the hub or no
TO the hub stores the token and broadcasts it to every connected CPO; with TO = one CPO it
forwards to that CPO only.
"""

from typing import Any, ClassVar

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin
from hub.models import TokenSource
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.routing import PartyRef, context_of
from hub.ocpi.views import ClientOwnedObjectMixin, OcpiAPIView, OcpiResponse, check_body_identity
from hub.schemas.tokens import TokenPatchSerializer, TokenSerializer, token_type_param
from hub.services.routing.token_index import token_owner_learn
from hub.services.tokens import token_get, token_write

_SERIALIZERS: dict[str, type[serializers.Serializer]] = {  # type: ignore[type-arg]
    "PUT": TokenSerializer,
    "PATCH": TokenPatchSerializer,
}
_TYPE_PARAMETER = OpenApiParameter(
    "type",
    OpenApiTypes.STR,
    enum=["AD_HOC_USER", "APP_USER", "OTHER", "RFID"],
    description="Token.type; RFID when omitted",
)


class TokenReceiverView(ClientOwnedObjectMixin, RoutedViewMixin, OcpiAPIView):
    """An eMSP's tokens."""

    ocpi_module = ModuleID.TOKENS
    gateway = "emsp"
    forward_interface = "RECEIVER"
    owner_roles: ClassVar[tuple[str, ...]] = ("EMSP",)
    id_kwargs: ClassVar[tuple[str, ...]] = ("token_uid",)

    def _address(self, request: Request, kwargs: dict[str, Any]) -> tuple[PartyRef, str, str]:
        # The URL party must be one of the caller's eMSP parties (and equal FROM): an eMSP
        # writes only its own tokens, a CPO none (404, 2.2.1 Client Owned Object Push).
        party = self.owned_party(request, kwargs)
        return party, kwargs["token_uid"], token_type_param(request.query_params.get("type"))

    @extend_schema(
        parameters=[_TYPE_PARAMETER], responses=TokenSerializer, summary="The hub's copy"
    )
    def get(self, request: Request, **kwargs: Any) -> Response:
        party, uid, token_type = self._address(request, kwargs)
        if self.direct_target(request):
            return self.forward(request, self.object_path(kwargs))
        return OcpiResponse(token_get(party, uid, token_type))

    @extend_schema(
        parameters=[_TYPE_PARAMETER],
        request=TokenSerializer,
        responses=None,
        summary="Create or replace a token",
    )
    def put(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PUT", kwargs)

    @extend_schema(
        parameters=[_TYPE_PARAMETER],
        request=TokenPatchSerializer,
        responses=None,
        summary="Update fields of a token (e.g. valid=false)",
    )
    def patch(self, request: Request, **kwargs: Any) -> Response:
        return self._write(request, "PATCH", kwargs)

    def _write(self, request: Request, method: str, kwargs: dict[str, Any]) -> Response:
        party, uid, token_type = self._address(request, kwargs)
        _SERIALIZERS[method](data=request.data).is_valid(raise_exception=True)
        check_body_identity(request.data, party, "uid", uid)
        body_type = request.data.get("type")
        if body_type is not None and body_type != token_type:
            # The URL's type (RFID when omitted) names the token as much as its uid does.
            raise InvalidParametersError(
                f"type: {body_type} differs from the URL's type {token_type}"
                + ("" if "type" in request.query_params else " (RFID when ?type= is omitted)")
            )
        if self.direct_target(request):
            # The identity was checked above: the hub may route authorizations for it later.
            token_owner_learn(
                owner=party, uid=uid, token_type=token_type, source=TokenSource.TOKENS
            )
            return self.forward(request, self.object_path(kwargs))
        result = token_write(
            owner=caller_of(request).platform,
            party=party,
            uid=uid,
            token_type=token_type,
            method=method,
            data=request.data,
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(status=201 if result.created else 200)
