"""OCPI errors and the one exception handler that turns every error into an envelope.

App code "just raises" (zulip): an `OcpiError` subclass carries its OCPI status, its HTTP status
and a message. The HTTP status table follows 2.2.1 status_codes.asciidoc:

- a body that is not JSON → HTTP 400 (MUST);
- a missing or unknown token → HTTP 401 (transport_and_format, Authorization);
- GET of an object that does not exist → HTTP 404 (SHOULD);
- a request that reached the OCPI layer (valid JSON, authenticated, authorized) → no HTTP error:
  HTTP 200 with an OCPI 2xxx/3xxx/4xxx code, e.g. 2001 naming the invalid field;
- the hub's database unreachable (restart, failover) → HTTP 503 with 3000 and `Retry-After`:
  nothing was stored, and the sender should retry, as it would after a 5xx;
- anything unexpected → HTTP 500 with 3000, logged with its stack trace.
"""

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions as drf_exceptions
from rest_framework import status as http
from rest_framework.response import Response

from hub.ocpi.envelope import ocpi_envelope
from hub.ocpi.status import OcpiStatus

logger = logging.getLogger(__name__)


class OcpiError(Exception):
    """An error answered with an OCPI envelope; subclasses fix the status pair."""

    ocpi_status: int = OcpiStatus.CLIENT_ERROR
    http_status: int = http.HTTP_200_OK
    default_message = "Client error"

    def __init__(
        self,
        message: str | None = None,
        *,
        ocpi_status: int | None = None,
        http_status: int | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.message = message or self.default_message
        if ocpi_status is not None:
            self.ocpi_status = ocpi_status
        if http_status is not None:
            self.http_status = http_status
        self.headers = dict(headers or {})
        super().__init__(self.message)


class InvalidParametersError(OcpiError):
    """2001: the request's data (body, URL, headers) is invalid or incomplete."""

    ocpi_status = OcpiStatus.INVALID_OR_MISSING_PARAMETERS
    default_message = "Invalid or missing parameters"


class NotEnoughInformationError(OcpiError):
    """2002: e.g. an authorization without the LocationReferences the eMSP needs."""

    ocpi_status = OcpiStatus.NOT_ENOUGH_INFORMATION
    default_message = "Not enough information"


class UnknownLocationError(OcpiError):
    """2003: a location the hub does not know."""

    ocpi_status = OcpiStatus.UNKNOWN_LOCATION
    default_message = "Unknown location"


class UnknownTokenError(OcpiError):
    """2004 with HTTP 404: the spec asks for both on an unknown token's authorization."""

    ocpi_status = OcpiStatus.UNKNOWN_TOKEN
    http_status = http.HTTP_404_NOT_FOUND
    default_message = "Unknown token"


class InvalidJsonError(OcpiError):
    """The body is not JSON: the transport layer answers HTTP 400 (MUST)."""

    http_status = http.HTTP_400_BAD_REQUEST
    default_message = "Request body is not valid JSON"


class NotAuthenticatedError(OcpiError):
    """No usable credentials token: HTTP 401 (transport_and_format, Authorization)."""

    http_status = http.HTTP_401_UNAUTHORIZED
    default_message = "Missing or unknown credentials token"


class NotFoundError(OcpiError):
    """GET of an object that does not exist: HTTP 404 (status_codes, SHOULD)."""

    http_status = http.HTTP_404_NOT_FOUND
    default_message = "Not found"


class MethodNotAllowedError(OcpiError):
    """HTTP 405: credentials state errors (credentials.asciidoc) and unsupported methods."""

    http_status = http.HTTP_405_METHOD_NOT_ALLOWED
    default_message = "Method not allowed"


class BodyTooLargeError(OcpiError):
    """The body exceeds the hub's cap: HTTP 413; nothing of it is read."""

    http_status = http.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_message = "Request body too large"


class ServerError(OcpiError):
    """3000: the hub failed; the cause is logged, not shown."""

    ocpi_status = OcpiStatus.SERVER_ERROR
    http_status = http.HTTP_500_INTERNAL_SERVER_ERROR
    default_message = "Internal server error"


class DatabaseUnavailableError(OcpiError):
    """3000 with HTTP 503: the hub cannot reach its database, so it stored nothing; the sender
    retries (OCPI senders treat 5xx as retryable, `Retry-After` says when)."""

    ocpi_status = OcpiStatus.SERVER_ERROR
    http_status = http.HTTP_503_SERVICE_UNAVAILABLE
    default_message = "The hub is temporarily unavailable; nothing was stored, retry later"
    retry_after_s = 5

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": str(self.retry_after_s)})


class UnableToUseClientApiError(OcpiError):
    """3001: the hub could not use the client's API (registration callbacks failed)."""

    ocpi_status = OcpiStatus.UNABLE_TO_USE_CLIENT_API
    default_message = "Unable to use the client's API"


class UnsupportedVersionError(OcpiError):
    """3002: no mutually supported OCPI version."""

    ocpi_status = OcpiStatus.UNSUPPORTED_VERSION
    default_message = "Unsupported version"


class NoMatchingEndpointsError(OcpiError):
    """3003: the client lacks endpoints the hub requires."""

    ocpi_status = OcpiStatus.NO_MATCHING_ENDPOINTS
    default_message = "No matching endpoints or expected endpoints missing"


class HubError(OcpiError):
    """4000: a generic error the hub hit while routing."""

    ocpi_status = OcpiStatus.HUB_ERROR
    default_message = "Hub error"


class UnknownReceiverError(OcpiError):
    """4001: the TO party is unknown to the hub, or nobody fits an open-routed request."""

    ocpi_status = OcpiStatus.UNKNOWN_RECEIVER
    default_message = "Unknown receiver"


class ForwardTimeoutError(OcpiError):
    """4002: the receiver did not answer a forwarded request in time."""

    ocpi_status = OcpiStatus.TIMEOUT_ON_FORWARDED_REQUEST
    default_message = "Timeout on forwarded request"


class ConnectionProblemError(OcpiError):
    """4003: the receiver is not connected (or could not be reached)."""

    ocpi_status = OcpiStatus.CONNECTION_PROBLEM
    default_message = "Receiver not connected"


def _join_path(prefix: str, key: object) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    if key == "non_field_errors":
        return prefix
    return f"{prefix}.{key}" if prefix else str(key)


def flatten_validation_errors(detail: Any, prefix: str = "") -> list[str]:
    """Turn DRF's nested error detail into `field.path: message` strings."""
    if isinstance(detail, Mapping):
        out: list[str] = []
        for key, value in detail.items():
            out.extend(flatten_validation_errors(value, _join_path(prefix, key)))
        return out
    if isinstance(detail, Sequence) and not isinstance(detail, str):
        items = list(detail)
        if items and all(isinstance(item, str) for item in items):
            text = " ".join(str(item) for item in items)
            return [f"{prefix}: {text}" if prefix else text]
        out = []
        for index, value in enumerate(items):
            if value:  # DRF puts {} for the valid members of a list
                out.extend(flatten_validation_errors(value, _join_path(prefix, index)))
        return out
    text = str(detail)
    return [f"{prefix}: {text}" if prefix else text]


def validation_message(detail: Any) -> str:
    """A one-line message naming every invalid field."""
    return "; ".join(flatten_validation_errors(detail)) or "Invalid or missing parameters"


def as_ocpi_error(exc: BaseException) -> OcpiError | None:
    """Map framework exceptions onto the spec's status table; None for unexpected ones."""
    if isinstance(exc, OcpiError):
        return exc
    if isinstance(exc, RequestDataTooBig):
        return BodyTooLargeError()
    if isinstance(exc, drf_exceptions.ParseError):
        return InvalidJsonError(f"Request body is not valid JSON: {exc.detail}")
    if isinstance(exc, drf_exceptions.UnsupportedMediaType):
        return OcpiError(
            f"Unsupported Content-Type: {exc.detail}; OCPI bodies are application/json",
            http_status=http.HTTP_415_UNSUPPORTED_MEDIA_TYPE,
        )
    if isinstance(exc, drf_exceptions.ValidationError):
        return InvalidParametersError(validation_message(exc.detail))
    if isinstance(exc, drf_exceptions.NotAuthenticated | drf_exceptions.AuthenticationFailed):
        return NotAuthenticatedError(str(exc.detail))
    if isinstance(exc, drf_exceptions.PermissionDenied | PermissionDenied):
        message = str(getattr(exc, "detail", "") or exc) or "Not allowed"
        return NotAuthenticatedError(message)
    if isinstance(exc, Http404 | drf_exceptions.NotFound):
        return NotFoundError(str(exc) or "Not found")
    if isinstance(exc, drf_exceptions.MethodNotAllowed):
        return MethodNotAllowedError(str(exc.detail))
    if isinstance(exc, drf_exceptions.NotAcceptable):
        return OcpiError(str(exc.detail), http_status=http.HTTP_406_NOT_ACCEPTABLE)
    if isinstance(exc, drf_exceptions.Throttled):
        return OcpiError(str(exc.detail), http_status=http.HTTP_429_TOO_MANY_REQUESTS)
    if isinstance(exc, drf_exceptions.APIException):
        return OcpiError(str(exc.detail), http_status=exc.status_code)
    if isinstance(exc, OperationalError | InterfaceError):
        # Logged (operators must see an outage), but the partner gets a retryable answer
        # rather than a bare 500 that reads as a hub bug.
        logger.error("Database unavailable", exc_info=exc)
        return DatabaseUnavailableError()
    return None


def ocpi_error_response(error: OcpiError) -> Response:
    """The enveloped response for an `OcpiError`."""
    headers = dict(error.headers)
    if error.http_status == http.HTTP_401_UNAUTHORIZED:
        headers.setdefault("WWW-Authenticate", "Token")
    return Response(
        ocpi_envelope(status=error.ocpi_status, message=error.message),
        status=error.http_status,
        headers=headers,
    )


def ocpi_exception_handler(exc: Exception, context: Mapping[str, Any]) -> Response:
    """`REST_FRAMEWORK["EXCEPTION_HANDLER"]`: every error becomes an OCPI envelope."""
    error = as_ocpi_error(exc)
    if error is None:
        view = context.get("view")
        logger.error("Unhandled error in %s", type(view).__name__ if view else "view", exc_info=exc)
        error = ServerError()
    return ocpi_error_response(error)
