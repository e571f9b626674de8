"""The S5 store: N CDRs of one CPO for one month, as the hub holds them after a quiet month —
each CDR stored as ingested (the fixture tests/fixtures/ocpi_2_2_1/cdrs/cdr_delivery.json with
its id, session, token and times varied; the tariff engine's verdict as ingest stores it:
`template_verdict`, taken by the hub's own `ingest_verdict` on the first CDR — the fixture's
tariff has no time restrictions, so every shifted copy prices the same), its Session stored,
its delivery to the eMSP DELIVERED, and the Location it names stored. Written with INSERT …
SELECT generate_series (PostgreSQL only): a million rows in seconds, not the minutes model
instances would take."""

import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "fixtures" / "ocpi_2_2_1" / "cdrs" / "cdr_delivery.json"
CPO = ("NL", "CP1")
PERIOD_START = date(2026, 3, 1)
PERIOD_END = date(2026, 4, 1)
# CDR i starts i * STEP_S seconds into the month: every start (and so every token key) differs.
STEP_S = 2


def emsp_party(index: int) -> tuple[str, str]:
    return ("DE", f"M{index:02d}")


def cdr_template() -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(FIXTURE.read_text())
    return doc


def template_verdict() -> tuple[str, dict[str, Any] | None]:
    """(price_check, computed) that `cdr_ingest` stores for the seeded CDRs: the template moved
    to the month's first start, judged by `ingest_verdict` itself."""
    from decimal import Decimal

    from hub.ocpi.routing import PartyRef
    from hub.services.reconciliation.verdict import ingest_verdict

    doc = cdr_template()
    first = datetime.combine(PERIOD_START, datetime.min.time(), tzinfo=UTC)
    iso = "%Y-%m-%dT%H:%M:%SZ"
    doc.update(
        start_date_time=first.strftime(iso), end_date_time=first.replace(hour=1).strftime(iso)
    )
    doc["charging_periods"][0]["start_date_time"] = first.strftime(iso)
    doc["charging_periods"][1]["start_date_time"] = first.replace(minute=45).strftime(iso)
    total = doc["total_cost"]
    return ingest_verdict(
        PartyRef.of(*CPO), doc, Decimal(str(total["excl_vat"])), Decimal(str(total["incl_vat"]))
    )


def template_proofs() -> str:
    """The `session_agreed` proof `cdr_ingest` stores for the seeded CDRs: the seeded Session
    (10 kWh, 4.25 excl. VAT) judged against the template CDR by the hub's own
    `session_agrees`, under the tolerances in force. The other proofs hold by construction:
    every CDR has its own start and session id (no copy: `no_copy`), and its delivery is
    DELIVERED to its eMSP (`delivered_at`, the delivery's own)."""
    from decimal import Decimal

    from hub.ocpi.routing import PartyRef
    from hub.services.reconciliation.facts import proof_tolerances, session_agrees
    from hub.services.reconciliation.findings import kwh_tolerance_setting, price_tolerance

    doc = cdr_template()
    tolerance, kwh_tolerance = price_tolerance(PartyRef.of(*CPO)), kwh_tolerance_setting()
    session = {"total_cost": {"excl_vat": 4.25, "incl_vat": 5.0575}}
    agreed = session_agrees(
        Decimal("10"),
        session,
        Decimal(str(doc["total_energy"])),
        Decimal(str(doc["total_cost"]["excl_vat"])),
        tolerance=tolerance,
        kwh_tolerance=kwh_tolerance,
    )
    return proof_tolerances(tolerance, kwh_tolerance) if agreed else ""


def seed_parties(emsps: int) -> dict[tuple[str, str], int]:
    """The CPO (no cdrs SENDER: the pull is skipped, only the store is reconciled) and the
    eMSPs; returns the eMSP platform ids."""
    from tests.factories import LocationFactory, registered_party

    registered_party("CPO", *CPO)
    LocationFactory(
        party=CPO,
        location_id="LOC1",
        data={**_location_doc(), "time_zone": "Europe/Amsterdam"},
    )
    platforms = {}
    for i in range(emsps):
        platform, _ = registered_party("EMSP", *emsp_party(i))
        platforms[emsp_party(i)] = platform.pk
    return platforms


def _location_doc() -> dict[str, Any]:
    from tests.integration.test_location_broadcast import location

    return location("LOC1")


def _platform_case(platforms: dict[tuple[str, str], int]) -> tuple[str, list[Any]]:
    """SQL mapping row i to its eMSP's platform id (i % len)."""
    ids = list(platforms.values())
    return "(ARRAY[" + ",".join(["%s"] * len(ids)) + "]::bigint[])[1 + i %% %s]", [
        *ids,
        len(ids),
    ]


TABLES = ("hub_cdr", "hub_session", "hub_pushdelivery")


@contextmanager
def indexes_built_after(tables: tuple[str, ...]) -> Iterator[None]:
    """Drop the tables' secondary indexes (not those of primary keys or constraints) for the
    bulk insert and build them again after it: one sort per index instead of a million
    index insertions, which took most of the seeding (171 s for 1M CDRs on a loaded machine).
    """
    with connection.cursor() as cursor:
        cursor.execute(
            """
            SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
            FROM pg_index i
            WHERE i.indrelid = ANY(%s::regclass[]) AND NOT i.indisprimary
                AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid)
            """,
            [list(tables)],
        )
        indexes = cursor.fetchall()
        for name, _ in indexes:
            cursor.execute(f'DROP INDEX "{name}"')
    yield
    with connection.cursor() as cursor:
        for _, definition in indexes:
            cursor.execute(definition)


def seed_rows(count: int, platforms: dict[tuple[str, str], int]) -> None:
    """CDRs, sessions and DELIVERED deliveries, row i for eMSP i % len(platforms)."""
    with indexes_built_after(TABLES):
        _insert_rows(count, platforms)
    with connection.cursor() as cursor:
        for table in TABLES:
            cursor.execute(f"ANALYZE {table}")


def _insert_rows(count: int, platforms: dict[tuple[str, str], int]) -> None:
    start = datetime.combine(PERIOD_START, datetime.min.time(), tzinfo=UTC)
    n = len(platforms)
    receiver_sql, receiver_params = _platform_case(platforms)
    # Per row: i, its start, its end (1 h later), the eMSP's party id, ids in text.
    series = f"""
        SELECT i,
            %s::timestamptz + make_interval(secs => i * {STEP_S}) AS started,
            %s::timestamptz + make_interval(secs => i * {STEP_S} + 3600) AS ended,
            'M' || lpad((i %% {n})::text, 2, '0') AS emsp,
            'CDR' || i AS cdr_id, 'SES' || i AS session_id, 'U' || (i %% 50000) AS uid,
            {receiver_sql} AS receiver
        FROM generate_series(0, %s - 1) AS i
    """
    series_params = [start, start, *receiver_params, count]
    price_check, computed = template_verdict()
    if not template_proofs():
        raise RuntimeError("the seeded Session would not agree with its CDR: fix the seed")
    stamp = "to_jsonb(to_char(({}) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'))"
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO hub_cdr (country_code, party_id, cdr_id, data, last_updated,
                token_country_code, token_party_id, token_uid, token_type, session_id,
                currency, total_cost_excl_vat, total_cost_incl_vat, total_energy, total_time,
                start_date_time, end_date_time, credit, credit_reference_id, findings,
                token_owner_finding, price_check, computed, correlation_id, received_at,
                delivered_at, no_copy, session_agreed)
            SELECT %s, %s, cdr_id,
                %s::jsonb
                    || jsonb_build_object('id', cdr_id, 'session_id', session_id,
                        'start_date_time', {stamp.format("started")},
                        'end_date_time', {stamp.format("ended")},
                        'last_updated', {stamp.format("ended + interval '5 minutes'")},
                        'cdr_token', jsonb_build_object('country_code', 'DE',
                            'party_id', emsp, 'uid', uid, 'type', 'RFID',
                            'contract_id', 'DE-' || emsp || '-C' || uid),
                        'charging_periods', jsonb_build_array(
                            jsonb_build_object('start_date_time', {stamp.format("started")},
                                'dimensions', %s::jsonb, 'tariff_id', 'T1'),
                            jsonb_build_object('start_date_time',
                                {stamp.format("started + interval '45 minutes'")},
                                'dimensions', %s::jsonb, 'tariff_id', 'T1'))),
                ended + interval '5 minutes',
                'DE', emsp, uid, 'RFID', session_id,
                'EUR', 4.25, 5.0575, 10, 1, started, ended, false, '', '[]'::jsonb, '',
                %s, %s::jsonb, '', ended + interval '6 minutes',
                ended + interval '7 minutes', true, %s
            FROM ({series}) AS s
            """,
            [
                *CPO,
                json.dumps(cdr_template()),
                json.dumps(cdr_template()["charging_periods"][0]["dimensions"]),
                json.dumps(cdr_template()["charging_periods"][1]["dimensions"]),
                price_check,
                json.dumps(computed),
                template_proofs(),
                *series_params,
            ],
        )
        cursor.execute(
            f"""
            INSERT INTO hub_session (country_code, party_id, session_id, data, last_updated,
                status, token_country_code, token_party_id, location_id, kwh,
                start_date_time, end_date_time, token_owner_finding, correlation_id,
                created_at, updated_at)
            SELECT %s, %s, session_id,
                jsonb_build_object('country_code', %s, 'party_id', %s, 'id', session_id,
                    'start_date_time', {stamp.format("started")},
                    'end_date_time', {stamp.format("ended")},
                    'kwh', 10.0,
                    'cdr_token', jsonb_build_object('country_code', 'DE', 'party_id', emsp,
                        'uid', uid, 'type', 'RFID', 'contract_id', 'DE-' || emsp || '-C' || uid),
                    'auth_method', 'AUTH_REQUEST', 'location_id', 'LOC1', 'evse_uid', 'EVSE1',
                    'connector_id', '1', 'currency', 'EUR',
                    'total_cost', jsonb_build_object('excl_vat', 4.25, 'incl_vat', 5.0575),
                    'status', 'COMPLETED',
                    'last_updated', {stamp.format("ended")}),
                ended, 'COMPLETED', 'DE', emsp, 'LOC1', 10, started, ended, '', '',
                ended, ended
            FROM ({series}) AS s
            """,
            [*CPO, *CPO, *series_params],
        )
        cursor.execute(
            f"""
            INSERT INTO hub_pushdelivery (receiver_id, to_country_code, to_party_id,
                from_country_code, from_party_id, module, object_key, operation, patch_fields,
                status, attempts, next_attempt_at, enqueued_at, expires_at, correlation_id,
                last_error, receipt, created_at, updated_at, delivered_at)
            SELECT receiver, 'DE', emsp, %s, %s, 'cdrs', %s || '/' || %s || '/' || cdr_id,
                'POST', '[]'::jsonb, 'DELIVERED', 1, ended + interval '6 minutes',
                ended + interval '6 minutes', ended + interval '2 days', '', '',
                '', ended + interval '6 minutes', ended + interval '7 minutes',
                ended + interval '7 minutes'
            FROM ({series}) AS s
            """,
            [*CPO, *CPO, *series_params],
        )
