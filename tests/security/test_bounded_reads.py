"""Unbounded reads from partners (issue 10, defect 3): a receiver answering with a gzip bomb,
an endless body, or one byte a second (in its body or its headers) must not hold a hub thread
or its memory. Every outbound call reads at most OCPI_MAX_RESPONSE_BYTES decompressed bytes
(or the platform's own cap) and ends by its wall-clock deadline — in a forward, a pull, a
still-alive probe and the credentials handshake — and at most OCPI_FORWARD_MAX_CONCURRENT
forwards wait on one receiver at once.

The partners are real HTTP servers on 127.0.0.1 (`tests.partners.hostile`), the hub the live
test server."""

import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from hub.models import ConnectionStatus, Location, OcpiExchange, Platform, ProxiedUrl
from hub.ocpi.routing import PartyRef
from hub.services.registry.stillalive import platform_probe
from hub.services.sync import SyncError, sync_module
from partners.ocpi import OcpiCallError
from partners.simulated import SimulatedPartner
from tests.integration.hubnet import connect, role
from tests.partners.hostile import HostilePartner, drip, drip_headers, endless, gzip_bomb

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CAP = 1024 * 1024  # small, so that a missing cap shows as a success, not as a slow test
BOMB = 64 * CAP  # ~64 KiB on the wire
DEADLINE_S = 1.5
CP1 = PartyRef.of("NL", "CP1")


@dataclass
class Net:
    hostile: HostilePartner  # CPO NL*CP1
    healthy: SimulatedPartner  # CPO NL*CP2
    emsp: SimulatedPartner  # DE*MS1, the caller
    hostile_platform: Platform


@pytest.fixture
def bounds(settings: Any) -> None:
    settings.OCPI_MAX_RESPONSE_BYTES = CAP
    settings.OCPI_CALL_DEADLINE_S = DEADLINE_S
    settings.OCPI_FORWARD_TIMEOUT_S = DEADLINE_S
    settings.OCPI_STILL_ALIVE_TIMEOUT_S = DEADLINE_S


@pytest.fixture
def net(hub_url: str, bounds: None) -> Iterator[Net]:
    with (
        HostilePartner(roles=[role("CPO", "NL", "CP1")], name="hostile") as hostile,
        SimulatedPartner(roles=[role("CPO", "NL", "CP2")], name="healthy") as healthy,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS1")], name="emsp") as emsp,
    ):
        platform = connect(hostile, "CPO 1")
        connect(healthy, "CPO 2")
        connect(emsp, "eMSP 1")
        for cpo, party_id in ((hostile, "CP1"), (healthy, "CP2")):
            cpo.set_objects("locations", [location(party_id)])
        yield Net(hostile, healthy, emsp, platform)


def location(party_id: str) -> dict[str, Any]:
    return {
        "country_code": "NL",
        "party_id": party_id,
        "id": "LOC1",
        "last_updated": "2024-05-01T10:00:00Z",
    }


def forward(net: Net, party_id: str = "CP1") -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = net.emsp.request(
        "GET",
        "locations",
        role="SENDER",
        from_party=("DE", "MS1"),
        to_party=("NL", party_id),
        timeout=60,
    )
    return response, time.monotonic() - started


def assert_hub_error(response: httpx.Response, ocpi_status: int, *words: str) -> None:
    body = response.json()
    assert (response.status_code, body["status_code"]) == (200, ocpi_status), body
    for word in words:
        assert word in body["status_message"], body
    assert body.get("data") in (None, [], {}), body


def in_flight(partner: SimulatedPartner) -> int:
    return sum(1 for r in partner.received if r.response_status is None)


def last_outbound_error() -> str:
    row = OcpiExchange.objects.filter(direction="OUT").order_by("-pk").first()
    assert row is not None
    return row.error


# ---- forwards ----------------------------------------------------------------------------


@pytest.mark.parametrize("writer", [gzip_bomb(BOMB), endless()], ids=["gzip-bomb", "endless"])
def test_forward_answer_past_the_cap_is_4000_and_nothing_relayed(net: Net, writer: Any) -> None:
    # given
    net.hostile.set_hostile("locations", writer)
    # when
    response, elapsed = forward(net)
    # then
    assert_hub_error(response, 4000, "NL*CP1", f"exceeded {CAP} bytes")
    assert "Link" not in response.headers
    assert elapsed < DEADLINE_S + 2
    assert last_outbound_error().startswith("too large: the answer exceeded")
    assert not ProxiedUrl.objects.exists()


@pytest.mark.parametrize("writer", [drip(1.0), drip_headers(1.0)], ids=["body-drip", "header-drip"])
def test_forward_trickled_answer_is_4002_by_the_deadline(net: Net, writer: Any) -> None:
    net.hostile.set_hostile("locations", writer)
    response, elapsed = forward(net)
    assert_hub_error(response, 4002, "NL*CP1", f"within {DEADLINE_S:g}s")
    assert DEADLINE_S - 0.2 < elapsed < DEADLINE_S + 2
    assert last_outbound_error().startswith("deadline:")


def test_forward_cap_per_platform_override(net: Net) -> None:
    # given: the default cap lets a normal page through, the platform's own cap does not
    assert forward(net)[0].json()["status_code"] == 1000
    Platform.objects.filter(pk=net.hostile_platform.pk).update(max_response_bytes=1024)
    net.hostile.set_objects("locations", [location("CP1")] * 20)
    # when
    response, _ = forward(net)
    # then
    assert_hub_error(response, 4000, "exceeded 1024 bytes")
    # and another CPO, without an override, is read as before
    healthy, _ = forward(net, "CP2")
    assert healthy.json()["status_code"] == 1000


def test_forward_beyond_the_concurrency_cap_is_refused_at_once(net: Net, settings: Any) -> None:
    # given: the hostile CPO hangs (longer than the test waits), two slots per receiver
    settings.OCPI_FORWARD_MAX_CONCURRENT = 2
    settings.OCPI_FORWARD_TIMEOUT_S = settings.OCPI_CALL_DEADLINE_S = 8.0
    net.hostile.set_behaviour("locations", delay=6.0)
    answers: list[int] = []
    threads = [
        threading.Thread(target=lambda: answers.append(forward(net)[0].json()["status_code"]))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    net.hostile.wait_until(lambda: in_flight(net.hostile) >= 2, timeout=10)
    # when: a third forward to it
    response, elapsed = forward(net)
    # then: refused at once, nothing sent
    assert_hub_error(response, 4003, "NL*CP1", "busy", "retry later")
    assert elapsed < 1.5
    assert len(net.hostile.requests_to("/ocpi/2.2.1/locations")) == 2
    # and a forward to another receiver is served meanwhile
    other, elapsed = forward(net, "CP2")
    assert other.json()["status_code"] == 1000 and elapsed < 1.5
    # and once the slow ones end, the slots are free again
    net.hostile.reset_behaviour()
    for thread in threads:
        thread.join(timeout=15)
    assert answers == [1000, 1000]
    assert forward(net)[0].json()["status_code"] == 1000


# ---- pulls, probes, handshakes --------------------------------------------------------------


@pytest.mark.parametrize(
    ("writer", "words"),
    [(gzip_bomb(BOMB), f"exceeded {CAP} bytes"), (drip(1.0), f"within {DEADLINE_S:g}s")],
    ids=["gzip-bomb", "drip"],
)
def test_pull_sync_is_bounded_and_stores_nothing(net: Net, writer: Any, words: str) -> None:
    net.hostile.set_hostile("locations", writer)
    started = time.monotonic()
    with pytest.raises(SyncError, match=words):
        sync_module(platform=net.hostile_platform, party=CP1, module="locations")
    assert time.monotonic() - started < DEADLINE_S + 2
    assert not Location.objects.filter(party_id="CP1").exists()


@pytest.mark.parametrize(
    "writer", [gzip_bomb(BOMB), drip(1.0), drip_headers(1.0)], ids=["bomb", "drip", "headers"]
)
def test_still_alive_probe_is_bounded(net: Net, writer: Any) -> None:
    net.hostile.set_hostile("/ocpi/versions", writer)
    started = time.monotonic()
    assert platform_probe(platform_id=net.hostile_platform.pk) == ConnectionStatus.OFFLINE
    assert time.monotonic() - started < DEADLINE_S + 2


@pytest.mark.parametrize(
    ("writer", "words"),
    [(gzip_bomb(BOMB), f"exceeded {CAP} bytes"), (drip(1.0), f"within {DEADLINE_S:g}s")],
    ids=["gzip-bomb", "drip"],
)
def test_credentials_handshake_is_bounded(
    hub_url: str, bounds: None, writer: Any, words: str
) -> None:
    # given: a partner whose versions answer (read by the hub during its POST) is hostile
    with HostilePartner(roles=[role("CPO", "NL", "CP9")], name="hostile") as partner:
        partner.set_hostile("/ocpi/versions", writer)
        started = time.monotonic()
        # when it registers
        with pytest.raises(OcpiCallError) as refused:
            connect(partner, "CPO 9")
    # then: 3001 naming the bound, quickly, and nothing registered
    assert time.monotonic() - started < 2 * DEADLINE_S + 2
    assert refused.value.status_code == 3001, refused.value
    assert words in str(refused.value), refused.value
    assert not Platform.objects.filter(name="CPO 9", registered=True).exists()
    assert not Platform.objects.filter(roles__party_id="CP9").exists()
