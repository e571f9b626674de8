"""CDR guaranteed delivery end to end, with simulated partners and real Celery workers: a CPO's
CDR reaches the eMSP owning its token once (never another eMSP), survives that eMSP failing
for a while, goes DEAD past its retry window and is delivered on resend, and survives a worker
killed mid-delivery (2.2.1 mod_cdrs; DESIGN §5)."""

import os
import signal
from typing import Any

import pytest
from django.utils import timezone

from hub.models import Cdr, DeliveryStatus, PushDelivery
from hub.services.delivery.receivers import delivery_resend
from hub.services.delivery.sweep import delivery_sweep
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.integration.hubnet import network, routing_headers
from tests.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

PATH = "/ocpi/2.2.1/cdrs"  # the simulated eMSP's cdrs RECEIVER endpoint URL
FAST_RETRIES = {"OCPI_PUSH_RETRY_BASE_S": "0.2", "OCPI_PUSH_RETRY_MAX_S": "0.5"}


def posts(partner: Any) -> list[Any]:
    """Every CDR POST the partner received at its cdrs endpoint (the URL itself, no path)."""
    return [r for r in partner.requests_to(PATH, method="POST") if r.path.rstrip("/") == PATH]


def accepted(partner: Any) -> list[Any]:
    return [r for r in posts(partner) if r.response_status and 200 <= r.response_status < 300]


def delivery() -> PushDelivery:
    return PushDelivery.objects.get(module="cdrs")


def status_is(expected: str) -> bool:
    return delivery().status == expected


@pytest.fixture
def net(hub_url: str) -> Any:
    with network(cpos=1, emsps=2) as parties:
        yield parties


def test_cdr_reaches_the_owning_emsp_once_and_never_the_other(
    net: Any, celery_worker_factory: Any
) -> None:
    celery_worker_factory(**FAST_RETRIES)
    ((cpo, _),) = net["cpos"]
    (owner, _), (other, _) = net["emsps"]
    headers = routing_headers(to=("DE", "MS1"), frm=("NL", "CP1"))
    # when: the CPO POSTs a CDR of DE*MS1's token
    response = cpo.request("POST", "cdrs", json=cdr(), headers=headers)
    # then: 1000 with the hub's Location, which the CPO can follow
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    location = response.headers["Location"]
    assert location.endswith("/ocpi/2.2.1/cpo/cdrs/NL/CP1/CDR-0001")
    assert cpo.request("GET", location).json()["data"] == cdr()
    # and the owner receives it, from the CPO, at its endpoint URL
    received = owner.wait_for(lambda r: r.path.rstrip("/") == PATH, timeout=20)
    assert received.method == "POST"
    assert received.json == cdr()
    assert received.headers["OCPI-from-party-id"] == "CP1"
    assert received.headers["OCPI-to-party-id"] == "MS1"
    assert received.headers["X-Correlation-ID"] == headers["X-Correlation-ID"]
    # the eMSP's Location is recorded as the proof of delivery
    assert wait_until(lambda: status_is(DeliveryStatus.DELIVERED), timeout=20)
    assert delivery().receipt == f"{owner.base_url}{PATH}/CDR-0001"
    # when: the CPO replays the same POST (it lost our answer)
    again = cpo.request("POST", "cdrs", json=cdr(), headers=headers)
    assert again.json()["status_code"] == 1000
    assert again.headers["Location"] == location
    # then: nothing more is sent; exactly one POST at the owner, none at the other eMSP
    delivery_sweep()
    assert not wait_until(lambda: len(posts(owner)) > 1, timeout=2)
    assert len(posts(owner)) == 1
    assert not other.requests_to("/ocpi/2.2.1/cdrs")
    assert PushDelivery.objects.filter(module="cdrs").count() == 1


def test_emsp_failing_for_a_while_gets_the_cdr_exactly_once(
    net: Any, celery_worker_factory: Any
) -> None:
    celery_worker_factory(**FAST_RETRIES)
    ((cpo, _),) = net["cpos"]
    (owner, _), (other, _) = net["emsps"]
    owner.set_behaviour(PATH, status=500, times=3)
    owner.set_behaviour(PATH, status=429, times=1)
    cpo.request("POST", "cdrs", json=cdr())
    assert wait_until(lambda: status_is(DeliveryStatus.DELIVERED), timeout=30)
    assert len(posts(owner)) == 5  # 4 refused attempts, then the accepted one
    assert len(accepted(owner)) == 1
    assert not other.requests_to("/ocpi/2.2.1/cdrs")


def test_emsp_down_past_the_window_is_dead_then_resend_delivers(
    net: Any, celery_worker_factory: Any, settings: Any
) -> None:
    # The window is stamped at ingest, by the hub (this process).
    settings.OCPI_CDR_RETRY_WINDOW_S = 1.5
    celery_worker_factory(**FAST_RETRIES)
    ((cpo, _),) = net["cpos"]
    (owner, _), _ = net["emsps"]
    owner.set_behaviour(PATH, status=503)
    cpo.request("POST", "cdrs", json=cdr())
    # then: retried, then DEAD (kept, visible), never delivered
    assert wait_until(lambda: status_is(DeliveryStatus.DEAD), timeout=30)
    assert len(posts(owner)) >= 2
    assert not accepted(owner)
    assert "retry window passed" in delivery().last_error
    # when: the eMSP is back and staff resend
    owner.reset_behaviour()
    delivery_resend(delivery=delivery())
    # then: delivered once
    assert wait_until(lambda: status_is(DeliveryStatus.DELIVERED), timeout=20)
    assert len(accepted(owner)) == 1
    assert Cdr.objects.count() == 1


def test_worker_killed_mid_delivery_the_cdr_is_still_delivered(
    net: Any, celery_worker_factory: Any, settings: Any
) -> None:
    # The first worker leases its claim for 2 s only, so the sweeper may hand it out again soon.
    first = celery_worker_factory(OCPI_PUSH_LEASE_S="2", **FAST_RETRIES)
    settings.OCPI_PUSH_REQUEUE_AFTER_S = 0  # this process runs the sweeper
    ((cpo, _),) = net["cpos"]
    (owner, _), _ = net["emsps"]
    owner.set_behaviour(PATH, delay=3.0, times=1)  # the first POST hangs for 3 s
    cpo.request("POST", "cdrs", json=cdr())
    # when: the worker is SIGKILLed while the eMSP is still working on the POST
    owner.wait_for(lambda r: r.path.rstrip("/") == PATH, timeout=20, answered=False)
    assert first.process is not None
    os.kill(first.process.pid, signal.SIGKILL)
    first.process.wait(timeout=10)
    assert delivery().status == DeliveryStatus.IN_FLIGHT  # nobody recorded an answer
    # then: once its lease has expired, the sweeper hands it to a new worker
    assert wait_until(lambda: delivery().locked_until < timezone.now(), timeout=10)
    celery_worker_factory(OCPI_PUSH_LEASE_S="2", **FAST_RETRIES)
    # (the killed worker may also have held a ClientInfo push of the net's registrations:
    # the sweep releases those too, so count at least the CDR's)
    assert delivery_sweep()["released"] >= 1
    assert wait_until(lambda: status_is(DeliveryStatus.DELIVERED), timeout=30)
    # at-least-once: the eMSP saw the first POST (which it processed after the worker died)
    # and the resend; it de-duplicates on the CDR's id. Never more than twice.
    count = len(posts(owner))
    print(f"CDR POSTs received by the eMSP after the worker was killed: {count}")
    assert 1 <= count <= 2
    assert delivery().receipt == f"{owner.base_url}{PATH}/CDR-0001"
