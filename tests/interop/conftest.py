"""Interop fixtures: extrawest-ocpi partners in their own virtualenv (.venv-extrawest) and a
real Celery worker shared by a module's tests."""

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.interop.extrawest_partner import ensure_extrawest_venv
from tests.worker import CeleryWorkerProcess


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
        for queue in ("default", "ocpi_push"):
            conn.default_channel.queue_purge(queue)
    process = CeleryWorkerProcess(
        Path(tmp_path_factory.mktemp("interop-worker")), env={"OCPI_BASE_URL": live_server.url}
    ).start()
    try:
        yield process
    finally:
        process.stop()
