"""Interop fixtures: extrawest-ocpi partners in their own virtualenv (.venv-extrawest) and a
real Celery worker shared by a module's tests."""

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from partners.simulated import SimulatedPartner
from tests.interop.extrawest_partner import ExtrawestPartner, ensure_extrawest_venv
from tests.worker import CeleryWorkerProcess, wait_until

QUEUES = settings.HUB_WORKER_QUEUES
# A task scheduled with a countdown (the outbox's ordering wait is 0.3 s) may still be held by
# the worker once the queues are empty.
COUNTDOWN_GRACE_S = 1.0


@pytest.fixture(scope="session")
def extrawest_python() -> str:
    """Create (once, under a lock shared by xdist workers) the extrawest-ocpi virtualenv."""
    return str(ensure_extrawest_venv())


@pytest.fixture(scope="module")
def interop_worker(
    live_server: Any, django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[CeleryWorkerProcess]:
    """One real Celery worker for a module, on this run's broker and test database: starting
    and stopping one per test cost more than the tests. Between tests the database is emptied;
    a task left over from the previous test finds no delivery and does nothing."""
    from hub.celery import app

    with app.connection_for_write() as conn:
        for queue in QUEUES:
            conn.default_channel.queue_purge(queue)
    process = CeleryWorkerProcess(
        Path(tmp_path_factory.mktemp("interop-worker")), env={"OCPI_BASE_URL": live_server.url}
    ).start()
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def extrawest_emsp_net(
    hub_url: str, interop_worker: CeleryWorkerProcess, extrawest_python: str
) -> Iterator[tuple[ExtrawestPartner, Any, SimulatedPartner]]:
    """An extrawest eMSP (DE*EXE) registered by the hub (`ocpi_connect`) and a simulated CPO
    (NL*CP1) registered by itself: (extrawest, its Platform, the CPO)."""
    from django.core.management import call_command

    from hub.models import Platform
    from tests.integration.hubnet import connect, role

    with (
        ExtrawestPartner(role="EMSP", country_code="DE", party_id="EXE") as extrawest,
        SimulatedPartner(roles=[role("CPO", "NL", "CP1")]) as cpo,
    ):
        call_command(
            "ocpi_connect",
            versions_url=extrawest.versions_url,
            token_a=extrawest.token_a,
            name="Extrawest eMSP",
        )
        connect(cpo, "CPO 1")
        yield extrawest, Platform.objects.get(name="Extrawest eMSP"), cpo


def _queued() -> int:
    """Messages waiting in the module worker's queues."""
    from kombu.exceptions import ChannelError

    from hub.celery import app

    total = 0
    with app.connection_for_write() as conn:
        for queue in QUEUES:
            channel = conn.channel()
            try:
                total += channel.queue_declare(queue=queue, passive=True).message_count
            except ChannelError:  # never declared on this broker: nothing waits in it
                pass
            finally:
                channel.close()
    return total


def _outbox_settled() -> bool:
    """The test is over: what is still PENDING (retries to partners already stopped) is
    cancelled; True once no delivery is being sent."""
    from hub.models import DeliveryStatus, PushDelivery

    PushDelivery.objects.filter(status=DeliveryStatus.PENDING).update(
        status=DeliveryStatus.CANCELLED, last_error="test over"
    )
    return not PushDelivery.objects.filter(status=DeliveryStatus.IN_FLIGHT).exists()


@pytest.fixture(autouse=True)
def _interop_worker_idle(request: pytest.FixtureRequest) -> Iterator[None]:
    """Before the database is emptied after a test, let the module's worker go idle: a task
    running during the flush (TRUNCATE on PostgreSQL) can deadlock with it. Depends on
    transactional_db, so it is torn down before the flush."""
    if "interop_worker" not in request.fixturenames:
        yield
        return
    request.getfixturevalue("transactional_db")
    yield
    wait_until(lambda: _outbox_settled() and _queued() == 0, timeout=30)
    time.sleep(COUNTDOWN_GRACE_S)
