"""Tokens, the hub's SENDER interface for CPOs (2.2.1 mod_tokens, Sender).

- `GET /tokens`: the eMSPs' tokens the hub stores, merged and paginated (GET all via hub); with
  TO = one eMSP the request goes to that eMSP's tokens SENDER instead (direct routing).
- `POST /tokens/{token_uid}/authorize[?type=]`: real-time authorization, routed to the eMSP in
  TO or, without TO, to the token's owner (open routing), and its answer relayed.

Only CPOs call these (an eMSP pushes its tokens on its own side).
"""

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from hub.api.routed import RoutedViewMixin, forwarded_response
from hub.models import Token
from hub.modules import ModuleID
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import InvalidParametersError, OcpiError
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, OcpiGenericAPIView, check_id_length, mark_access_checked
from hub.schemas.tokens import (
    AuthorizationInfoSerializer,
    LocationReferencesSerializer,
    TokenSerializer,
    token_type_param,
)
from hub.selectors import tokens_visible_to
from hub.services.tokens import token_authorize

CPO_GATEWAY_ROLES = ("CPO",)


def require_cpo_role(request: Request) -> None:
    """Refuse callers without a CPO role (403, like the eMSP side's `require_receiver_role`),
    and a FROM naming one of the caller's non-CPO parties (2001): the request speaks for a CPO."""
    caller = caller_of(request)
    cpo_parties = caller.parties(*CPO_GATEWAY_ROLES)
    if not cpo_parties:
        raise OcpiError("This interface is for CPO parties", http_status=status.HTTP_403_FORBIDDEN)
    from_party = context_of(request).from_party
    if from_party is not None and from_party not in cpo_parties:
        raise InvalidParametersError(
            f"OCPI-from-country-code/OCPI-from-party-id: {from_party} is not a CPO party of "
            "the calling platform"
        )
    mark_access_checked(request)


def _has_body(request: Request) -> bool:
    # An absent body and `{}` read the same through request.data; only the latter is a
    # (defective) LocationReferences.
    return int(request.META.get("CONTENT_LENGTH") or 0) > 0 or bool(
        request.META.get("HTTP_TRANSFER_ENCODING")
    )


class TokenSenderListView(RoutedViewMixin, OcpiGenericAPIView):
    """GET all tokens via the hub."""

    ocpi_module = ModuleID.TOKENS
    gateway = "cpo"
    forward_interface = "SENDER"

    def get_queryset(self) -> QuerySet[Token]:
        return tokens_visible_to(caller_of(self.request)).only("data", "last_updated")

    @extend_schema(responses=TokenSerializer(many=True), summary="Tokens (GET all via hub)")
    def get(self, request: Request) -> Response:
        require_cpo_role(request)
        if self.direct_target(request):
            return self.forward(request)
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response([token.data for token in page or []])


class TokenAuthorizeView(RoutedViewMixin, OcpiAPIView):
    """Real-time authorization of a token by its eMSP, through the hub."""

    ocpi_module = ModuleID.TOKENS
    gateway = "cpo"
    forward_interface = "SENDER"

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "type",
                OpenApiTypes.STR,
                enum=["AD_HOC_USER", "APP_USER", "OTHER", "RFID"],
                description="Token.type; RFID when omitted",
            )
        ],
        request=LocationReferencesSerializer,
        responses=AuthorizationInfoSerializer,
        summary="Real-time authorization (routed to the token's eMSP)",
    )
    def post(self, request: Request, token_uid: str, **kwargs: Any) -> Response:
        require_cpo_role(request)
        uid = check_id_length("token_uid", token_uid, 36)
        token_type = token_type_param(request.query_params.get("type"))
        location = request.data if _has_body(request) else None
        if location is not None:
            LocationReferencesSerializer(data=location).is_valid(raise_exception=True)
        result = token_authorize(
            caller=caller_of(request),
            context=context_of(request),
            uid=uid,
            token_type=token_type,
            location=location,
            gateway=self.gateway,
        )
        return forwarded_response(result)
