"""The baseline of S1's throughput: a bare Django view forwarding each request to the stub with
one shared httpx.Client — what a forward costs with no OCPI work at all (no authentication,
routing, validation, exchange log, metrics or middleware).

Served by gunicorn with the hub's own configuration (`settings/gunicorn.py`, same workers and
threads), as `gunicorn --config python:settings.gunicorn benchmarks.bare_forward:application`
with BARE_FORWARD_TO=<stub base URL>; the request's path and query go to the stub unchanged.
"""

import os

import httpx  # noqa: TID251 - the baseline forwards with httpx by definition
from django.conf import settings

settings.configure(
    DEBUG=False,
    SECRET_KEY="bench-bare-forward",  # noqa: S106 - a benchmark baseline, no secrets here
    ALLOWED_HOSTS=["*"],
    ROOT_URLCONF=__name__,
    MIDDLEWARE=[],
    INSTALLED_APPS=[],
    USE_TZ=True,
)

import django

django.setup()

from django.core.wsgi import get_wsgi_application
from django.http import HttpRequest, HttpResponse
from django.urls import re_path

# The headers a forward carries (what the hub passes on too).
FORWARDED = (
    "Authorization",
    "Content-Type",
    "X-Request-ID",
    "X-Correlation-ID",
    "OCPI-from-country-code",
    "OCPI-from-party-id",
    "OCPI-to-country-code",
    "OCPI-to-party-id",
)
CLIENT = httpx.Client(base_url=os.environ.get("BARE_FORWARD_TO", "http://127.0.0.1:9"), timeout=10)


def forward(request: HttpRequest, rest: str) -> HttpResponse:
    headers = {name: request.headers[name] for name in FORWARDED if name in request.headers}
    answer = CLIENT.request(
        request.method or "GET",
        "/" + rest,
        params=request.GET.urlencode() or None,
        content=request.body or None,
        headers=headers,
    )
    return HttpResponse(
        answer.content,
        status=answer.status_code,
        content_type=answer.headers.get("content-type", "application/json"),
    )


urlpatterns = [re_path(r"^(?P<rest>.*)$", forward)]
application = get_wsgi_application()
