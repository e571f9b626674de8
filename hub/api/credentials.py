"""Credentials module (2.2.1 credentials.asciidoc), the hub as the server side.

GET returns the hub's credentials for this client; POST registers (405 when registered); PUT
updates and rotates (405 when not registered); DELETE unregisters (405 when not registered).
"""

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request

from hub.modules import ModuleID
from hub.ocpi.authentication import ocpi_caller_of
from hub.ocpi.routing import context_of
from hub.ocpi.views import OcpiAPIView, OcpiResponse
from hub.schemas.credentials import CredentialsSerializer
from hub.services.registry.credentials import (
    credentials_register,
    credentials_unregister,
    credentials_update,
    hub_credentials,
)


class CredentialsView(OcpiAPIView):
    """The hub's credentials endpoint."""

    ocpi_module = ModuleID.CREDENTIALS
    allow_registration_token = True

    @extend_schema(responses=CredentialsSerializer, summary="The hub's credentials")
    def get(self, request: Request) -> OcpiResponse:
        # The token in the hub's credentials is the one this client must use: the one it
        # presented (the hub keeps only digests of the tokens it issued).
        return OcpiResponse(hub_credentials(ocpi_caller_of(request).presented_token))

    @extend_schema(
        request=CredentialsSerializer, responses=CredentialsSerializer, summary="Register (Token A)"
    )
    def post(self, request: Request) -> OcpiResponse:
        data, message = credentials_register(
            platform=ocpi_caller_of(request).platform,
            data=request.data,
            token_form=ocpi_caller_of(request).token_form,
            correlation_id=context_of(request).correlation_id,
        )
        return OcpiResponse(data, message=message or None)

    @extend_schema(
        request=CredentialsSerializer,
        responses=CredentialsSerializer,
        summary="Update credentials and rotate the token",
    )
    def put(self, request: Request) -> OcpiResponse:
        data, message = credentials_update(
            platform=ocpi_caller_of(request).platform,
            data=request.data,
            token_form=ocpi_caller_of(request).token_form,
            correlation_id=context_of(request).correlation_id,
        )
        # Parties waiting for staff approval are named in status_message; the rest succeeded.
        return OcpiResponse(data, message=message or None)

    @extend_schema(request=None, responses=None, summary="Unregister")
    def delete(self, request: Request) -> OcpiResponse:
        credentials_unregister(platform=ocpi_caller_of(request).platform)
        return OcpiResponse()
