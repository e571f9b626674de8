"""Inbound OCPI requests as Prometheus metrics, observed by the exchange middleware for every
response under /ocpi/ (DRF's or not). Scrapes of /metrics and probes of /healthz are not OCPI
requests and are not counted.

Every label is bounded: the module is one of the module table's ids (or `unknown`), the method
one of OCPI's, the OCPI status_code a standard code, a custom range (`19xx`...) or `none`
(a relayed partner answer could carry any integer)."""

from django.http import HttpRequest
from prometheus_client import Counter, Histogram, disable_created_metrics

from hub.modules import ModuleID
from hub.ocpi.status import OcpiStatus

# No `_created` series beside every counter and histogram: they double the series count and
# nothing here reads them (rate() needs only the totals).
disable_created_metrics()

REQUESTS = Counter(
    "ocpi_hub_requests",
    "Inbound OCPI requests by module, method, HTTP status and OCPI status_code.",
    ["module", "method", "http_status", "ocpi_status"],
)
REQUEST_DURATION = Histogram(
    "ocpi_hub_request_duration_seconds",
    "Time the hub took to answer an inbound OCPI request, by module and method.",
    ["module", "method"],
    # OCPI answers range from a stored read (ms) to a routed forward waiting on a partner's
    # timeout (OCPI_HTTP_TIMEOUT_S, 10s+).
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0),
)

_METHODS = frozenset({"GET", "PUT", "PATCH", "POST", "DELETE"})
_MODULES = frozenset(ModuleID.values)
_VERSIONS_PATHS = frozenset({"/ocpi/versions", "/ocpi/2.2.1"})


def module_label(request: HttpRequest) -> str:
    """The module a view announced (`ocpi_module`), else the one the URL names: a request
    refused before any view ran (unknown URL, flood limit) still counts under its module."""
    module = getattr(request, "ocpi_module", "") or _module_of_path(request.path)
    return module if module in _MODULES else "unknown"


def _module_of_path(path: str) -> str:
    if path in _VERSIONS_PATHS:
        return ModuleID.VERSIONS
    # /ocpi/2.2.1/<module> or /ocpi/2.2.1/<cpo|emsp>/<module>/...
    parts = path.split("/")
    if len(parts) > 3 and parts[1:3] == ["ocpi", "2.2.1"]:
        return parts[4] if parts[3] in ("cpo", "emsp") and len(parts) > 4 else parts[3]
    return ""


def ocpi_status_label(code: int | None) -> str:
    if code is None:
        return "none"
    if code in OcpiStatus._value2member_map_:
        return str(code)
    if OcpiStatus.is_valid(code):
        return f"{code // 100}xx"
    return "other"


def observe_request(
    request: HttpRequest, *, http_status: int, ocpi_status: int | None, duration_s: float
) -> None:
    """Count one answered OCPI request and its latency."""
    module = module_label(request)
    method = request.method if request.method in _METHODS else "other"
    REQUESTS.labels(module, method, str(http_status), ocpi_status_label(ocpi_status)).inc()
    REQUEST_DURATION.labels(module, method).observe(duration_s)
