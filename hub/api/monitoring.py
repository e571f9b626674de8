"""`/healthz` and `/metrics`: operations endpoints, not OCPI ones (docs/monitoring.md).

Neither is under /ocpi/: no envelope, no exchange-log entry, not counted as an OCPI request.
Both answer plain responses of their own, so even with DEBUG on a refusal is never Django's
debug page, and neither names a URL, a host or an error."""

import hmac
import json
import os
from collections.abc import Iterator

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from hub.services.monitoring.collector import HubStateCollector
from hub.services.monitoring.health import health_report


@never_cache
@require_safe
def healthz(request: HttpRequest) -> HttpResponse:
    """200 when the database, the broker, beat and a worker on every queue are up; 503
    naming what is not. Each check is bounded in time (HUB_HEALTH_TIMEOUT_S)."""
    report = health_report()
    body: dict[str, object] = {
        "status": "up" if report.up else "down",
        "checks": report.checks,
        "queues": report.queues,
    }
    if report.up:
        return HttpResponse(json.dumps(body), content_type="application/json")
    body["down"] = report.down
    response = HttpResponse(json.dumps(body), status=503, content_type="application/json")
    # A 503 here is the probe's answer, not a failure of the request: Django would log every
    # one as an error (django.request), once per probe. What failed is logged by the checks.
    response._has_been_logged = True  # type: ignore[attr-defined]
    return response


class _ThisProcess(Collector):
    """This process's own metrics (the OCPI request counters and histograms, the process
    collector) for a registry built per scrape."""

    def collect(self) -> Iterator[Metric]:
        yield from REGISTRY.collect()


def _scrape_registry() -> CollectorRegistry:
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Several web processes (gunicorn workers): the request metrics of all of them, from
        # the files each writes in that folder (prometheus-client's multiprocess mode).
        MultiProcessCollector(registry)
    else:
        registry.register(_ThisProcess())
    registry.register(HubStateCollector())
    return registry


def _authorized(request: HttpRequest) -> bool:
    token = settings.HUB_METRICS_TOKEN
    if not token:
        return True
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip(), token)


@never_cache
@require_safe
def metrics(request: HttpRequest) -> HttpResponse:
    """The Prometheus text exposition; with HUB_METRICS_TOKEN set, only for
    `Authorization: Bearer <that token>`."""
    if not settings.HUB_METRICS_ENABLED:
        return HttpResponse("not found\n", status=404, content_type="text/plain")
    if not _authorized(request):
        response = HttpResponse("unauthorized\n", status=401, content_type="text/plain")
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_scrape_registry()), content_type=CONTENT_TYPE_LATEST)
