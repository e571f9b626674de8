"""/healthz: database, broker, beat and workers, each up or down, bounded in time; 503 names
what is down and the body never carries a URL or an error text."""

import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hub.celery import app
from hub.models import Heartbeat, OcpiExchange
from hub.services.monitoring.bounded import CheckFailed, run_bounded
from hub.services.monitoring.heartbeat import beat_sent_heartbeat, worker_ran_heartbeat
from tests.factories import HeartbeatFactory
from tests.hub.monitoring.scrape import health

# The checks read the database from their own thread (bounded in time): rows must be committed.
pytestmark = pytest.mark.django_db(transaction=True)

QUEUES = ("default", "ocpi_push", "ocpi_money")


def stamps(*, beat_age_s: float | None = 0, worker_age_s: float | None = 0) -> None:
    now = timezone.now()
    if beat_age_s is not None:
        HeartbeatFactory(name="beat", at=now - timedelta(seconds=beat_age_s))
    if worker_age_s is not None:
        for queue in QUEUES:
            HeartbeatFactory(name=f"worker:{queue}", at=now - timedelta(seconds=worker_age_s))


def test_healthz_all_up_is_200_naming_every_check(client: Client) -> None:
    # given: beat sent and every queue consumed just now
    stamps()
    # when
    status, body = health(client)
    # then
    assert status == 200
    assert body == {
        "status": "up",
        "checks": {"database": "up", "broker": "up", "beat": "up", "worker": "up"},
        "queues": dict.fromkeys(QUEUES, "up"),
    }


def test_healthz_broker_down_is_503_naming_the_broker(client: Client, broker_down: None) -> None:
    # given: fresh heartbeats, but the broker URL is a closed port
    stamps()
    # when
    status, body = health(client)
    # then
    assert status == 503
    assert body["checks"]["broker"] == "down"
    assert body["down"] == ["broker"]
    assert "127.0.0.1" not in str(body) and "redis" not in str(body)


def test_healthz_filesystem_broker_without_its_folder_is_down(
    client: Client, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # given: the embedded broker, pointed at a folder that does not exist
    missing = str(tmp_path / "no-broker")
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.setitem(app.conf, "broker_url", "filesystem://")
    monkeypatch.setitem(
        app.conf,
        "broker_transport_options",
        {"data_folder_in": missing, "data_folder_out": missing, "control_folder": missing},
    )
    stamps()
    # when
    status, body = health(client)
    # then
    assert status == 503
    assert body["down"] == ["broker"]


def test_healthz_stale_worker_is_503_naming_the_worker(client: Client, settings: Any) -> None:
    # given: beat sends, but no worker consumed anything for longer than the bound
    settings.HUB_HEARTBEAT_STALE_AFTER_S = 90
    stamps(beat_age_s=5, worker_age_s=300)
    # when
    status, body = health(client)
    # then
    assert status == 503
    assert body["status"] == "down"
    assert body["down"] == ["worker"]
    assert body["checks"]["beat"] == "up"
    assert body["queues"] == dict.fromkeys(QUEUES, "down")


def test_healthz_one_queue_without_a_consumer_is_worker_down(client: Client) -> None:
    # given: the money queue's workers stopped (docker-compose runs them apart)
    stamps()
    Heartbeat.objects.filter(name="worker:ocpi_money").update(
        at=timezone.now() - timedelta(hours=1)
    )
    # when
    status, body = health(client)
    # then
    assert status == 503
    assert body["down"] == ["worker"]
    assert body["queues"] == {"default": "up", "ocpi_push": "up", "ocpi_money": "down"}


def test_healthz_stale_beat_is_503_naming_beat(client: Client) -> None:
    # given: workers consumed recently, but beat has sent nothing for an hour
    stamps(beat_age_s=3600, worker_age_s=1)
    # when
    status, body = health(client)
    # then: beat down, the workers still up
    assert status == 503
    assert body["down"] == ["beat"]
    assert body["checks"]["worker"] == "up"


def test_healthz_without_any_heartbeat_names_beat_and_unknown_workers(client: Client) -> None:
    # given: a hub whose beat never ran: nothing was sent for a worker to consume
    # when
    status, body = health(client)
    # then: beat down; the workers cannot be told, and are not reported up
    assert status == 503
    assert body["down"] == ["beat", "worker"]
    assert body["checks"]["worker"] == "unknown"
    assert body["queues"] == dict.fromkeys(QUEUES, "unknown")


def test_healthz_is_not_an_ocpi_exchange_and_never_a_debug_page(
    client: Client, settings: Any
) -> None:
    # given
    settings.DEBUG = True
    stamps()
    # when
    ok = client.get("/healthz")
    refused = client.post("/healthz")
    # then
    assert ok.status_code == 200
    assert refused.status_code == 405 and b"Traceback" not in refused.content
    assert ok["Cache-Control"].startswith("max-age=0")
    assert not OcpiExchange.objects.exists()


def test_run_bounded_gives_up_on_a_check_that_hangs(settings: Any) -> None:
    # given: a check that waits until released
    settings.HUB_HEALTH_TIMEOUT_S = 0.2
    release = threading.Event()
    # when / then: the caller gets CheckFailed instead of waiting for it
    try:
        with pytest.raises(CheckFailed):
            run_bounded("hanging", release.wait)
    finally:
        release.set()


def test_run_bounded_turns_an_error_into_check_failed() -> None:
    def broken() -> None:
        raise ConnectionRefusedError("redis://secret@10.0.0.1:6379")

    with pytest.raises(CheckFailed) as failed:
        run_bounded("broken", broken)
    assert "secret" not in str(failed.value)


def test_stamps_beat_and_only_known_queues() -> None:
    # when
    beat_sent_heartbeat()
    known = worker_ran_heartbeat("ocpi_push")
    unknown = worker_ran_heartbeat("celery")
    # then
    assert known is True and unknown is False
    assert set(Heartbeat.objects.values_list("name", flat=True)) == {"beat", "worker:ocpi_push"}
