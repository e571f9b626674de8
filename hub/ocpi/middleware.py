"""Per-request OCPI plumbing that must cover every response under /ocpi/, DRF's or not:
echoing X-Request-ID / X-Correlation-ID, bounding unauthenticated traffic and recording the
exchange."""

import json
import re
import time
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse

from hub.models import ExchangeDirection
from hub.ocpi import flood
from hub.ocpi.exchange_log import ExchangeRecord, record_exchange, request_scope
from hub.ocpi.metrics import observe_request
from hub.ocpi.routing import CORRELATION_ID, REQUEST_ID, message_ids

OCPI_PATH_PREFIX = "/ocpi/"


_SLASHES = re.compile(r"/{2,}")
# A module URL glued to what follows it: `{endpoint_url}{country_code}/...` joined onto the
# hub's slash-less endpoint URL (`.../cpo/locationsNL/ABC/LOC1`). No hub route has a segment
# that starts with a module name and goes on, so the missing slash is unambiguous.
_GLUED_MODULE = re.compile(
    r"(/ocpi/2\.2\.1/(?:cpo|emsp)/"
    r"(?:cdrs|chargingprofiles|commands|locations|sessions|tariffs|tokens))(?=[^/])"
)


def normalize_ocpi_path(path: str) -> str:
    """One form per OCPI URL: no trailing slash, no doubled slashes, a slash after the module.

    The spec writes some templates without a separator (`{tokens_endpoint_url}{token_uid}`)
    and d2 moved to slash-less endpoint URLs, so partners join `{endpoint}/{id}` and
    `{endpoint}{id}` styles both ways; the latter glues the id to the hub's module name
    (extrawest-ocpi's push does exactly that).
    """
    path = _GLUED_MODULE.sub(r"\1/", _SLASHES.sub("/", path), count=1)
    return path.rstrip("/") if len(path) > len(OCPI_PATH_PREFIX) else path


def _ocpi_status_of(response: HttpResponse) -> tuple[int | None, str]:
    data = getattr(response, "data", None)
    if data is None and response.get("Content-Type", "").startswith("application/json"):
        try:
            data = json.loads(response.content)
        except (ValueError, AttributeError):
            data = None
    if isinstance(data, dict):
        code = data.get("status_code")
        message = data.get("status_message") or ""
        return (code if isinstance(code, int) else None), str(message)
    return None, ""


class OcpiExchangeMiddleware:
    """Assign message ids to every OCPI request, echo them, and log the exchange."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path.startswith(OCPI_PATH_PREFIX):
            return self.get_response(request)
        # The rows of the calls the request makes are stored with its own, in one INSERT.
        with request_scope():
            return self._exchange(request)

    def _exchange(self, request: HttpRequest) -> HttpResponse:
        started = time.perf_counter()
        request.path_info = normalize_ocpi_path(request.path_info)
        request.path = normalize_ocpi_path(request.path)
        request_id, correlation_id = message_ids(request)
        request.ocpi_ids = (request_id, correlation_id)  # type: ignore[attr-defined]
        address = flood.client_address(request)
        window = flood.Window.of(address)
        if flood.over_limit(request, window):
            response: HttpResponse = flood.too_many_requests(window)
        else:
            response = self.get_response(request)
        response[REQUEST_ID] = request_id
        response[CORRELATION_ID] = correlation_id
        ocpi_status, message = _ocpi_status_of(response)
        duration_s = time.perf_counter() - started
        # Every answer is counted, the sampled-out unauthenticated ones too (a flood shows).
        observe_request(
            request,
            http_status=response.status_code,
            ocpi_status=ocpi_status,
            duration_s=duration_s,
        )
        unauthenticated = response.status_code in (401, 429) and not getattr(
            request, "ocpi_platform", None
        )
        # Unauthenticated answers are counted against the address and only sampled into the log.
        if unauthenticated and not flood.should_log(flood.count_failure(window), address):
            return response
        context = getattr(request, "ocpi_context", None)
        record_exchange(
            ExchangeRecord(
                direction=ExchangeDirection.INBOUND,
                method=request.method or "",
                url=f"{settings.OCPI_BASE_URL}{request.get_full_path()}",
                platform=getattr(request, "ocpi_platform", None),
                module=getattr(request, "ocpi_module", ""),
                from_party=str(context.from_party) if context and context.from_party else "",
                to_party=str(context.to_party) if context and context.to_party else "",
                request_id=request_id,
                correlation_id=correlation_id,
                http_status=response.status_code,
                ocpi_status=ocpi_status,
                status_message=message,
                duration_ms=duration_s * 1000,
            )
        )
        return response
