"""Who may use the eMSP-facing interfaces: platforms holding an eMSP-type role."""

from rest_framework import status
from rest_framework.request import Request

from hub.modules import EMSP_GATEWAY_AUDIENCE
from hub.ocpi.authentication import caller_of
from hub.ocpi.exceptions import OcpiError
from hub.ocpi.views import mark_access_checked

# The roles the module table publishes the eMSP gateway to.
EMSP_GATEWAY_ROLES = EMSP_GATEWAY_AUDIENCE


def require_receiver_role(request: Request) -> None:
    """Refuse callers without an eMSP-type role (a CPO reads its own data on its side)."""
    if not caller_of(request).parties(*EMSP_GATEWAY_ROLES):
        raise OcpiError(
            "This interface is for eMSP, NSP, OTHER and SCSP parties",
            http_status=status.HTTP_403_FORBIDDEN,
        )
    mark_access_checked(request)
