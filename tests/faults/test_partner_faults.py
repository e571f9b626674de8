"""Receivers misbehaving: answering 500 or 429, hanging past the hub's timeout, refusing
connections, redirecting (the hub never follows a redirect: it retries until the partner
answers again), and down past the retry window (OFFLINE, then GET resync via the hub)."""

import time
from typing import Any

import pytest

from hub.models import ConnectionStatus, Platform, PushAttempt
from tests.faults.ledger import pushed_evses
from tests.faults.scenario import settle
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]

FAULT_S = 4.0  # how long the fault lasts: several retries of every delivery


def attempts_to(base_url: str) -> int:
    return PushAttempt.objects.filter(url__startswith=base_url).count()


@pytest.mark.parametrize(
    ("scenario", "fault"),
    [
        ("eMSP answers HTTP 500", {"status": 500}),
        ("eMSP answers HTTP 429", {"status": 429}),
        ("eMSP hangs past the timeout", {"delay": 3.0}),
        ("eMSP redirects (307)", {"redirect_to": "self"}),
    ],
    ids=["http-500", "http-429", "hang", "redirect"],
)
def test_emsp_failing_then_recovering(stack_factory: Any, scenario: str, fault: Any) -> None:
    stack = stack_factory()
    failing = stack.ms1  # the CDR owner: CDRs and locations both meet the fault
    for module in ("locations", "cdrs"):
        prefix = f"/ocpi/2.2.1/{module}"
        if fault.get("redirect_to") == "self":
            failing.set_behaviour(prefix, redirect_to=failing.base_url + prefix)
        else:
            failing.set_behaviour(prefix, **fault)
    stack.driver.burst()
    # the fault is met (several attempts), and the healthy eMSP is not held back meanwhile
    assert wait_until(lambda: attempts_to(failing.base_url) >= 6, timeout=30)
    time.sleep(FAULT_S)
    stack.driver.burst(locations=4, patches=4, cdrs=1)
    failing.reset_behaviour()
    settle(stack, scenario)


def test_emsp_refusing_connections(stack_factory: Any) -> None:
    stack = stack_factory()
    down = stack.ms1
    base_url = down.base_url
    down.stop()  # its port now refuses connections
    stack.driver.burst()
    assert wait_until(lambda: attempts_to(base_url) >= 6, timeout=30)
    time.sleep(FAULT_S)
    down.start()  # back on the same port
    settle(stack, "eMSP refuses connections")


def get_all_locations(partner: Any) -> dict[str, dict[str, Any]]:
    """The eMSP's resync: GET all locations via the hub with date_from, following `Link`."""
    evses: dict[str, dict[str, Any]] = {}
    response = partner.request(
        "GET",
        "locations",
        role="SENDER",
        params={"date_from": "2024-01-01T00:00:00Z", "limit": 2},
    )
    pages = 0
    while True:
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["status_code"] == 1000, body
        for loc in body["data"]:
            evses[loc["id"]] = loc["evses"][0]
        pages += 1
        link = response.headers.get("Link")
        if not link:
            return evses
        next_url = link.split(";")[0].strip("<> ")
        response = partner.request("GET", next_url)


def test_emsp_down_past_the_retry_window_resyncs_by_get(stack_factory: Any) -> None:
    stack = stack_factory(OCPI_PUSH_RETRY_WINDOW_S="4")
    down = stack.ms1
    down.stop()
    stack.driver.burst()
    # then: past the window the hub gives up pushing state to it and marks it OFFLINE
    assert wait_until(
        lambda: Platform.objects.get(pk=stack.ms1_platform.pk).status == ConnectionStatus.OFFLINE,
        timeout=60,
    )
    # and the CPO keeps sending while it is OFFLINE
    stack.driver.burst(locations=4, patches=4, cdrs=1)
    down.start()
    # when it is back, it GETs everything through the hub (locations: state, not re-pushed);
    # CDRs are never dropped: they keep being pushed to it until accepted
    resynced: dict[str, dict[str, Any]] = {}

    def views() -> dict[str, dict[str, dict[str, Any]]]:
        if not resynced:
            resynced.update(get_all_locations(down))
        return {"MS1 (GET resync)": resynced, "MS2": pushed_evses(stack.ms2)}

    settle(stack, "eMSP down past the retry window", views=views, note="MS1 resynced by GET")
