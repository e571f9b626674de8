"""S4 (DESIGN §9): GET all locations via the hub — does a deep page cost what the first does?

Seeds N locations in a scratch database, then measures, alternating A B A B (median of
--rounds), objects per second for: the first page, the last page reached through the hub's
Link (keyset cursor), the last page by plain `offset`, and a raw SQL read of the same rows.
Prints the ratios; nothing is asserted (timings belong in benchmarks, not in tests).

    .venv/bin/python benchmarks/s4_get_all_pages.py --locations 100000 --limit 1000

Runs on SQLite in a temporary file unless DATABASE_URL is set (use a scratch database: the
script creates and drops its own test database through Django's test runner utilities).
"""

import argparse
import os
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.setdefault("OCPI_LOG_EXCHANGES", "false")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import setup_test_environment  # noqa: E402


def seed(count: int) -> None:
    from hub.models import Location

    base = datetime(2024, 1, 1, tzinfo=UTC)
    batch = []
    for i in range(count):
        stamp = base + timedelta(seconds=i)
        text = stamp.strftime("%Y-%m-%dT%H:%M:%SZ")
        data = {
            "country_code": "NL",
            "party_id": "CPO",
            "id": f"LOC{i}",
            "publish": True,
            "address": f"Street {i}",
            "city": "Utrecht",
            "country": "NLD",
            "coordinates": {"latitude": "52.08944", "longitude": "5.11027"},
            "time_zone": "Europe/Amsterdam",
            "last_updated": text,
        }
        batch.append(
            Location(
                country_code="NL",
                party_id="CPO",
                location_id=f"LOC{i}",
                data=data,
                last_updated=stamp,
            )
        )
        if len(batch) == 5000:
            Location.objects.bulk_create(batch)
            batch = []
    Location.objects.bulk_create(batch)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--locations", type=int, default=20000)
    parser.add_argument("--limit", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()

    setup_test_environment()
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        from django.test import Client

        from tests.factories import registered_party

        seed(args.locations)
        _, token = registered_party("EMSP", "DE", "MSP")
        import base64

        auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
        client = Client()
        url = "/ocpi/2.2.1/emsp/locations"
        last_offset = args.locations - args.limit

        # The cursor of the last page, as a client following Link gets it.
        link_url = None
        response = client.get(
            url, {"offset": last_offset - args.limit, "limit": args.limit}, headers=auth
        )
        link = response.headers["Link"]
        link_url = link[link.index("/ocpi/") : link.index(">")]

        def timed(fn) -> float:
            started = time.perf_counter()
            n = fn()
            return n / (time.perf_counter() - started)

        def first() -> int:
            r = client.get(url, {"limit": args.limit}, headers=auth)
            return len(r.json()["data"])

        def last_by_link() -> int:
            r = client.get(link_url, headers=auth)
            return len(r.json()["data"])

        def last_by_offset() -> int:
            r = client.get(url, {"offset": last_offset, "limit": args.limit}, headers=auth)
            return len(r.json()["data"])

        def raw_sql() -> int:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT data FROM hub_location ORDER BY last_updated, id LIMIT %s OFFSET %s",
                    [args.limit, last_offset],
                )
                return len(cursor.fetchall())

        results: dict[str, list[float]] = {k: [] for k in ("first", "link", "offset", "raw")}
        for _ in range(args.rounds):
            results["first"].append(timed(first))
            results["link"].append(timed(last_by_link))
            results["offset"].append(timed(last_by_offset))
            results["raw"].append(timed(raw_sql))
        med = {k: statistics.median(v) for k, v in results.items()}
        print(
            f"S4 GET all via hub: {args.locations} locations, page size {args.limit}, "
            f"{connection.vendor}, median of {args.rounds}"
        )
        for name, value in med.items():
            print(f"  {name:>7}: {value:12.0f} objects/s")
        ratio = med["link"] / med["first"]
        print(f"  last page (Link cursor) / first page: {ratio:.2f}  (goal >= 0.9)")
        print(f"  last page (plain offset) / first page: {med['offset'] / med['first']:.2f}")
        print(f"  first page / raw SQL read: {med['first'] / med['raw']:.2f}")
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    main()
