"""S4 (DESIGN §9): GET all locations via the hub, 100k stored — does a deep page cost what the
first does? Objects per second, measured A B A B in one run (median of --pairs).

    .venv/bin/python -m benchmarks.s4_get_all_pages --locations 100000

For each page size (the hub's default for partners, OCPI_DEFAULT_LIMIT, and its maximum,
OCPI_MAX_LIMIT) it compares the middle and the last page, each reached the way a client
following `Link` reaches it (offset + the keyset `cursor` the previous page's Link carries),
with the first page; and the first page with a raw SQL read of the same rows (the `data`
column of the same published locations in the same order, decoded by psycopg: what the hub
must at least do, without auth, the count, the envelope or the JSON rendering).

Runs in-process through Django's test client, on a scratch test database (PostgreSQL when
DATABASE_URL is set, seeded with one INSERT … SELECT generate_series; SQLite otherwise,
seeded with bulk_create). Nothing is asserted.
"""

import argparse
import base64
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.setdefault("OCPI_LOG_EXCHANGES", "false")

import django

django.setup()

from django.conf import settings
from django.db import connection
from django.test import Client

from benchmarks.harness import (
    Goal,
    Result,
    alternate,
    rate,
    result,
    scenario_args,
    scratch_database,
    write_results,
)

URL = "/ocpi/2.2.1/emsp/locations"
BASE = datetime(2024, 1, 1, tzinfo=UTC)


def template() -> dict[str, Any]:
    """A realistic stored location: one EVSE with one connector (as the tests push them)."""
    from tests.integration.test_location_broadcast import location

    return location("LOC", "2024-01-01T00:00:00Z")


def seed(count: int) -> None:
    """`count` published locations of one CPO, one second apart in last_updated."""
    if connection.vendor == "postgresql":
        _seed_sql(count)
    else:
        _seed_orm(count)


def _seed_sql(count: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO hub_location (country_code, party_id, location_id, publish, name, city,
                country, data, last_updated, created_at, updated_at)
            SELECT 'NL', 'CP1', 'LOC' || i, true, 'Stationsplein', 'Utrecht', 'NLD',
                jsonb_set(jsonb_set(%s::jsonb, '{id}', to_jsonb('LOC' || i)),
                    '{last_updated}',
                    to_jsonb(to_char((%s::timestamptz + make_interval(secs => i))
                        AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))),
                %s::timestamptz + make_interval(secs => i), now(), now()
            FROM generate_series(0, %s - 1) AS i
            """,
            [json.dumps(template()), BASE, BASE, count],
        )
        cursor.execute("ANALYZE hub_location")


def _seed_orm(count: int) -> None:
    from hub.models import Location

    doc = template()
    batch: list[Location] = []
    for i in range(count):
        stamp = BASE + timedelta(seconds=i)
        data = {**doc, "id": f"LOC{i}", "last_updated": stamp.strftime("%Y-%m-%dT%H:%M:%SZ")}
        batch.append(
            Location(
                country_code="NL",
                party_id="CP1",
                location_id=f"LOC{i}",
                data=data,
                last_updated=stamp,
                city="Utrecht",
                country="NLD",
            )
        )
        if len(batch) == 5000:
            Location.objects.bulk_create(batch)
            batch = []
    Location.objects.bulk_create(batch)


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--locations", type=int, default=100_000)
    parser.add_argument("--objects", type=int, default=3000, help="objects per measurement")
    args = parser.parse_args()
    if args.quick:
        args.locations, args.objects = 5_000, 1000

    with scratch_database("s4"):
        run(args)


def run(args: argparse.Namespace) -> None:
    from tests.factories import registered_party

    started = time.perf_counter()
    seed(args.locations)
    seeded = time.perf_counter() - started
    print(f"S4 seeded {args.locations} locations in {seeded:.1f} s ({connection.vendor})")
    _, token = registered_party("EMSP", "DE", "MSP")
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    client = Client()

    results: list[Result] = []
    for name, setting in (("default", "OCPI_DEFAULT_LIMIT"), ("max", "OCPI_MAX_LIMIT")):
        limit = getattr(settings, setting)
        results += measure(args, client, auth, f"{name} {limit}", setting, limit, seeded)
    write_results(args.json, results)


def measure(
    args: argparse.Namespace,
    client: Client,
    auth: dict[str, str],
    label: str,
    setting: str,
    limit: int,
    seeded: float,
) -> list[Result]:
    pages = -(-args.locations // limit)

    def get(url: str, params: dict[str, Any] | None = None) -> Any:
        response = client.get(url, params, headers=auth)
        assert response.status_code == 200, response.content
        return response

    def link_to(page: int) -> str:
        """The URL of page `page` (0-based) as the previous page's Link gives it: that page is
        fetched once here by plain offset (a client walking the pages gets the same Link)."""
        previous = get(URL, {"offset": (page - 1) * limit, "limit": limit})
        link = previous.headers["Link"]
        url = link[link.index("/ocpi/") : link.index(">")]
        assert "cursor=" in url, url
        assert f"offset={page * limit}" in url, url
        return url

    middle_url, last_url = link_to(pages // 2), link_to(pages - 1)
    expected_last = args.locations - (pages - 1) * limit

    # Each measurement reads about --objects objects: one request alone is too
    # short to time steadily at the small page size.
    repeat = max(1, args.objects // limit)

    def page_of(url: str | None, expected: int) -> Callable[[], int]:
        def fetch() -> int:
            for _ in range(repeat):
                data = get(url or URL, None if url else {"limit": limit}).json()["data"]
                assert len(data) == expected, (len(data), expected)
            return expected * repeat

        return fetch

    first = page_of(None, limit)
    middle = page_of(middle_url, limit)
    last = page_of(last_url, expected_last)

    def raw_sql() -> int:
        for _ in range(repeat):
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT data FROM hub_location WHERE publish ORDER BY last_updated, id "
                    "LIMIT %s",
                    [limit],
                )
                rows = cursor.fetchall()
            if connection.vendor != "postgresql":  # SQLite hands back text
                rows = [json.loads(r[0]) for r in rows]
        return len(rows) * repeat

    common = {
        "locations": args.locations,
        "page_size": limit,
        "page_size_setting": setting,
        "seed_s": round(seeded, 1),
        "database": connection.vendor,
    }
    print(
        f"S4 page size {label}: {pages} pages, {repeat} requests per measurement; "
        "measuring middle, last vs first, first vs raw SQL"
    )
    out = []
    for what, fn, goal in (
        (f"middle (page {pages // 2 + 1})", middle, Goal(">=", 0.9)),
        (f"last (page {pages})", last, Goal(">=", 0.9)),
    ):
        measured = alternate(lambda fn=fn: rate(fn), lambda: rate(first), args.pairs)
        out.append(
            result(
                f"S4 {what.split()[0]} page vs first, {label}",
                measured,
                "objects/s",
                goal=goal,
                baseline_name="first page",
                page=what,
                **common,
            )
        )
    measured = alternate(lambda: rate(first), lambda: rate(raw_sql), args.pairs)
    out.append(
        result(
            f"S4 first page vs raw SQL, {label}",
            measured,
            "objects/s",
            baseline_name="raw SQL read",
            **common,
        )
    )
    return out


if __name__ == "__main__":
    main()
