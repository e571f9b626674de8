"""A flood of unauthenticated /ocpi/ requests is bounded per client address (hub/ocpi/flood.py):
after OCPI_UNAUTH_LIMIT failed authentications in a window the address gets 429 + Retry-After,
only a sample reaches the exchange log, and partners with a valid token are never refused."""

from typing import Any

import pytest

from hub.models import OcpiExchange
from tests.conftest import OcpiTestClient
from tests.security.conftest import World

VERSIONS = "/ocpi/versions"
LOCATIONS = "/ocpi/2.2.1/emsp/locations"


@pytest.fixture
def limits(settings: Any) -> Any:
    settings.OCPI_UNAUTH_LIMIT = 5
    settings.OCPI_UNAUTH_WINDOW_S = 60
    settings.OCPI_UNAUTH_LOG_SAMPLE = 3
    return settings


def _flood(client: OcpiTestClient, n: int, **headers: str) -> list[Any]:
    return [client.request("GET", VERSIONS, token="not-a-token", headers=headers) for _ in range(n)]


def test_an_address_over_the_limit_gets_429_with_an_envelope_and_retry_after(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    answers = _flood(ocpi_client, 8)

    assert [a.status_code for a in answers] == [401] * 5 + [429] * 3
    refused = answers[-1]
    body = refused.json()
    assert body["status_code"] == 2000
    assert "Too many unauthenticated requests" in body["status_message"]
    assert 1 <= int(refused["Retry-After"]) <= 60
    # the ids are echoed on a refusal too
    assert refused["X-Request-ID"] and refused["X-Correlation-ID"]


def test_requests_without_any_authorization_header_count_too(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    answers = [ocpi_client.request("GET", LOCATIONS) for _ in range(7)]
    assert [a.status_code for a in answers] == [401] * 5 + [429] * 2


def test_only_a_sample_of_the_flood_reaches_the_exchange_log(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    _flood(ocpi_client, 40)
    assert OcpiExchange.objects.count() == 3


def test_the_limit_is_per_client_address(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    _flood(ocpi_client, 6)
    other = ocpi_client.django.get(
        VERSIONS, HTTP_AUTHORIZATION="Token bm9wZQ==", REMOTE_ADDR="192.0.2.7"
    )
    assert other.status_code == 401


def test_a_partner_with_a_valid_token_is_never_refused_behind_a_flooded_address(
    world: World, limits: Any
) -> None:
    _flood(world.client, 10)
    answer = world.call(world.ms1, "GET", VERSIONS)
    assert answer.status_code == 200, answer.content
    assert answer.json()["status_code"] == 1000


def test_authenticated_errors_do_not_count_against_the_address(world: World, limits: Any) -> None:
    # A registered partner's refused calls (here 404s for an unknown object) are not a flood.
    for _ in range(10):
        world.call(world.cp1, "GET", "/ocpi/2.2.1/cpo/locations/NL/CP1/NOPE")
    answer = world.client.request("GET", VERSIONS, token="not-a-token")
    assert answer.status_code == 401


def test_x_forwarded_for_is_ignored_unless_the_operator_trusts_a_proxy(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    # A client cannot escape its limit by writing a new X-Forwarded-For on every request.
    answers = [
        ocpi_client.request(
            "GET", VERSIONS, token="x", headers={"X-Forwarded-For": f"198.51.100.{i}"}
        )
        for i in range(7)
    ]
    assert [a.status_code for a in answers][-1] == 429


def test_behind_a_trusted_proxy_the_address_it_adds_is_the_one_counted(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    limits.OCPI_TRUSTED_PROXY_COUNT = 1
    # the client wrote the first entry itself; the proxy appended the real address last
    for i in range(6):
        ocpi_client.request(
            "GET", VERSIONS, token="x", headers={"X-Forwarded-For": f"10.9.9.{i}, 203.0.113.5"}
        )
    flooded = ocpi_client.request(
        "GET", VERSIONS, token="x", headers={"X-Forwarded-For": "203.0.113.5"}
    )
    other = ocpi_client.request(
        "GET", VERSIONS, token="x", headers={"X-Forwarded-For": "203.0.113.6"}
    )
    assert (flooded.status_code, other.status_code) == (429, 401)


def test_zero_turns_the_limit_off(db: None, ocpi_client: OcpiTestClient, limits: Any) -> None:
    limits.OCPI_UNAUTH_LIMIT = 0
    assert {a.status_code for a in _flood(ocpi_client, 12)} == {401}


def test_the_address_is_let_in_again_when_the_window_ends(
    db: None, ocpi_client: OcpiTestClient, limits: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub.ocpi import flood

    now = 1_800_000_000.0
    monkeypatch.setattr(flood.time, "time", lambda: now)
    assert _flood(ocpi_client, 6)[-1].status_code == 429
    now += 60
    assert _flood(ocpi_client, 1)[0].status_code == 401


def test_the_counters_are_shared_through_redis_when_it_is_configured(
    db: None, ocpi_client: OcpiTestClient, limits: Any
) -> None:
    import os
    import uuid

    from django.core.cache import caches

    redis_url = os.environ.get("REDIS_URL")
    if not redis_url:
        if os.environ.get("CI") == "true":
            pytest.fail("CI runs with REDIS_URL set")
        pytest.skip("REDIS_URL is not set: the embedded default has no shared cache")
    limits.CACHES = {
        **limits.CACHES,
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": redis_url,
            "KEY_PREFIX": f"flood-test-{uuid.uuid4().hex}",
        },
    }
    from hub.ocpi.flood import Window, failures

    try:
        assert [a.status_code for a in _flood(ocpi_client, 6)] == [401] * 5 + [429]
        # a second web process would read the same counter: ask Redis itself
        assert failures(Window.of("127.0.0.1")) == 6
    finally:
        # never clear(): on Redis that is FLUSHDB, and the database is shared with the broker
        caches["default"].delete(Window.of("127.0.0.1").key)
