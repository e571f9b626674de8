"""Django-level error views: under /ocpi/ even a URL that matches no route, or a crash outside
DRF, is answered with an OCPI envelope."""

import json

from django.http import HttpRequest, HttpResponse
from django.views import defaults

from hub.ocpi.envelope import ocpi_envelope
from hub.ocpi.status import OcpiStatus


def envelope_response(status: int, ocpi_status: int, message: str) -> HttpResponse:
    """An OCPI error envelope as a plain Django response (outside DRF)."""
    body = json.dumps(ocpi_envelope(status=ocpi_status, message=message))
    return HttpResponse(body, status=status, content_type="application/json")


def not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/ocpi/"):
        return envelope_response(
            404, OcpiStatus.CLIENT_ERROR, f"No OCPI endpoint at {request.path}"
        )
    return defaults.page_not_found(request, exception)  # type: ignore[arg-type]


def server_error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/ocpi/"):
        return envelope_response(500, OcpiStatus.SERVER_ERROR, "Internal server error")
    return defaults.server_error(request)


def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if request.path.startswith("/ocpi/"):
        return envelope_response(400, OcpiStatus.CLIENT_ERROR, "Bad request")
    return defaults.bad_request(request, exception)  # type: ignore[arg-type]
