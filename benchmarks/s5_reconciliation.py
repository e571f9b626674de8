"""S5 (DESIGN §9): reconciling CDRs against one SQL aggregate over the same rows, on a store of
a month of 1M CDRs — seconds, measured A B A B in one run (median of --pairs), and the memory
the hub's run takes.

    .venv/bin/python -m benchmarks.s5_reconciliation --cdrs 1000000 --emsps 50

The store (benchmarks/s5_seed.py): one CPO's CDRs for March 2026 spread evenly over --emsps
eMSPs, each with its Session and a DELIVERED delivery — a quiet month: reconciliation finds
nothing, but it still checks every CDR (delivery, duplicates, the tariff engine's price, the
session, credits) and writes a report with its totals. The CPO has no cdrs SENDER, so the pull
(network, the CPO's speed) is left out: the run is the store-side reconciliation.

What a pair measures: one eMSP's share of the month (--cdrs / --emsps CDRs, a different eMSP
each pair): `reconcile(cpo=…, emsp=…)` against the SQL aggregate of that report's totals
(count, credits, kWh, cost excl and incl VAT per currency) for the same CPO, eMSP and period.
The CDRs are priced when they are stored, and carry the proofs the hub records as things
happen (delivered, no copy, its Session agreeing: hub.services.reconciliation.facts), all
seeded as ingest and the outbox write them. The totals' GROUP BY counts the CDRs their rows do
not prove clean; for a quiet month there are none, so what a pair measures is that GROUP BY
and the report's write (without the proofs, the SQL pre-filter probes the deliveries, copies
and sessions per CDR: 0.77 s). `--full` adds one timed run of the whole month (not in `make
bench`). The
goal (hub ≤ 3× the SQL) is held by `slowdown` = hub s / SQL s (median of the pairs);
`ratio` is the harness's SQL s / hub s (above 1: hub faster).

Memory: the growth of the process's peak RSS (ru_maxrss) over the first hub run (the
warm-up) — all Python objects, Django's included; the store is written by the server, so its
rows are not counted. Needs PostgreSQL (DATABASE_URL). Nothing is asserted.
"""

import argparse
import os
import resource
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
os.environ.setdefault("OCPI_LOG_EXCHANGES", "false")

import django

django.setup()

from django.db import connection

from benchmarks import s5_seed
from benchmarks.harness import (
    Goal,
    Pairs,
    alternate,
    result,
    scenario_args,
    scratch_database,
    write_results,
)


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--cdrs", type=int, default=1_000_000)
    parser.add_argument("--emsps", type=int, default=50)
    parser.add_argument("--full", action="store_true", help="also reconcile the whole month once")
    args = parser.parse_args()
    if args.quick:
        args.cdrs, args.emsps = 20_000, 10
    if connection.vendor != "postgresql":
        sys.exit("S5 seeds with PostgreSQL's generate_series: set DATABASE_URL to PostgreSQL")

    with scratch_database("s5"):
        run(args)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


AGGREGATE = """
    SELECT currency,
        count(*) FILTER (WHERE NOT credit), count(*) FILTER (WHERE credit),
        sum(total_energy) FILTER (WHERE NOT credit),
        sum(total_cost_excl_vat), sum(total_cost_incl_vat),
        count(*) FILTER (WHERE total_cost_incl_vat IS NULL)
    FROM hub_cdr
    WHERE country_code = %s AND party_id = %s AND end_date_time >= %s AND end_date_time < %s
        AND token_country_code = %s AND token_party_id = %s
    GROUP BY 1
"""
FULL_AGGREGATE = """
    SELECT token_country_code, token_party_id, currency, count(*), sum(total_cost_excl_vat)
    FROM hub_cdr
    WHERE country_code = %s AND party_id = %s AND end_date_time >= %s AND end_date_time < %s
    GROUP BY 1, 2, 3
"""


def run(args: argparse.Namespace) -> None:
    from hub.ocpi.routing import PartyRef
    from hub.services.reconciliation import report as reconciliation
    from hub.services.reconciliation.pull import period_bounds

    if args.emsps < args.pairs + 1:
        sys.exit(f"--emsps must be at least --pairs + 1 ({args.pairs + 1}): one eMSP a pair")
    started = time.perf_counter()
    platforms = s5_seed.seed_parties(args.emsps)
    s5_seed.seed_rows(args.cdrs, platforms)
    seeded = time.perf_counter() - started
    share = args.cdrs // args.emsps
    print(
        f"S5 seeded {args.cdrs} CDRs (+ sessions, deliveries) for {args.emsps} eMSPs in "
        f"{seeded:.1f} s; each pair reconciles one eMSP's {share} CDRs",
        flush=True,
    )
    cpo = PartyRef.of(*s5_seed.CPO)
    bounds = period_bounds(s5_seed.PERIOD_START, s5_seed.PERIOD_END)
    turn = {"emsp": 0}
    seen: dict[str, list[int]] = {"cdrs": [], "findings": [], "sql_cdrs": []}

    def hub() -> float:
        emsp = PartyRef.of(*s5_seed.emsp_party(turn["emsp"]))
        t0 = time.perf_counter()
        reports = reconciliation.reconcile(
            period_start=s5_seed.PERIOD_START, period_end=s5_seed.PERIOD_END, cpo=cpo, emsp=emsp
        )
        elapsed = time.perf_counter() - t0
        seen["cdrs"].append(sum(r.totals["cdrs"] for r in reports))
        seen["findings"].append(sum(sum(r.counts.values()) for r in reports))
        print(f"  hub reconcile {emsp}: {elapsed:.2f} s", flush=True)
        return elapsed

    def sql() -> float:
        emsp = s5_seed.emsp_party(turn["emsp"])
        turn["emsp"] += 1  # the next pair takes the next eMSP
        t0 = time.perf_counter()
        with connection.cursor() as cursor:
            cursor.execute(AGGREGATE, [*s5_seed.CPO, *bounds, *emsp])
            rows = cursor.fetchall()
        elapsed = time.perf_counter() - t0
        seen["sql_cdrs"].append(sum(r[1] for r in rows))
        print(f"  SQL aggregate: {elapsed:.3f} s", flush=True)
        return elapsed

    rss_before = peak_rss_mb()
    warm_hub = hub()
    rss_growth = peak_rss_mb() - rss_before
    sql()
    print(
        f"S5 warm-up: {seen['cdrs'][0]} CDRs reconciled, {seen['findings'][0]} findings; "
        f"peak RSS grew {rss_growth:.0f} MB",
        flush=True,
    )
    measured: Pairs = alternate(hub, sql, args.pairs, warmup=False)
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(FULL_AGGREGATE, [*s5_seed.CPO, *bounds])
        cursor.fetchall()
    sql_full = time.perf_counter() - t0
    extra: dict[str, object] = {}
    if args.full:
        print(f"S5 reconciling the whole month ({args.cdrs} CDRs) once …", flush=True)
        rss_before = peak_rss_mb()
        t0 = time.perf_counter()
        reconciliation.reconcile(
            period_start=s5_seed.PERIOD_START, period_end=s5_seed.PERIOD_END, cpo=cpo
        )
        extra["full_hub_s"] = round(time.perf_counter() - t0, 1)
        extra["full_peak_rss_growth_mb"] = round(peak_rss_mb() - rss_before)
        print(f"  whole month: {extra['full_hub_s']} s", flush=True)
    slowdown = sorted(h / b for h, b in zip(measured.hub, measured.baseline, strict=True))
    hub_median = sorted(measured.hub)[len(measured.hub) // 2]
    write_results(
        args.json,
        [
            result(
                f"S5 reconcile 1 eMSP's {share} of {args.cdrs} CDRs",
                measured,
                "s",
                goal=Goal("<=", 3, metric="slowdown"),
                higher_is_better=False,
                baseline_name="one SQL aggregate",
                slowdown=round(slowdown[len(slowdown) // 2], 1),
                cdrs_stored=args.cdrs,
                cdrs_per_pair=share,
                cdrs_checked=seen["cdrs"],
                sql_cdrs=seen["sql_cdrs"],
                findings=sum(seen["findings"]),
                hub_ms_per_cdr=round(1000 * hub_median / max(share, 1), 3),
                sql_full_month_s=round(sql_full, 3),
                peak_rss_growth_mb=round(rss_growth),
                memory="growth of peak RSS (ru_maxrss) over the first hub run",
                seed_s=round(seeded, 1),
                warmup_hub_s=round(warm_hub, 2),
                database=connection.vendor,
                **extra,
            )
        ],
    )


if __name__ == "__main__":
    main()
