"""Message routing headers and unique message ids (2.2.1 transport_and_format).

The request context is parsed once per request and put on `request.ocpi`; every outbound call
gets a new X-Request-ID and keeps the caller's X-Correlation-ID (transport_and_format, Unique
message IDs: a hub generates a new request id per hop).
"""

import re
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.http import HttpRequest

from hub.ocpi.exceptions import InvalidParametersError

if TYPE_CHECKING:
    from collections.abc import Mapping

    from rest_framework.request import Request

# CiString: printable ASCII; country codes are 2 characters, party ids 3.
_COUNTRY_RE = re.compile(r"^[A-Za-z]{2}$")
_PARTY_RE = re.compile(r"^[A-Za-z0-9]{3}$")
# X-Request-ID / X-Correlation-ID: any printable ASCII, bounded so logs stay sane.
_MESSAGE_ID_RE = re.compile(r"^[\x21-\x7e]{1,255}$")

FROM_COUNTRY = "OCPI-from-country-code"
FROM_PARTY = "OCPI-from-party-id"
TO_COUNTRY = "OCPI-to-country-code"
TO_PARTY = "OCPI-to-party-id"
REQUEST_ID = "X-Request-ID"
CORRELATION_ID = "X-Correlation-ID"


@dataclass(frozen=True, order=True)
class PartyRef:
    """A party address (country_code, party_id), upper-cased: CiStrings compare
    case-insensitively."""

    country_code: str
    party_id: str

    @classmethod
    def of(cls, country_code: str, party_id: str) -> "PartyRef":
        return cls(country_code.upper(), party_id.upper())

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id}"


def hub_party() -> PartyRef:
    """The hub's own address, from settings."""
    return PartyRef.of(settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID)


@dataclass(frozen=True)
class OcpiRequestContext:
    """The ids and routing headers of one inbound request."""

    request_id: str
    correlation_id: str
    from_party: PartyRef | None = None
    to_party: PartyRef | None = None

    @property
    def to_hub(self) -> bool:
        return self.to_party is not None and self.to_party == hub_party()


def new_message_id() -> str:
    """A fresh X-Request-ID / X-Correlation-ID (a UUID, as the spec advises)."""
    return str(uuid.uuid4())


def message_ids(request: HttpRequest) -> tuple[str, str]:
    """The request's X-Request-ID and X-Correlation-ID, generated when absent or unusable.

    A partner that sends none still gets ids echoed, so both sides can find the exchange.
    """
    request_id = request.headers.get(REQUEST_ID, "").strip()
    correlation_id = request.headers.get(CORRELATION_ID, "").strip()
    if not _MESSAGE_ID_RE.match(request_id):
        request_id = new_message_id()
    if not _MESSAGE_ID_RE.match(correlation_id):
        correlation_id = new_message_id()
    return request_id, correlation_id


def _party_from_headers(
    headers: "Mapping[str, str]", country_header: str, party_header: str
) -> PartyRef | None:
    country = headers.get(country_header, "").strip()
    party = headers.get(party_header, "").strip()
    if not country and not party:
        return None
    if not country or not party:
        missing = country_header if not country else party_header
        raise InvalidParametersError(
            f"{missing}: required together with {party_header if not country else country_header}"
        )
    if not _COUNTRY_RE.match(country):
        raise InvalidParametersError(f"{country_header}: must be a 2-letter country code")
    if not _PARTY_RE.match(party):
        raise InvalidParametersError(f"{party_header}: must be a 3-character party id")
    return PartyRef.of(country, party)


def parse_routing_headers(request: HttpRequest) -> OcpiRequestContext:
    """Read the ids and the OCPI-from/to headers of `request` (raises 2001 when malformed).

    The ids are the ones the exchange middleware assigned, so the echo, the log and any
    forwarded call agree.
    """
    ids = getattr(request, "ocpi_ids", None)
    request_id, correlation_id = ids if ids else message_ids(request)
    return OcpiRequestContext(
        request_id=request_id,
        correlation_id=correlation_id,
        from_party=_party_from_headers(request.headers, FROM_COUNTRY, FROM_PARTY),
        to_party=_party_from_headers(request.headers, TO_COUNTRY, TO_PARTY),
    )


def context_of(request: "HttpRequest | Request") -> OcpiRequestContext:
    """The context `OcpiViewMixin.initial` parsed for this request."""
    django_request = getattr(request, "_request", request)
    context = getattr(django_request, "ocpi_context", None)
    if context is None:
        context = parse_routing_headers(django_request)
    return context


def outbound_headers(
    *,
    correlation_id: str | None = None,
    from_party: PartyRef | None = None,
    to_party: PartyRef | None = None,
) -> dict[str, str]:
    """Headers for a call the hub makes: a new request id, the caller's correlation id (or a
    new one), and routing headers when the call is a functional-module request."""
    headers = {
        REQUEST_ID: new_message_id(),
        CORRELATION_ID: correlation_id or new_message_id(),
    }
    if from_party is not None:
        headers[FROM_COUNTRY] = from_party.country_code
        headers[FROM_PARTY] = from_party.party_id
    if to_party is not None:
        headers[TO_COUNTRY] = to_party.country_code
        headers[TO_PARTY] = to_party.party_id
    return headers
