"""S3 (DESIGN §9): an inbound EVSE status PATCH through the hub (auth, routing headers,
validation, upsert, parent bump, outbox rows for the receivers) against a plain Django view
doing one UPDATE — requests per second, measured A B A B in one run (median of --pairs).

    .venv/bin/python -m benchmarks.s3_inbound_patch --requests 300 --receivers 10

Runs in-process through Django's test client (both sides pay the same middleware), on a
scratch test database (SQLite unless DATABASE_URL is set). Nothing is asserted.
"""

import argparse
import base64
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.setdefault("OCPI_LOG_EXCHANGES", "false")

import django

django.setup()

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.test import Client, override_settings
from django.urls import include, path

from benchmarks.harness import (
    Goal,
    alternate,
    rate,
    result,
    scenario_args,
    scratch_database,
    write_results,
)


def plain_update(request: HttpRequest) -> HttpResponse:
    """The baseline: one UPDATE of the EVSE's status, no validation, no outbox."""
    from hub.models import Evse

    Evse.objects.filter(uid="EVSE1").update(status="CHARGING")
    return HttpResponse("{}", content_type="application/json")


urlpatterns = [
    path("plain/evse", plain_update),
    path("", include("hub.urls")),
]


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--receivers", type=int, default=10)
    args = parser.parse_args()
    if args.quick:
        args.requests = 40

    with scratch_database("s3"), override_settings(ROOT_URLCONF=__name__):
        run(args)


def run(args: argparse.Namespace) -> None:
    from hub.models import PushDelivery
    from tests.factories import PlatformEndpointFactory, registered_party
    from tests.integration.test_location_broadcast import location

    _, token = registered_party("CPO", "NL", "CP1")
    for i in range(args.receivers):
        platform, _ = registered_party("EMSP", "DE", f"M{i:02d}")
        PlatformEndpointFactory(platform=platform, identifier="locations", role="RECEIVER")
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    client = Client()
    url = "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"
    assert (
        client.put(url, location(), content_type="application/json", headers=auth).status_code
        == 201
    )

    counter = iter(range(10**9))

    def hub_patch() -> None:
        second = next(counter)
        moment = datetime(2024, 6, 1, tzinfo=UTC) + timedelta(seconds=second)
        stamp = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
        body = {"status": "CHARGING" if second % 2 else "AVAILABLE", "last_updated": stamp}
        response = client.patch(url + "/EVSE1", body, content_type="application/json", headers=auth)
        assert response.status_code == 200, response.content

    def plain() -> None:
        response = client.post("/plain/evse", headers=auth)
        assert response.status_code == 200

    def hub_run() -> int:
        for _ in range(args.requests):
            hub_patch()
        return args.requests

    def plain_run() -> int:
        for _ in range(args.requests):
            plain()
        return args.requests

    measured = alternate(lambda: rate(hub_run), lambda: rate(plain_run), args.pairs)
    pending = PushDelivery.objects.filter(status="PENDING").count()
    print(
        f"S3 inbound EVSE PATCH, {connection.vendor}, {args.receivers} receivers, "
        f"{args.requests} requests per measurement; pending deliveries after the run: "
        f"{pending} (folded: one per receiver)"
    )
    write_results(
        args.json,
        [
            result(
                "S3 inbound EVSE PATCH",
                measured,
                "req/s",
                goal=Goal(">=", 0.5),
                baseline_name="plain one-UPDATE view",
                receivers=args.receivers,
                database=connection.vendor,
            )
        ],
    )


if __name__ == "__main__":
    main()
