"""Health and metrics on the real stack: a real Celery worker and a real beat on the broker
and database of the suite, partners on 127.0.0.1 and a delivery through the outbox."""

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from hub.models import DeliveryStatus, Heartbeat, PushDelivery
from tests.hub.monitoring.scrape import samples, scrape, value
from tests.integration.hubnet import network, routing_headers
from tests.integration.test_location_broadcast import location
from tests.worker import CeleryBeatProcess, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

QUEUES = ("default", "ocpi_push", "ocpi_money")
# Beat sends a heartbeat every second here; three missed ones make a component stale.
HEARTBEAT = {"HUB_HEARTBEAT_INTERVAL_S": "1", "HUB_HEARTBEAT_STALE_AFTER_S": "3"}


@pytest.fixture
def celery_beat_factory(tmp_path: Path) -> Iterator[Callable[..., CeleryBeatProcess]]:
    started: list[CeleryBeatProcess] = []

    def start(**env: str) -> CeleryBeatProcess:
        log_dir = tmp_path / f"beat-{len(started)}"
        log_dir.mkdir()
        beat = CeleryBeatProcess(log_dir, env=env).start()
        started.append(beat)
        return beat

    try:
        yield start
    finally:
        for beat in started:
            beat.stop()


def healthz(client: Client) -> tuple[int, dict[str, Any]]:
    response = client.get("/healthz")
    return response.status_code, json.loads(response.content)


def test_healthz_follows_the_real_worker_and_beat(
    celery_worker_factory: Any, celery_beat_factory: Any, settings: Any
) -> None:
    # given: a worker and beat running, the web side judging with the same bound
    settings.HUB_HEARTBEAT_STALE_AFTER_S = 3
    client = Client()
    worker = celery_worker_factory()
    beat = celery_beat_factory(**HEARTBEAT)
    # then: all up once beat has sent and the worker consumed a heartbeat on every queue
    up = wait_until(lambda: healthz(client)[0] == 200, timeout=60)
    assert up, f"{healthz(client)}\n{beat.log_tail()}\n{worker.log_tail()}"
    status, body = healthz(client)
    assert body["checks"] == {"database": "up", "broker": "up", "beat": "up", "worker": "up"}
    assert set(Heartbeat.objects.values_list("name", flat=True)) == {
        "beat",
        *(f"worker:{queue}" for queue in QUEUES),
    }
    # when: the worker stops, beat goes on sending
    worker.stop()
    # then: the workers are down (sent, never consumed), beat still up
    all_down = dict.fromkeys(QUEUES, "down")
    assert wait_until(lambda: healthz(client)[1]["queues"] == all_down, timeout=60), healthz(client)
    status, body = healthz(client)
    assert status == 503
    assert body["down"] == ["worker"]
    assert body["checks"]["beat"] == "up"
    # when: beat stops too
    beat.stop()
    # then: beat is down and nobody can tell about the workers
    assert wait_until(lambda: "beat" in healthz(client)[1].get("down", []), timeout=60)
    status, body = healthz(client)
    assert status == 503
    assert body["checks"]["beat"] == "down"
    assert body["checks"]["worker"] == "unknown"


def test_metrics_after_an_ocpi_push_and_its_deliveries(
    hub_url: str, celery_worker_process: Any
) -> None:
    # given: a CPO and two eMSPs, one of which answers every location push with HTTP 503
    client = Client()
    before = scrape(client)
    with network(cpos=1, emsps=2) as net:
        ((cpo, _),) = net["cpos"]
        (healthy, _), (failing, failing_platform) = net["emsps"]
        failing.set_behaviour("/ocpi/2.2.1/locations", status=503)
        # when: the CPO PUTs a location to the hub
        response = cpo.request(
            "PUT",
            "locations/NL/CP1/LOC1",
            role="RECEIVER",
            json=location(),
            headers=routing_headers(frm=("NL", "CP1")),
        )
        assert response.status_code in (200, 201)
        # then: the healthy eMSP got it; the failing one was tried and waits for a retry
        assert wait_until(lambda: healthy.requests_to("/ocpi/2.2.1/locations/NL/CP1/LOC1"))
        assert wait_until(
            lambda: PushDelivery.objects.filter(
                receiver=failing_platform, status=DeliveryStatus.PENDING, attempts__gte=1
            ).exists()
        ), celery_worker_process.log_tail()
        text = scrape(client)
    # the inbound PUT is counted under its module, method, HTTP and OCPI status
    put = {"module": "locations", "method": "PUT", "http_status": str(response.status_code)}
    put_before = value(before, "ocpi_hub_requests_total", **put, ocpi_status="1000") or 0
    assert value(text, "ocpi_hub_requests_total", **put, ocpi_status="1000") == put_before + 1
    assert value(text, "ocpi_hub_request_duration_seconds_count", module="locations", method="PUT")
    # the retrying delivery is PENDING for the failing receiver, named by id and name
    pending = value(text, "ocpi_hub_deliveries", state="PENDING", receiver=str(failing_platform.pk))
    assert (
        pending
        == PushDelivery.objects.filter(
            receiver=failing_platform, status=DeliveryStatus.PENDING
        ).count()
    )
    assert pending is not None and pending >= 1
    names = {
        got["receiver_name"]
        for got, _ in samples(text, "ocpi_hub_deliveries")
        if got["receiver"] == str(failing_platform.pk)
    }
    assert names == {failing_platform.name}
    # the queues, circuits and sources are reported
    queues = {got["queue"] for got, _ in samples(text, "ocpi_hub_broker_queue_length")}
    assert queues == set(QUEUES)
    circuits = {got["state"] for got, _ in samples(text, "ocpi_hub_receiver_circuits")}
    assert circuits == {"CLOSED", "OPEN", "HALF_OPEN"}
    assert value(text, "ocpi_hub_metrics_source_up", source="broker") == 1
