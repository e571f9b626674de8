"""The base views every OCPI endpoint subclasses (netbox `NetBoxModelViewSet`).

They envelope success data, parse the routing headers once into `request.ocpi`, check that a
FROM header names one of the caller's own parties, and map PUT results to 200/201.
"""

from typing import Any, ClassVar

from django.http import HttpRequest
from rest_framework import generics
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from hub.ocpi.authentication import OcpiCaller, caller_of
from hub.ocpi.envelope import ENVELOPE_KEYS, ocpi_envelope
from hub.ocpi.exceptions import InvalidParametersError, NotFoundError
from hub.ocpi.routing import OcpiRequestContext, PartyRef, context_of, parse_routing_headers
from hub.ocpi.status import OcpiStatus
from hub.ocpi.urlpaths import check_path_segment

# Set on the Django request by `mark_access_checked`, read by `access_checked`.
_ACCESS_CHECKED = "ocpi_access_checked"


class OcpiResponse(Response):
    """A success response whose data is enveloped by `OcpiAPIView.finalize_response`."""

    def __init__(
        self,
        data: Any = None,
        *,
        status: int = 200,
        ocpi_status: int = OcpiStatus.SUCCESS,
        message: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(ocpi_envelope(data, ocpi_status, message), status=status, headers=headers)


class OcpiViewMixin:
    """Shared behaviour of `OcpiAPIView` and `OcpiGenericAPIView`."""

    # The OCPI module this view belongs to, for the exchange log and version details.
    ocpi_module: ClassVar[str] = ""
    # Configuration modules (versions, credentials, hubclientinfo) are not routed.
    routed: ClassVar[bool] = False
    # Token A (and a pending token B) may call only versions and credentials.
    allow_registration_token: ClassVar[bool] = False

    def initialize_request(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Request:
        # The spec says Content-Type SHALL be sent with a body; a partner that forgets it
        # still means JSON, so read it as JSON rather than silently ignoring the body.
        if not request.META.get("CONTENT_TYPE") and request.META.get("CONTENT_LENGTH", "0") not in (
            "",
            "0",
        ):
            request.META["CONTENT_TYPE"] = "application/json"
        setattr(request, "ocpi_module", self.ocpi_module)  # noqa: B010 - read by the log
        return super().initialize_request(request, *args, **kwargs)  # type: ignore[misc]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        context = parse_routing_headers(request._request)
        setattr(request._request, "ocpi_context", context)  # noqa: B010 - read by context_of
        self.check_from_party(request, context)

    def check_from_party(self, request: Request, context: OcpiRequestContext) -> None:
        """A FROM header must name one of the caller's own parties: FROM cannot be spoofed
        across platforms (DESIGN §3). Unregistered callers have no parties yet."""
        caller = request.user
        if context.from_party is None or not isinstance(caller, OcpiCaller):
            return
        if not caller.registered:
            return
        if context.from_party not in caller.identity.parties():
            raise InvalidParametersError(
                f"OCPI-from-country-code/OCPI-from-party-id: {context.from_party} is not a "
                "party of the calling platform"
            )

    def finalize_response(
        self, request: Request, response: Response, *args: Any, **kwargs: Any
    ) -> Response:
        # Errors arrive enveloped by the exception handler; plain Response data is wrapped.
        if isinstance(response, Response) and not (
            isinstance(response.data, dict)
            and "status_code" in response.data
            and set(response.data) <= ENVELOPE_KEYS
        ):
            response.data = ocpi_envelope(response.data)
        return super().finalize_response(request, response, *args, **kwargs)  # type: ignore[misc]


class OcpiAPIView(OcpiViewMixin, APIView):  # type: ignore[misc]
    """Base for OCPI views without a queryset."""


class OcpiGenericAPIView(OcpiViewMixin, generics.GenericAPIView):  # type: ignore[type-arg,misc]
    """Base for OCPI views over a queryset (lists use `OcpiPagination`)."""


def mark_access_checked(request: Request) -> None:
    """Record that the view checked whom the caller speaks for (its URL party, or its role):
    `hub.api.routed.RoutedViewMixin.forward` refuses to forward a request without it."""
    setattr(request._request, _ACCESS_CHECKED, True)


def access_checked(request: Request) -> bool:
    """Did the view call `mark_access_checked` for this request?"""
    return bool(getattr(request._request, _ACCESS_CHECKED, False))


def check_id_length(name: str, value: str, max_length: int) -> str:
    """URL ids are CiStrings with the same limits as in the body (2001 when over), and plain
    path segments: `.`, `..` and slashes, also percent-encoded, are refused (404 + 2001,
    `hub.ocpi.urlpaths`) so that no id, forwarded or stored and pushed later, walks out of
    the receiver's endpoint."""
    if not value or len(value) > max_length or not all(0x20 < ord(ch) < 0x7F for ch in value):
        raise InvalidParametersError(
            f"{name}: must be 1 to {max_length} printable ASCII characters"
        )
    return check_path_segment(name, value)


def owner_party(
    request: Request, country_code: str, party_id: str, roles: tuple[str, ...]
) -> PartyRef:
    """The party of a client-owned object's URL (2.2.1 transport_and_format, Client Owned Object
    Push). It must be one of the caller's own parties with one of `roles` — a URL party that
    matches none of the caller's roles MAY be answered 404 — and equal the FROM header."""
    check_id_length("country_code", country_code, 2)
    check_id_length("party_id", party_id, 3)
    party = PartyRef.of(country_code, party_id)
    caller = caller_of(request)
    if party not in caller.parties(*roles):
        raise NotFoundError(
            f"{party} is not a {'/'.join(roles)} party of the calling platform",
            ocpi_status=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
        )
    context = context_of(request)
    if context.from_party is not None and context.from_party != party:
        raise InvalidParametersError(
            f"OCPI-from-country-code/OCPI-from-party-id: {context.from_party} differs from the "
            f"URL's {party}"
        )
    return party


class ClientOwnedObjectMixin:
    """Views of one client-owned object at `/{country_code}/{party_id}/{id}[/{id}...]` (2.2.1
    transport_and_format, Client Owned Object Push): the URL party is checked by `owner_party`
    for `owner_roles`, each id of `id_kwargs` (outermost first; a deeper one may be absent) is
    a CiString(36), and `object_path` is the URL tail a routed request is forwarded with."""

    owner_roles: ClassVar[tuple[str, ...]] = ()
    id_kwargs: ClassVar[tuple[str, ...]] = ()
    kwargs: dict[str, Any]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        # The owner check runs for every method before any handler, so no handler can forward
        # (or read the hub's copy) first: a CPO's GET with TO = an eMSP once reached the
        # eMSP with another CPO's URL party.
        super().initial(request, *args, **kwargs)  # type: ignore[misc]
        self.owned_party(request, self.kwargs)
        mark_access_checked(request)

    def owned_party(self, request: Request, kwargs: dict[str, Any]) -> PartyRef:
        party = owner_party(request, kwargs["country_code"], kwargs["party_id"], self.owner_roles)
        for name in self.id_kwargs:
            if kwargs.get(name) is not None:
                check_id_length(name, kwargs[name], 36)
        return party

    def object_path(self, kwargs: dict[str, Any]) -> tuple[str, ...]:
        """The URL's segments below the module: the party, then each id present."""
        names = ("country_code", "party_id", *self.id_kwargs)
        return tuple(str(kwargs[n]) for n in names if kwargs.get(n) is not None)


def check_body_identity(
    body: Any, party: PartyRef | None, id_field: str | None, url_id: str | None
) -> None:
    """The object's own country_code/party_id and id must equal the URL's (2001 otherwise).

    Case-insensitive (CiString); absent fields are fine here (PATCH), required ones are the
    serializer's business.
    """
    if not isinstance(body, dict):
        return
    if party is not None:
        for field, expected in (("country_code", party.country_code), ("party_id", party.party_id)):
            value = body.get(field)
            if isinstance(value, str) and value.upper() != expected:
                raise InvalidParametersError(f"{field}: {value} differs from the URL's {expected}")
    if id_field and url_id is not None:
        value = body.get(id_field)
        if isinstance(value, str) and value.upper() != url_id.upper():
            raise InvalidParametersError(f"{id_field}: {value} differs from the URL's {url_id}")
