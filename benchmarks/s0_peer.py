"""S0: the hub against a peer — extrawest-ocpi, an independent OCPI 2.2.1 implementation —
serving the same payloads, one server process each: (a) GET a page of 50 locations (3 EVSEs
each) as an eMSP, (b) a CPO's PUT of a location with 3 EVSEs. Requests per second, hub /
extrawest, alternated A B A B (median of --pairs).

    .venv/bin/python -m benchmarks.s0_peer [--quick] [--seconds 3] [--connections 4]

Hub: benchmarks.served (gunicorn as `make run` serves it, 1 worker x 4 threads, exchange log
on) on a scratch PostgreSQL database; the eMSP's `GET /ocpi/2.2.1/emsp/locations?limit=50`
(GET all via the hub, 60 locations stored by the CPO's own PUTs) and the CPO's `PUT
/ocpi/2.2.1/cpo/locations/{cc}/{pid}/{id}` (stored, then fanned out through the outbox to the
one eMSP with a locations RECEIVER: rows written, not delivered — no Celery worker runs, the
PUT's answer does not wait for delivery). extrawest: its CPO (GET, the locations SENDER list)
and its eMSP (PUT, the locations RECEIVER) from .venv-extrawest, one uvicorn process each,
keeping data in memory (no database). Load: wrk when installed, else httpx threads; every
answer checked (HTTP 2xx, OCPI 1000). Nothing is asserted.
"""

from __future__ import annotations

import argparse
import base64
import json
import statistics
import sys
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks.served import HUB_PARTY, Party, ServedHub, setup_django

setup_django()

import httpx  # noqa: TID251 - a client of the hub, not the hub's outbound calls

from benchmarks import loadgen, payloads
from benchmarks.harness import Goal, Result, alternate, result, scenario_args, write_results

HUB_CPO = ("NL", "CPO")
HUB_EMSP = ("DE", "MSP")
EXW_CPO = ("NL", "EXW")
EXW_EMSP = ("DE", "EXE")
STORED = 60  # more than one page: the page has a next Link on both sides
PAGE = 50
STAMP = "2024-05-01T10:00:00Z"


def location(party: tuple[str, str], number: int | str, stamp: str = STAMP) -> dict[str, Any]:
    """Location `LOC{number}` of `party`: 3 EVSEs of one Type 2 connector each."""
    cc, pid = party
    evses = [(f"EVSE{n}", f"{cc}*{pid}*E{number}{n}") for n in (1, 2, 3)]
    return payloads.location(
        party, f"LOC{number}", stamp, evses, f"Stationsplein {number}", f"Stationsplein {number}"
    )


def token_header(token: str) -> str:
    return "Token " + base64.b64encode(token.encode()).decode()


class Side:
    """One implementation's two requests: the GET of a page and the PUT of a location."""

    def __init__(
        self,
        name: str,
        get: tuple[str, dict[str, str]],
        put: tuple[str, dict[str, str]],
        note: str,
    ):
        self.name, self.note = name, note
        self.get_url, self.get_headers = get
        self.put_url, put_headers = put
        self.put_headers = {**put_headers, "Content-Type": "application/json"}

    def get_page(self, connections: int, seconds: float) -> loadgen.Load:
        return loadgen.load(
            self.get_url, headers=self.get_headers, connections=connections, seconds=seconds
        )

    def put(self, connections: int, seconds: float) -> loadgen.Load:
        return loadgen.load(
            self.put_url,
            "PUT",
            headers=self.put_headers,
            body=put_body(),
            connections=connections,
            seconds=seconds,
            cycle=STORED,
        )

    def check(self) -> int:
        """One GET and one PUT answered 1000 (the page holding 50 locations) before anything
        is measured; returns the page's size in bytes."""
        page = httpx.get(self.get_url, headers=self.get_headers, timeout=30)
        answer = page.json() if page.is_success else {}
        data = answer.get("data")
        if answer.get("status_code") != 1000 or not isinstance(data, list) or len(data) != PAGE:
            raise SystemExit(
                f"S0 {self.name} GET page: {page.status_code} {page.text[:400]} "
                f"({len(data) if isinstance(data, list) else 'no'} locations)"
            )
        put = httpx.put(
            self.put_url.replace(loadgen.NUMBER, "1"),
            content=put_body()
            .replace(loadgen.STAMP, "2024-05-02T00:00:00Z")
            .replace(loadgen.NUMBER, "1"),
            headers=self.put_headers,
            timeout=30,
        )
        if not put.is_success or put.json().get("status_code") != 1000:
            raise SystemExit(f"S0 {self.name} PUT: {put.status_code} {put.text[:400]}")
        return len(page.content)


def path_of(url: str, hub: ServedHub) -> str:
    return url.removeprefix(hub.base_url)


def hub_side(stack: ExitStack) -> tuple[Side, ServedHub]:
    hub = stack.enter_context(ServedHub(web_workers=1, name="s0"))
    cpo = hub.register_party("CPO", *HUB_CPO, name="CPO")
    # The eMSP publishes a locations RECEIVER: each PUT writes its outbox row (never delivered
    # here: the URL is a closed port and no worker runs).
    emsp = hub.register_party(
        "EMSP",
        *HUB_EMSP,
        endpoints={("locations", "RECEIVER"): "http://127.0.0.1:9/ocpi/2.2.1/locations"},
        name="eMSP",
    )
    hub.start()
    cc, pid = HUB_CPO
    with httpx.Client(timeout=30) as client:
        for number in range(1, STORED + 1):
            answer = client.put(
                hub.url(f"/ocpi/2.2.1/cpo/locations/{cc}/{pid}/LOC{number}"),
                content=json.dumps(location(HUB_CPO, number)),
                headers={**cpo.headers(to=HUB_PARTY), "Content-Type": "application/json"},
            )
            if answer.json().get("status_code") != 1000:
                raise SystemExit(f"S0 storing LOC{number} in the hub: {answer.text[:400]}")
    return Side(
        "hub",
        (hub.url(f"/ocpi/2.2.1/emsp/locations?limit={PAGE}"), load_headers(emsp)),
        (hub.url(f"/ocpi/2.2.1/cpo/locations/{cc}/{pid}/LOC{loadgen.NUMBER}"), load_headers(cpo)),
        "gunicorn 1 worker x 4 threads, PostgreSQL, exchange log on",
    ), hub


def load_headers(party: Party) -> dict[str, str]:
    """A partner's headers without X-Request-ID / X-Correlation-ID (the hub generates them
    when missing; one fixed value for thousands of requests would be false); TO = the hub."""
    return {
        k: v
        for k, v in party.headers(to=HUB_PARTY).items()
        if k not in {"X-Request-ID", "X-Correlation-ID"}
    }


def extrawest_side(stack: ExitStack) -> Side:
    """extrawest's CPO (the GET) and eMSP (the PUT), each registered by a simulated client
    (the credentials handshake: the token C it issues is what the load presents)."""
    from partners.simulated import SimulatedPartner
    from tests.interop import extrawest_partner
    from tests.interop.extrawest_partner import ExtrawestPartner

    # The peer launcher in place of partner_app.py (same arguments, no request log).
    extrawest_partner.PARTNER_APP = Path(__file__).resolve().parent / "extrawest_peer.py"
    folder = stack.enter_context(_tempdir())
    exw_cpo = stack.enter_context(ExtrawestPartner("CPO", *EXW_CPO, log_dir=folder))
    exw_emsp = stack.enter_context(ExtrawestPartner("EMSP", *EXW_EMSP, log_dir=folder))
    tokens = []
    for partner, kind, party in ((exw_cpo, "EMSP", ("DE", "CLI")), (exw_emsp, "CPO", HUB_CPO)):
        client = stack.enter_context(
            SimulatedPartner(
                roles=[
                    {
                        "role": kind,
                        "country_code": party[0],
                        "party_id": party[1],
                        "business_details": {"name": "S0 client"},
                    }
                ]
            )
        )
        client.register_with(partner.versions_url, partner.token_a)
        if not client.hub_token:
            raise SystemExit(f"S0: registration with {partner} gave no token")
        tokens.append(client.hub_token)
    exw_cpo.seed("locations", *[location(EXW_CPO, n) for n in range(1, STORED + 1)])
    cc, pid = HUB_CPO
    return Side(
        "extrawest",
        (
            f"{exw_cpo.base_url}/ocpi/cpo/2.2.1/locations/?limit={PAGE}",
            {"Authorization": token_header(tokens[0])},
        ),
        (
            f"{exw_emsp.base_url}/ocpi/emsp/2.2.1/locations/{cc}/{pid}/LOC{loadgen.NUMBER}",
            {"Authorization": token_header(tokens[1])},
        ),
        "uvicorn 1 process, data in memory (no database), no request log",
    )


def _tempdir() -> Any:
    import tempfile

    return tempfile.TemporaryDirectory(prefix="s0-extrawest-")


def put_body() -> str:
    """The PUT's body: one of the stored locations (LOC1..LOC60 in turn, `__N__`) with every
    last_updated fresh per request, so that each PUT is a real update."""
    return json.dumps(location(HUB_CPO, loadgen.NUMBER, loadgen.STAMP))


def main() -> None:
    parser = scenario_args(__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=3, help="per measurement")
    parser.add_argument("--connections", type=int, default=4)
    args = parser.parse_args()
    if args.quick:
        # wrk measures whole seconds: fewer pairs keep --quick short.
        args.seconds, args.pairs = 1, min(args.pairs, 2)
    write_results(args.json, run(args))


def run(args: argparse.Namespace) -> list[Result]:
    with ExitStack() as stack:
        started = time.monotonic()
        hub, served = hub_side(stack)
        print(f"  hub served, {STORED} locations stored: {time.monotonic() - started:.1f} s")
        peer = extrawest_side(stack)
        print(f"  extrawest up, registered, seeded: {time.monotonic() - started:.1f} s")
        sizes = {side.name: side.check() for side in (hub, peer)}
        print(
            f"S0 peer: hub ({hub.note}) vs extrawest-ocpi ({peer.note}); {STORED} locations "
            f"of 3 EVSEs stored on each, page of {PAGE} ({sizes['hub']} bytes from the hub, "
            f"{sizes['extrawest']} from extrawest); {args.connections} connections, load by "
            f"{loadgen.generator()}, {args.pairs} pairs of {args.seconds} s; "
            f"{loadgen.machine_load()}",
            flush=True,
        )
        note = {
            "connections": args.connections,
            "load_generator": loadgen.generator(),
            "hub": hub.note,
            "extrawest": peer.note,
        }
        work = {
            "get_page": served.database_work("GET", path_of(hub.get_url, served), hub.get_headers),
            "put": served.database_work(
                "PUT",
                path_of(hub.put_url, served).replace(loadgen.NUMBER, "2"),
                hub.put_headers,
                put_body()
                .replace(loadgen.STAMP, "2024-05-03T00:00:00Z")
                .replace(loadgen.NUMBER, "2"),
            ),
        }
        print(
            f"  per request the hub's database does: GET page {work['get_page']}; PUT {work['put']}"
        )
        results = []
        for name, goal, measure in (
            (f"S0 GET page of {PAGE} locations vs extrawest", 10, "get_page"),
            ("S0 PUT location (3 EVSEs) vs extrawest", 1, "put"),
        ):
            runs: list[loadgen.Load] = []

            def one(side: Side, what: str = measure, into: list = runs) -> Callable[[], float]:
                def measured() -> float:
                    load = getattr(side, what)(args.connections, args.seconds)
                    into.append(load)
                    return float(load.rate)

                return measured

            pairs = alternate(one(hub), one(peer), args.pairs)
            bad = sum(r.bad for r in runs)
            hub_p50 = statistics.median([r.p50_ms for r in runs[2::2]])
            peer_p50 = statistics.median([r.p50_ms for r in runs[3::2]])
            print(
                f"  {name}: hub {statistics.median(pairs.hub):.1f} req/s (p50 {hub_p50:.1f} ms),"
                f" extrawest {statistics.median(pairs.baseline):.1f} req/s (p50 "
                f"{peer_p50:.1f} ms); failed answers {bad}"
                + (f" (first: {next(r.first_bad for r in runs if r.first_bad)})" if bad else ""),
                flush=True,
            )
            results.append(
                result(
                    name,
                    pairs,
                    "req/s",
                    goal=Goal(">=", goal),
                    baseline_name="extrawest-ocpi",
                    hub_p50_ms=round(hub_p50, 2),
                    extrawest_p50_ms=round(peer_p50, 2),
                    failed_answers=bad,
                    hub_database_work=work[measure],
                    **note,
                )
            )
        print(f"  machine: {loadgen.machine_load()} at the end", flush=True)
        for item in results:
            item.extra["machine_at_end"] = loadgen.machine_load()
        return results
    raise AssertionError("unreachable")


if __name__ == "__main__":
    main()
