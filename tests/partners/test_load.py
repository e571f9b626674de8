"""Self-tests of the load partner (`partners.load`), over real HTTP on 127.0.0.1, without the
hub: what it counts, latency that overlaps across concurrent requests, seeded failures, and
the handshake played against a simulated partner in the hub's place."""

from __future__ import annotations

import base64
import random
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from partners.load import LoadPartner, load_partners
from partners.simulated import SimulatedPartner

TOKEN = "load-token"
AUTH = {"Authorization": "Token " + base64.b64encode(TOKEN.encode()).decode()}
HUB_ROLE = {
    "role": "HUB",
    "country_code": "NL",
    "party_id": "HUB",
    "business_details": {"name": "Sim Hub"},
}


@pytest.fixture
def emsp() -> Iterator[LoadPartner]:
    with LoadPartner("EMSP", "DE", "LDE", token=TOKEN) as partner:
        yield partner


def patch(client: httpx.Client, partner: LoadPartner, path: str) -> httpx.Response:
    return client.patch(
        f"{partner.module_url('locations')}/{path}", json={"status": "CHARGING"}, headers=AUTH
    )


def test_counts_module_requests_per_module_and_method(emsp: LoadPartner) -> None:
    with httpx.Client(trust_env=False) as client:
        for i in range(3):
            assert patch(client, emsp, f"NL/CP1/LOC{i}/EVSE1").status_code == 200
        put = client.put(f"{emsp.module_url('sessions')}/NL/CP1/S1", json={}, headers=AUTH)
        posted = client.post(emsp.module_url("cdrs"), json={"id": "C1"}, headers=AUTH)
        listed = client.get(emsp.module_url("tokens"), headers=AUTH)
        refused = client.patch(f"{emsp.module_url('locations')}/NL/CP1/X", json={})

    assert put.json()["status_code"] == 1000 and put.json()["data"] is None
    assert set(put.json()) == {"data", "status_code", "status_message", "timestamp"}
    assert posted.headers["Location"].startswith(emsp.module_url("cdrs") + "/")
    assert listed.json()["data"] == [] and listed.headers["X-Total-Count"] == "0"
    # a request without the token is refused and not counted
    assert refused.status_code == 401
    assert emsp.counts() == {
        ("locations", "PATCH"): 3,
        ("sessions", "PUT"): 1,
        ("cdrs", "POST"): 1,
        ("tokens", "GET"): 1,
    }
    assert emsp.count("locations") == 3 and emsp.count(method="PUT") == 1
    arrivals = emsp.arrivals()
    assert arrivals.count == 6
    assert arrivals.first is not None and arrivals.last is not None
    assert arrivals.first <= arrivals.last
    emsp.reset_counts()
    assert emsp.counts() == {} and emsp.arrivals().count == 0


def test_echoes_the_request_and_correlation_ids(emsp: LoadPartner) -> None:
    with httpx.Client(trust_env=False) as client:
        response = client.get(
            emsp.module_url("locations"),
            headers={**AUTH, "X-Request-ID": "r-1", "X-Correlation-ID": "c-1"},
        )
    assert response.headers["X-Request-ID"] == "r-1"
    assert response.headers["X-Correlation-ID"] == "c-1"


def test_latency_is_applied_to_each_request_concurrently() -> None:
    latency, parallel = 0.05, 20
    limits = httpx.Limits(max_connections=parallel)
    with (
        LoadPartner(token=TOKEN, latency_s=latency) as partner,
        # one client (thread-safe, made before the clock starts) with a connection per thread
        httpx.Client(trust_env=False, limits=limits) as client,
    ):

        def one(i: int) -> float:
            started = time.monotonic()
            assert patch(client, partner, f"NL/CP1/LOC{i}/EVSE1").status_code == 200
            return time.monotonic() - started

        with ThreadPoolExecutor(parallel) as pool:
            started = time.monotonic()
            each = list(pool.map(one, range(parallel)))
            elapsed = time.monotonic() - started

    assert partner.count("locations", "PATCH") == parallel
    # every request waited its latency …
    assert min(each) >= latency
    # … and they overlapped: far below one after the other (20 x 50 ms), with a generous bound
    assert elapsed < 10 * latency


def fail_pattern(partner: LoadPartner, requests: int) -> list[bool]:
    with httpx.Client(trust_env=False) as client:
        return [
            patch(client, partner, f"NL/CP1/LOC{i}/EVSE1").status_code != 200
            for i in range(requests)
        ]


def test_error_rate_is_deterministic_with_a_seed() -> None:
    with (
        LoadPartner(token=TOKEN, error_rate=0.3, seed=7) as first,
        LoadPartner(token=TOKEN, error_rate=0.3, seed=7) as second,
        LoadPartner(token=TOKEN, error_rate=0.3, seed=8) as other,
    ):
        pattern = fail_pattern(first, 200)
        assert fail_pattern(second, 200) == pattern
        assert fail_pattern(other, 200) != pattern

    draws = random.Random(7)
    assert pattern == [draws.random() < 0.3 for _ in range(200)]
    assert first.errors_answered == sum(pattern)
    assert 30 <= sum(pattern) <= 90
    # failed requests are counted like the others
    assert first.count("locations", "PATCH") == 200


def test_failures_as_http_5xx_or_ocpi_3000() -> None:
    with (
        LoadPartner(token=TOKEN, error_rate=1.0) as http_errors,
        LoadPartner(token=TOKEN, error_rate=1.0, error_kind="ocpi") as ocpi_errors,
        httpx.Client(trust_env=False) as client,
    ):
        as_http = patch(client, http_errors, "NL/CP1/LOC1/EVSE1")
        as_ocpi = patch(client, ocpi_errors, "NL/CP1/LOC1/EVSE1")
    assert as_http.status_code == 503 and as_http.json()["status_code"] == 3000
    assert as_ocpi.status_code == 200 and as_ocpi.json()["status_code"] == 3000


def test_many_in_one_process_count_apart() -> None:
    with load_partners(12, "EMSP", token=TOKEN) as partners, httpx.Client(trust_env=False) as c:
        assert len({p.base_url for p in partners}) == 12
        assert len({p.party for p in partners}) == 12
        for n, partner in enumerate(partners):
            for i in range(n + 1):
                assert patch(c, partner, f"NL/CP1/LOC{i}/EVSE1").status_code == 200
    assert [p.count("locations", "PATCH") for p in partners] == list(range(1, 13))


def test_partner_initiated_handshake_then_the_new_token_is_required() -> None:
    with (
        SimulatedPartner(roles=[HUB_ROLE], name="hub") as hub,
        LoadPartner("CPO", "NL", "LCP") as cpo,
    ):
        data = cpo.register_with(hub.versions_url, hub.token_a)

        assert data["token"] == cpo.hub_token == hub.own_token
        assert cpo.registered and hub.registered
        # the other side read our details with the token it now holds
        assert hub.hub_token == cpo.own_token
        endpoints = {(e["identifier"], e["role"]) for e in hub.hub_endpoints}
        assert {("tokens", "RECEIVER"), ("commands", "RECEIVER"), ("locations", "SENDER")} <= (
            endpoints
        )
        own = "Token " + base64.b64encode(str(cpo.own_token).encode()).decode()
        with httpx.Client(trust_env=False) as client:
            url = cpo.module_url("tokens") + "/DE/MSP/T1"
            assert client.put(url, json={}, headers={"Authorization": own}).status_code == 200
            # Token A is spent
            stale = "Token " + base64.b64encode(cpo.token_a.encode()).decode()
            assert client.get(cpo.versions_url, headers={"Authorization": stale}).status_code == (
                401
            )
        assert cpo.counts() == {("tokens", "PUT"): 1}


def test_hub_initiated_handshake() -> None:
    with (
        SimulatedPartner(roles=[HUB_ROLE], name="hub") as hub,
        LoadPartner("EMSP", "DE", "LEM") as emsp,
    ):
        # the "hub" registers with the load partner's Token A
        data = hub.register_with(emsp.versions_url, emsp.token_a)

        assert data["token"] == hub.hub_token == emsp.own_token
        assert emsp.hub_token == hub.own_token
        assert emsp.registered
