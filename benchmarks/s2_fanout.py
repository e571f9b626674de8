"""S2 (DESIGN §9): EVSE status updates from a CPO broadcast to M eMSP load partners with 50 ms
latency, delivered by the hub's outbox and a real Celery worker, against a plain threaded httpx
loop sending the same PATCHes to the same partners at the same concurrency — deliveries/s.

    .venv/bin/python -m benchmarks.s2_fanout --updates 200 --receivers 10 --latency-ms 50

What is measured, both sides alike: the load partners (`partners.load`, in this process) count
the PATCHes as they arrive; deliveries/s is (arrivals - 1) / (last arrival - first arrival)
over all partners. Each hub measurement:

1. the CPO's `--updates` status PATCHes (one per EVSE, EVSEs interleaved over locations as a
   CPO's real-time feed is) go through the hub's inbound view in-process (Django's test client
   on a scratch PostgreSQL database): validation, upsert and the outbox rows of every receiver
   in one transaction, exactly as S3; no worker runs yet, so nothing is delivered meanwhile;
2. a real worker starts as `make worker` runs it (`celery -A hub worker --pool threads
   --concurrency 8`, the settings' queues) on REDIS_URL, and drains the outbox: claims, sends
   with the hub's client, records attempts, hands out the next. Its start-up is not timed (the
   clock is the first arrival).

The baseline (`--baseline-sender`, a process of its own like the worker, so neither side shares
the partners' process) sends the same updates x receivers PATCHes, same bodies and headers, from
a queue by `--concurrency` threads over one pooled httpx client, as the hub's worker threads do.

Then, without a goal: one receiver slow (`--slow-latency-ms`) while the CPO keeps sending and
the worker drains; how many PATCHes each receiver got against the updates sent shows what the
outbox's folding (one open delivery per receiver and object, a newer update merged into it)
saved. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The baseline is deliberately not the hub's client: a plain httpx loop is what S2 compares to.
import httpx  # noqa: TID251

from benchmarks import payloads
from benchmarks.harness import Goal, Pairs, result, scenario_args, scratch_database, write_results
from partners.load import LoadPartner

CPO = ("NL", "CP1")
START = datetime(2024, 6, 1, tzinfo=UTC)


# --------------------------------------------------------------------------------------------
# The baseline: a plain threaded httpx loop (run as its own process, without Django)
# --------------------------------------------------------------------------------------------


def baseline_send(spec_path: Path) -> None:
    """Send every (url, token, body) of the spec from `concurrency` threads over one client."""
    spec = json.loads(spec_path.read_text())
    jobs: queue.SimpleQueue[tuple[str, str, dict[str, Any]] | None] = queue.SimpleQueue()
    for job in spec["jobs"]:
        jobs.put((job[0], job[1], job[2]))
    threads = spec["concurrency"]
    for _ in range(threads):
        jobs.put(None)
    limits = httpx.Limits(max_connections=threads, max_keepalive_connections=threads)
    failures: list[str] = []
    with httpx.Client(trust_env=False, limits=limits, timeout=10.0) as client:

        def work() -> None:
            while (job := jobs.get()) is not None:
                url, auth, body = job
                headers = {
                    "Authorization": auth,
                    "X-Request-ID": str(uuid.uuid4()),
                    "X-Correlation-ID": str(uuid.uuid4()),
                    "OCPI-from-country-code": CPO[0],
                    "OCPI-from-party-id": CPO[1],
                }
                response = client.patch(url, json=body, headers=headers)
                if response.status_code != 200 or response.json()["status_code"] != 1000:
                    failures.append(f"{url}: {response.status_code}")

        workers = [threading.Thread(target=work) for _ in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
    if failures:
        print(f"baseline: {len(failures)} failed, e.g. {failures[:3]}", file=sys.stderr)
        sys.exit(1)


# --------------------------------------------------------------------------------------------
# The world: a CPO with locations, M eMSP load partners registered with the hub
# --------------------------------------------------------------------------------------------


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
    import django

    django.setup()


@dataclass
class World:
    client: Any  # django.test.Client
    auth: dict[str, str]
    stubs: list[LoadPartner]
    evses: list[tuple[str, str]]  # (location id, EVSE uid), interleaved over locations
    clock: Iterator[int]

    def stamp(self) -> str:
        return (START + timedelta(seconds=next(self.clock))).strftime("%Y-%m-%dT%H:%M:%SZ")


def location_document(location_id: str, evse_uids: list[str], stamp: str) -> dict[str, Any]:
    evses = [(uid, f"NL*CP1*{uid}") for uid in evse_uids]
    return payloads.location(CPO, location_id, stamp, evses, name=f"Station {location_id}")


def build_world(evse_count: int, per_location: int, stubs: list[LoadPartner]) -> World:
    """The CPO PUTs its locations before any eMSP exists (no deliveries yet); then the eMSPs
    are registered with a locations RECEIVER on their load partner and the token it expects
    (the handshake itself is tests/partners/test_load_hub.py's)."""
    from django.test import Client

    from tests.factories import PlatformEndpointFactory, registered_party

    _, token = registered_party("CPO", *CPO, name="S2 CPO")
    auth = {"Authorization": "Token " + base64.b64encode(token.encode()).decode()}
    client = Client()
    world = World(client, auth, stubs, [], iter(range(10**9)))
    locations = -(-evse_count // per_location)
    evses_at: dict[str, list[str]] = {}
    for n in range(evse_count):  # EVSE n is at location n % L: consecutive ones differ
        evses_at.setdefault(f"LOC{n % locations:04d}", []).append(f"EVSE{n:05d}")
    for location_id, uids in evses_at.items():
        response = client.put(
            f"/ocpi/2.2.1/cpo/locations/{CPO[0]}/{CPO[1]}/{location_id}",
            location_document(location_id, uids, world.stamp()),
            content_type="application/json",
            headers=auth,
        )
        assert response.status_code == 201, response.content
    world.evses = [(f"LOC{n % locations:04d}", f"EVSE{n:05d}") for n in range(evse_count)]
    for stub in stubs:
        platform, _ = registered_party(
            "EMSP", *stub.party, name=stub.name, outbound_token=stub.own_token
        )
        PlatformEndpointFactory(
            platform=platform,
            identifier="locations",
            role="RECEIVER",
            url=stub.module_url("locations"),
        )
    return world


def status_body(world: World, n: int) -> dict[str, Any]:
    return {"status": "CHARGING" if n % 2 else "AVAILABLE", "last_updated": world.stamp()}


def cpo_patch(world: World, location_id: str, uid: str, body: dict[str, Any]) -> None:
    response = world.client.patch(
        f"/ocpi/2.2.1/cpo/locations/{CPO[0]}/{CPO[1]}/{location_id}/{uid}",
        body,
        content_type="application/json",
        headers=world.auth,
    )
    assert response.status_code == 200, response.content


# --------------------------------------------------------------------------------------------
# Measuring
# --------------------------------------------------------------------------------------------


@dataclass
class Measured:
    rate: float
    arrived: int
    expected: int
    seconds: float


def arrivals_of(stubs: list[LoadPartner]) -> Measured:
    seen = [s.arrivals() for s in stubs]
    count = sum(a.count for a in seen)
    firsts = [a.first for a in seen if a.first is not None]
    lasts = [a.last for a in seen if a.last is not None]
    span = max(lasts) - min(firsts) if firsts and lasts else 0.0
    return Measured((count - 1) / span if span > 0 else 0.0, count, 0, span)


def wait_arrivals(stubs: list[LoadPartner], expected: int, timeout: float) -> Measured:
    """Until the partners counted `expected` PATCHes (or `timeout`): the figure so far."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and sum(s.arrivals().count for s in stubs) < expected:
        time.sleep(0.05)
    time.sleep(0.2)  # a delivery beyond the expected (a retry) would show now
    measured = arrivals_of(stubs)
    measured.expected = expected
    return measured


def purge_queues() -> None:
    from django.conf import settings

    from hub.celery import app

    with app.connection_for_write() as conn:
        for name in settings.HUB_WORKER_QUEUES:
            conn.default_channel.queue_purge(name)


@contextmanager
def worker(log_dir: Path, concurrency: int) -> Iterator[None]:
    from tests.worker import CeleryWorkerProcess

    process = CeleryWorkerProcess(log_dir, concurrency=concurrency, pool="threads").start()
    try:
        yield
    finally:
        process.stop()


def open_deliveries() -> int:
    from hub.models import DeliveryStatus, PushDelivery

    return PushDelivery.objects.filter(
        status__in=(DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT, DeliveryStatus.HELD)
    ).count()


def delivery_outcomes() -> dict[str, int]:
    from django.db.models import Count

    from hub.models import PushDelivery

    return {
        row["status"]: row["n"]
        for row in PushDelivery.objects.values("status").annotate(n=Count("pk"))
    }


def clear_outbox() -> None:
    from hub.models import PushAttempt, PushDelivery

    PushAttempt.objects.all().delete()
    PushDelivery.objects.all().delete()


def hub_run(
    world: World, updates: int, concurrency: int, log_dir: Path, timeout: float
) -> Measured:
    """Inbound PATCHes first (the outbox fills), then a worker drains it."""
    clear_outbox()
    purge_queues()
    for stub in world.stubs:
        stub.reset_counts()
    started = time.monotonic()
    for n, (location_id, uid) in enumerate(world.evses[:updates]):
        cpo_patch(world, location_id, uid, status_body(world, n))
    inbound = time.monotonic() - started
    with worker(log_dir, concurrency):
        measured = wait_arrivals(world.stubs, updates * len(world.stubs), timeout)
    outcomes = delivery_outcomes()
    print(
        f"  hub: {measured.arrived}/{measured.expected} PATCHes in {measured.seconds:.2f} s "
        f"= {measured.rate:.1f}/s; outbox {outcomes}; (the CPO's {updates} inbound PATCHes "
        f"took {inbound:.1f} s before)",
        flush=True,
    )
    return measured


def baseline_run(
    world: World, updates: int, concurrency: int, work_dir: Path, timeout: float
) -> Measured:
    """The same PATCHes (update-major, receiver-minor: the order the outbox hands them out)
    from a separate process of `concurrency` threads."""
    for stub in world.stubs:
        stub.reset_counts()
    jobs = []
    for n, (location_id, uid) in enumerate(world.evses[:updates]):
        body = status_body(world, n)
        for stub in world.stubs:
            auth = "Token " + base64.b64encode(str(stub.own_token).encode()).decode()
            url = f"{stub.module_url('locations')}/{CPO[0]}/{CPO[1]}/{location_id}/{uid}"
            jobs.append((url, auth, body))
    spec = work_dir / "baseline.json"
    spec.write_text(json.dumps({"concurrency": concurrency, "jobs": jobs}))
    sender = subprocess.run(
        [sys.executable, "-m", "benchmarks.s2_fanout", "--baseline-sender", str(spec)],
        cwd=ROOT,
        timeout=timeout,
        check=False,
    )
    measured = wait_arrivals(world.stubs, len(jobs), 5.0)
    print(
        f"  baseline: {measured.arrived}/{measured.expected} PATCHes in {measured.seconds:.2f} s "
        f"= {measured.rate:.1f}/s (exit {sender.returncode})",
        flush=True,
    )
    return measured


def coalescing_run(
    world: World,
    updates: int,
    evses: int,
    slow: LoadPartner,
    slow_latency_s: float,
    concurrency: int,
    log_dir: Path,
    timeout: float,
) -> dict[str, Any]:
    """One receiver slow; the CPO sends `updates` status changes over `evses` EVSEs (each
    changes updates/evses times) while the worker drains; then every open delivery is let
    finish, and each receiver's PATCHes are counted against the updates sent."""
    clear_outbox()
    purge_queues()
    for stub in world.stubs:
        stub.reset_counts()
    normal = slow.latency_s
    slow.latency_s = slow_latency_s
    started = time.monotonic()
    try:
        with worker(log_dir, concurrency):
            for n in range(updates):
                location_id, uid = world.evses[n % evses]
                cpo_patch(world, location_id, uid, status_body(world, n))
            sent_in = time.monotonic() - started
            deadline = time.monotonic() + timeout
            while open_deliveries() and time.monotonic() < deadline:
                time.sleep(0.2)
            left = open_deliveries()
    finally:
        slow.latency_s = normal
    fast = [s.count("locations", "PATCH") for s in world.stubs if s is not slow]
    got = slow.count("locations", "PATCH")
    return {
        "updates_sent": updates,
        "evses": evses,
        "send_seconds": round(sent_in, 2),
        "slow_latency_ms": round(slow_latency_s * 1000),
        "slow_received": got,
        "slow_saved_share": round(1 - got / updates, 3),
        "fast_received_median": statistics.median(fast) if fast else 0,
        "fast_received_min": min(fast) if fast else 0,
        "left_open": left,
        "outbox": delivery_outcomes(),
    }


# --------------------------------------------------------------------------------------------
# The scenario
# --------------------------------------------------------------------------------------------


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=40, help="EVSE updates per measurement")
    parser.add_argument("--receivers", type=int, default=10)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--concurrency", type=int, default=8, help="as `make worker`")
    parser.add_argument(
        "--evses-per-location",
        type=int,
        default=4,
        help="EVSEs of one location share an ordering group: one in flight per receiver",
    )
    # At 500 ms the slow receiver's in-flight slots (4) take 8 updates/s, more than the CPO's
    # inbound PATCHes reach here while the worker runs: nothing would be left to fold.
    parser.add_argument("--slow-latency-ms", type=float, default=2000.0)
    parser.add_argument("--coalesce-updates", type=int, default=60)
    parser.add_argument("--coalesce-evses", type=int, default=12)
    parser.add_argument(
        "--budget-s",
        type=float,
        default=200.0,
        help="no new pair starts once the next would end past this (the run's time limit)",
    )
    args = parser.parse_args()
    if args.quick:
        args.updates, args.receivers = 12, 4
        args.coalesce_updates, args.coalesce_evses = 30, 6
        args.pairs = 1  # every hub measurement starts a worker (seconds); no warm-up either

    setup_django()
    import logging

    # The CPO's inbound requests would log a line each here; the worker logs to its own file.
    logging.getLogger("hub").setLevel(logging.WARNING)
    with scratch_database("s2"):
        run(args)


def run(args: argparse.Namespace) -> None:
    from django.conf import settings
    from django.db import connection

    latency = args.latency_ms / 1000
    evse_count = max(args.updates, args.coalesce_evses)
    tokens = [f"s2-load-{i}-{uuid.uuid4().hex[:12]}" for i in range(args.receivers)]
    stubs = [
        LoadPartner("EMSP", "DE", f"L{i:02d}", latency_s=latency, token=tokens[i], name=f"L{i:02d}")
        for i in range(args.receivers)
    ]
    for stub in stubs:
        stub.start()
    try:
        started = time.monotonic()
        world = build_world(evse_count, args.evses_per_location, stubs)
        print(
            f"S2 fan-out: {args.updates} EVSE updates x {args.receivers} eMSP load partners "
            f"({args.latency_ms:g} ms) = {args.updates * args.receivers} PATCHes per measurement, "
            f"{args.evses_per_location} EVSEs per location, "
            f"worker --pool threads --concurrency {args.concurrency} (in-flight cap per receiver "
            f"{settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER}), baseline {args.concurrency} "
            f"threads; {connection.vendor}, broker {settings.CELERY_BROKER_URL.split(':')[0]}, "
            f"exchange log {'on' if settings.OCPI_LOG_EXCHANGES else 'off'}; "
            f"set up in {time.monotonic() - started:.1f} s",
            flush=True,
        )
        # Expected time of one side at the ideal rate, with room for a slow hub.
        ideal = args.updates * args.receivers / (args.concurrency / latency)
        timeout = 30 + 6 * ideal
        with tempfile.TemporaryDirectory(prefix="s2-") as tmp:
            work = Path(tmp)
            runs = iter(range(10**6))

            # The warm-up (not recorded: imports, connections, caches) at a quarter size.
            warm = [] if args.quick else [max(args.updates // 4, 4)]
            sizes = {"hub": iter(warm), "baseline": iter(warm)}

            def hub_side() -> float:
                log_dir = work / f"worker-{next(runs)}"
                log_dir.mkdir()
                size = next(sizes["hub"], args.updates)
                return hub_run(world, size, args.concurrency, log_dir, timeout).rate

            def baseline_side() -> float:
                size = next(sizes["baseline"], args.updates)
                return baseline_run(world, size, args.concurrency, work, timeout).rate

            measured = alternate_within(hub_side, baseline_side, args, started)
            slow_dir = work / "worker-slow"
            slow_dir.mkdir()
            print(
                f"  coalescing: {args.coalesce_updates} updates over {args.coalesce_evses} EVSEs, "
                f"{stubs[0].name} at {args.slow_latency_ms:g} ms …",
                flush=True,
            )
            coalescing = coalescing_run(
                world,
                args.coalesce_updates,
                args.coalesce_evses,
                stubs[0],
                args.slow_latency_ms / 1000,
                args.concurrency,
                slow_dir,
                timeout,
            )
    finally:
        for stub in stubs:
            stub.stop()
    print(
        f"  coalescing: the slow receiver got {coalescing['slow_received']} PATCHes for "
        f"{coalescing['updates_sent']} updates (saved {coalescing['slow_saved_share']:.1%}); "
        f"the fast ones a median of {coalescing['fast_received_median']} "
        f"(min {coalescing['fast_received_min']}); still open {coalescing['left_open']}; "
        f"outbox {coalescing['outbox']}",
        flush=True,
    )
    common = {
        "updates": args.updates,
        "receivers": args.receivers,
        "latency_ms": args.latency_ms,
        "concurrency": args.concurrency,
        "evses_per_location": args.evses_per_location,
        "rate_of": "arrivals at the partners, (n - 1) / (last - first)",
    }
    write_results(
        args.json,
        [
            result(
                "S2 fan-out deliveries/s",
                measured,
                "deliveries/s",
                goal=Goal(">=", 0.8),
                baseline_name="threaded httpx loop",
                **common,
            ),
            result(
                "S2 coalescing, one slow receiver",
                # one measurement: ratio = the share of the updates the slow receiver was sent
                Pairs(hub=[coalescing["slow_received"]], baseline=[coalescing["updates_sent"]]),
                "PATCHes",
                baseline_name="updates sent",
                **coalescing,
            ),
        ],
    )


def alternate_within(
    hub: Callable[[], float],
    baseline: Callable[[], float],
    args: argparse.Namespace,
    started: float,
) -> Pairs:
    """`harness.alternate` (a warm-up of each, then A B A B …) that starts no pair which would
    end past `--budget-s`, judged by the longest pair so far: a slow hub gives fewer pairs,
    said in the output, rather than a scenario killed with nothing written."""
    if not args.quick:
        print("  warm-up (a quarter size, not recorded)", flush=True)
        hub()
        baseline()
    out = Pairs()
    longest = 0.0
    for n in range(args.pairs):
        elapsed = time.monotonic() - started
        if n and elapsed + 1.5 * longest > args.budget_s:
            print(
                f"  stopped after {n} of {args.pairs} pairs: the next would pass the "
                f"{args.budget_s:g} s budget",
                flush=True,
            )
            break
        print(f"  pair {n + 1}/{args.pairs}", flush=True)
        pair_started = time.monotonic()
        out.hub.append(hub())
        out.baseline.append(baseline())
        longest = max(longest, time.monotonic() - pair_started)
    return out


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--baseline-sender":
        baseline_send(Path(sys.argv[2]))
    else:
        main()
