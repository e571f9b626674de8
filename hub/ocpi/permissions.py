"""Who may call what (2.2.1 credentials.asciidoc: Token A opens versions and credentials only)."""

from typing import TYPE_CHECKING

from rest_framework.permissions import BasePermission

from hub.ocpi.authentication import OcpiCaller
from hub.ocpi.exceptions import NotAuthenticatedError

if TYPE_CHECKING:  # rest_framework.views imports this module through its settings
    from rest_framework.request import Request
    from rest_framework.views import APIView


class IsRegisteredParty(BasePermission):
    """A registered platform; registration tokens only where the view allows them."""

    def has_permission(self, request: "Request", view: "APIView") -> bool:
        caller = request.user
        if not isinstance(caller, OcpiCaller):
            raise NotAuthenticatedError(
                "Missing Authorization header: 'Token <base64(credentials token)>'"
            )
        if not caller.registered and not getattr(view, "allow_registration_token", False):
            raise NotAuthenticatedError(
                "This token may be used only for the versions and credentials modules "
                "until the credentials exchange completes"
            )
        return True
