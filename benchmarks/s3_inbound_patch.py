"""S3 (DESIGN §9): an inbound EVSE status PATCH through the hub (auth, routing headers,
validation, upsert, parent bump, outbox rows for the receivers) against a plain Django view
doing one UPDATE — requests per second, measured A B A B in one run (median of --rounds).

    .venv/bin/python benchmarks/s3_inbound_patch.py --requests 300 --receivers 2

Runs in-process through Django's test client (both sides pay the same middleware), on a
scratch test database (SQLite unless DATABASE_URL is set). Nothing is asserted.
"""

import argparse
import base64
import os
import statistics
import sys
import time
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
from django.test.utils import setup_test_environment
from django.urls import include, path


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
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--receivers", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        with override_settings(ROOT_URLCONF=__name__):
            run(args)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


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

    def rate(fn) -> float:
        started = time.perf_counter()
        for _ in range(args.requests):
            fn()
        return args.requests / (time.perf_counter() - started)

    hub_rates, plain_rates = [], []
    for _ in range(args.rounds):
        hub_rates.append(rate(hub_patch))
        plain_rates.append(rate(plain))
    hub_rate, plain_rate = statistics.median(hub_rates), statistics.median(plain_rates)
    print(
        f"S3 inbound EVSE PATCH, {connection.vendor}, {args.receivers} receivers, "
        f"{args.requests} requests x {args.rounds} rounds (median)"
    )
    print(f"  hub PATCH : {hub_rate:8.0f} req/s")
    print(f"  plain view: {plain_rate:8.0f} req/s")
    print(f"  ratio hub/plain: {hub_rate / plain_rate:.2f}  (goal >= 0.5)")
    pending = PushDelivery.objects.filter(status="PENDING").count()
    print(f"  pending deliveries after the run: {pending} (folded: one per receiver)")


if __name__ == "__main__":
    main()
