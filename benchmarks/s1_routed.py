"""S1 (DESIGN §9): a routed request through the served hub — an eMSP's GET of a CPO's location
and a CPO's EVSE status PATCH to an eMSP, both with TO naming the stub partner (direct
routing: auth, routing headers, the forward, the exchange log) — against the same request
straight to the stub (added latency at 1 connection) and against a bare Django view that
forwards with one shared httpx.Client (throughput at 16 connections).

    .venv/bin/python -m benchmarks.s1_routed [--quick] [--seconds 2] [--stub fast|simulated]

The hub is served as `make run` serves it (benchmarks.served: gunicorn, settings/gunicorn.py,
1 web worker, the exchange log on) on a scratch PostgreSQL database next to DATABASE_URL; the
baseline is served by the same gunicorn configuration. Load: wrk when installed, else httpx
threads (benchmarks.loadgen). Every answer is checked (HTTP 2xx and OCPI 1000). Nothing is
asserted.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks import payloads
from benchmarks.served import setup_django

setup_django()

import httpx  # noqa: TID251 - a client of the hub, not the hub's outbound calls

from benchmarks import loadgen
from benchmarks.harness import (
    Goal,
    Pairs,
    Result,
    alternate,
    result,
    scenario_args,
    write_results,
)
from benchmarks.served import Party, ServedHub, free_port, gunicorn_process, wait_http
from benchmarks.stub import FastStub

CPO_STUB = ("NL", "CPS")  # the CPO the eMSP reads a location of (the stub)
EMSP_STUB = ("DE", "MSS")  # the eMSP the CPO sends an EVSE status to (the stub)
LOCATION_ID = "LOC1"
STAMP = "2024-05-01T10:00:00Z"


def location() -> dict[str, Any]:
    """The CPO stub's location: 3 EVSEs of one Type 2 connector each (2.2.1 mod_locations)."""
    evses = [(f"EVSE{n}", f"NL*CPS*E{n}") for n in (1, 2, 3)]
    return payloads.location(CPO_STUB, LOCATION_ID, STAMP, evses)


class Routes:
    """The URLs and headers of one kind of request (GET or PATCH) on the three sides."""

    def __init__(
        self,
        method: str,
        hub: tuple[str, dict[str, str]],
        direct: str,
        bare: str,
        stub_headers: dict[str, str],
        body: str,
    ):
        """`hub`: the URL and headers of the request to the hub; `direct` and `bare` (the
        stub's URL, straight and through the bare forward) take `stub_headers`: the caller's
        routing headers with the token the stub accepts (the hub's, for the simulated
        partner)."""
        self.method, (self.hub, self.headers), self.direct, self.bare = method, hub, direct, bare
        self.stub_headers, self.body = stub_headers, body

    def load(self, url: str, connections: int, seconds: float) -> loadgen.Load:
        return loadgen.load(
            url,
            self.method,
            headers=self.headers if url == self.hub else self.stub_headers,
            body=self.body,
            connections=connections,
            seconds=seconds,
        )

    def database_work(self, hub: ServedHub) -> str:
        path = self.hub.removeprefix(hub.base_url)
        return hub.database_work(
            self.method, path, self.headers, self.body.replace(loadgen.STAMP, STAMP)
        )

    def check(self) -> None:
        """One request on each side, answered 1000, before anything is measured."""
        body = self.body.replace(loadgen.STAMP, STAMP)
        for side, url in (("hub", self.hub), ("direct", self.direct), ("bare", self.bare)):
            headers = self.headers if url == self.hub else self.stub_headers
            answer = httpx.request(
                self.method, url, headers=headers, content=body or None, timeout=15
            )
            status = answer.json().get("status_code") if answer.content else None
            if not answer.is_success or status != 1000:
                raise SystemExit(
                    f"S1 {self.method} {side} ({url}) answered {answer.status_code}: "
                    f"{answer.text[:500]}"
                )


def stripped(headers: dict[str, str]) -> dict[str, str]:
    """The load's headers: a partner's, without X-Request-ID / X-Correlation-ID (the hub
    generates them when missing; one fixed value for thousands of requests would be false)."""
    return {k: v for k, v in headers.items() if k not in {"X-Request-ID", "X-Correlation-ID"}}


@contextlib.contextmanager
def bare_forward(stub_url: str, env: dict[str, str], log_dir: Path) -> Iterator[str]:
    port = free_port()
    process = gunicorn_process(
        "bare forward (gunicorn)",
        "benchmarks.bare_forward:application",
        port,
        dict(env, BARE_FORWARD_TO=stub_url),
        log_dir / "bare-forward.log",
        workers=1,
    )
    process.start()
    try:
        wait_http(f"http://127.0.0.1:{port}", process, "/", 60)
        yield f"http://127.0.0.1:{port}"
    finally:
        process.stop()


def measure_latency(
    name: str, routes: Routes, seconds: float, pairs: int, note: dict[str, Any]
) -> Result:
    hub_runs: list[loadgen.Load] = []
    direct_runs: list[loadgen.Load] = []

    def run(url: str, into: list[loadgen.Load]) -> Callable[[], float]:
        def one() -> float:
            measured = routes.load(url, 1, seconds)
            into.append(measured)
            return measured.p50_ms

        return one

    measured = alternate(run(routes.hub, hub_runs), run(routes.direct, direct_runs), pairs)
    # The warm-up runs are the first of each list: not counted.
    hub_runs, direct_runs = hub_runs[1:], direct_runs[1:]
    hub_p99 = median([r.p99_ms for r in hub_runs])
    direct_p99 = median([r.p99_ms for r in direct_runs])
    added_p50 = median(measured.hub) - median(measured.baseline)
    print(
        f"  {name}: hub p50 {median(measured.hub):.2f} ms p99 {hub_p99:.2f} ms; direct p50 "
        f"{median(measured.baseline):.2f} ms p99 {direct_p99:.2f} ms; added p50 "
        f"{added_p50:.2f} ms",
        flush=True,
    )
    return result(
        name,
        measured,
        "ms p50",
        goal=Goal("<=", 3, metric="added_p50_ms"),
        higher_is_better=False,
        baseline_name="straight to the stub",
        added_p50_ms=round(added_p50, 3),
        added_p99_ms=round(hub_p99 - direct_p99, 3),
        hub_p99_ms=round(hub_p99, 3),
        direct_p99_ms=round(direct_p99, 3),
        per_pair_added_p50_ms=[
            round(h - b, 3) for h, b in zip(measured.hub, measured.baseline, strict=True)
        ],
        failed_answers=sum(r.bad for r in hub_runs + direct_runs),
        **note,
    )


def measure_throughput(
    name: str, routes: Routes, connections: int, seconds: float, pairs: int, note: dict[str, Any]
) -> Result:
    runs: list[loadgen.Load] = []

    def run(url: str) -> Callable[[], float]:
        def one() -> float:
            measured = routes.load(url, connections, seconds)
            runs.append(measured)
            return measured.rate

        return one

    measured: Pairs = alternate(run(routes.hub), run(routes.bare), pairs)
    stub_alone = routes.load(routes.direct, connections, seconds)
    bad = sum(r.bad for r in runs)
    print(
        f"  {name}: hub {median(measured.hub):.0f} req/s, bare forward "
        f"{median(measured.baseline):.0f} req/s, stub alone {stub_alone.rate:.0f} req/s; "
        f"failed answers {bad}" + (f" (first: {first_bad(runs)})" if bad else ""),
        flush=True,
    )
    return result(
        name,
        measured,
        "req/s",
        goal=Goal(">=", 0.7),
        baseline_name="bare Django+httpx forward",
        connections=connections,
        stub_alone_req_s=round(stub_alone.rate, 1),
        hub_p99_ms=round(median([r.p99_ms for r in runs[2::2]]), 3),
        failed_answers=bad,
        **note,
    )


def first_bad(runs: list[loadgen.Load]) -> str:
    return next((r.first_bad for r in runs if r.first_bad), "")


def median(values: list[float]) -> float:
    import statistics

    return statistics.median(values) if values else 0.0


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=2, help="per latency measurement")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--stub", choices=("fast", "simulated"), default="fast")
    args = parser.parse_args()
    if args.quick:
        # wrk measures whole seconds: fewer pairs keep --quick short.
        args.seconds, args.pairs = 1, min(args.pairs, 2)
    results = run(args)
    write_results(args.json, results)


def throughput_seconds(args: argparse.Namespace) -> int:
    return args.seconds if args.quick else args.seconds + 1


def run(args: argparse.Namespace) -> list[Result]:
    with ExitStack() as stack:
        hub = stack.enter_context(ServedHub(web_workers=1, name="s1"))
        emsp = hub.register_party("EMSP", "DE", "MSC", name="eMSP client")
        cpo = hub.register_party("CPO", "NL", "CPC", name="CPO client")
        if args.stub == "fast":
            stub = stack.enter_context(FastStub(location()))
            stub_kind = "fast threaded stub (benchmarks.stub)"
            stub_url, paths, stub_token = stub.base_url, FAST_PATHS, "stub"
            for role, party, interface, path in (
                ("CPO", CPO_STUB, "SENDER", paths[0]),
                ("EMSP", EMSP_STUB, "RECEIVER", paths[1]),
            ):
                endpoint = {("locations", interface): stub_url + path}
                hub.register_party(role, *party, endpoints=endpoint, name=f"{role} stub")
            hub.start()
        else:
            hub.start()
            stub_kind = "partners.SimulatedPartner (CPO and eMSP roles, registered by handshake)"
            stub_url, paths, stub_token = simulated_stub(stack, hub, cpo)
        bare_url = stack.enter_context(bare_forward(stub_url, hub.process_env(), hub.folder))
        get, patch = routes(hub, emsp, cpo, (stub_url, paths, stub_token), bare_url)
        get.check()
        patch.check()
        note = {
            "stub": stub_kind,
            "load_generator": loadgen.generator(),
            "web_workers": 1,
            "exchange_log": True,
        }
        print(
            f"S1 routed requests: hub {hub.base_url} (gunicorn, 1 worker, exchange log on), "
            f"stub {stub_kind}, load by {loadgen.generator()}, {args.pairs} pairs, "
            f"{args.seconds} s per latency run, {throughput_seconds(args)} s per throughput run; "
            f"{loadgen.machine_load()}",
            flush=True,
        )
        results = [
            measure_latency("S1 routed GET added latency", get, args.seconds, args.pairs, note),
            measure_latency("S1 routed PATCH added latency", patch, args.seconds, args.pairs, note),
        ]
        for name, what in (("GET", get), ("PATCH", patch)):
            results.append(
                measure_throughput(
                    f"S1 routed {name} throughput",
                    what,
                    args.connections,
                    throughput_seconds(args),
                    args.pairs,
                    note,
                )
            )
        exchanges = logged_exchanges()
        print(f"  exchange log rows written by the hub: {exchanges}", flush=True)
        for item, what in zip(results, (get, patch, get, patch), strict=True):
            item.extra["hub_database_work"] = what.database_work(hub)
        get_work, patch_work = (r.extra["hub_database_work"] for r in results[:2])
        print(
            f"  per routed request the hub's database does: GET {get_work}; PATCH {patch_work}"
            " (the bare forward: none)",
            flush=True,
        )
        print(f"  machine: {loadgen.machine_load()} at the end", flush=True)
        for item in results:
            item.extra["machine_at_end"] = loadgen.machine_load()
        return results
    raise AssertionError("unreachable")


def logged_exchanges() -> int:
    from hub.models import OcpiExchange

    return OcpiExchange.objects.count()


# The stub's locations SENDER (CPO) and RECEIVER (eMSP) endpoints, below its base URL.
FAST_PATHS = ("/cpo/2.2.1/locations", "/emsp/2.2.1/locations")
SIMULATED_PATHS = ("/ocpi/2.2.1/locations", "/ocpi/2.2.1/locations")


def simulated_stub(
    stack: ExitStack, hub: ServedHub, cpo: Party
) -> tuple[str, tuple[str, str], str]:
    """One SimulatedPartner platform hosting the CPO and the eMSP the clients reach,
    registered with the served hub through the credentials handshake (as the fuzz suite
    does): it holds the location and the EVSE the PATCH changes. Returns its base URL, its
    endpoint paths and the token it accepts (the hub's)."""
    from hub.services.registry.credentials import platform_invite
    from partners.ocpi import role
    from partners.simulated import SimulatedPartner

    partner = stack.enter_context(
        SimulatedPartner(
            roles=[role("CPO", *CPO_STUB), role("EMSP", *EMSP_STUB)],
            modules=[("credentials", "SENDER"), ("locations", "SENDER"), ("locations", "RECEIVER")],
            name="S1 stub",
        )
    )
    _, token_a = platform_invite(name="S1 simulated stub")
    partner.register_with(hub.url("/ocpi/versions"), token_a)
    partner.set_objects("locations", [location()])
    evse = f"{SIMULATED_PATHS[1]}/{cpo.country_code}/{cpo.party_id}/{LOCATION_ID}/EVSE1"
    partner.store(evse, location()["evses"][0])
    if not partner.own_token:
        raise SystemExit("S1: the simulated stub's registration gave the hub no token")
    return partner.base_url, SIMULATED_PATHS, partner.own_token


def routes(
    hub: ServedHub,
    emsp: Party,
    cpo: Party,
    stub: tuple[str, tuple[str, str], str],
    bare_url: str,
) -> tuple[Routes, Routes]:
    stub_url, (sender, receiver), stub_token = stub
    stub_auth = {"Authorization": "Token " + base64.b64encode(stub_token.encode()).decode()}
    get_path = f"{sender}/{LOCATION_ID}"
    get_headers = stripped(emsp.headers(to=CPO_STUB))
    get = Routes(
        "GET",
        (hub.url(f"/ocpi/2.2.1/emsp/locations/{LOCATION_ID}"), get_headers),
        stub_url + get_path,
        bare_url + get_path,
        {**get_headers, **stub_auth},
        "",
    )
    object_path = f"{cpo.country_code}/{cpo.party_id}/{LOCATION_ID}/EVSE1"
    patch_path = f"{receiver}/{object_path}"
    patch_headers = {**stripped(cpo.headers(to=EMSP_STUB)), "Content-Type": "application/json"}
    patch = Routes(
        "PATCH",
        (hub.url(f"/ocpi/2.2.1/cpo/locations/{object_path}"), patch_headers),
        stub_url + patch_path,
        bare_url + patch_path,
        {**patch_headers, **stub_auth},
        json.dumps({"status": "CHARGING", "last_updated": loadgen.STAMP}),
    )
    return get, patch


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
