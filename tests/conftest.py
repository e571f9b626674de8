"""Fixtures shared by the whole suite.

A fixture name means one thing everywhere (a conftest.py holds those its directory shares):
- `cpo_platform`, `emsp_platform`: a `Platform` row, registered;
- `cpo_party`, `emsp_party`: a registered party as `(Platform, token it calls the hub with)`;
- `cpo_token`, `emsp_token`: that token alone;
- `cpo_server`, `emsp_server`, `*_server`: a running simulated partner (partners/);
- `connected_cpo`: `(running simulated partner, its Platform)` once connected to the hub;
- `net`: simulated partners around the live hub (tests/integration/hubnet.py and the like);
- `seeded`, `one_of_each`: the rows a test module starts from.
Rows come from tests/factories."""

import base64
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client

from tests import contract
from tests.factories import issue_token, registered_party


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    """Each test starts with an empty cache: counters such as the unauthenticated-request
    limit (hub/ocpi/flood.py) must not leak from one test into the next (the local-memory
    cache of settings.test is per process, so this is parallel-safe)."""
    from django.core.cache import cache

    from hub.ocpi import directory_cache

    cache.clear()
    # The directory copies too: a flushed database (TransactionTestCase) sends no signal.
    directory_cache.clear_local()


@pytest.fixture(autouse=True)
def _ocpi_contract() -> Iterator[None]:
    """Fail any test during which the hub produced a response breaking the OCPI contract."""
    contract.take_violations()
    yield
    found = contract.take_violations()
    assert not found, "OCPI contract violations:\n" + "\n".join(found)


class OcpiTestClient:
    """Calls the hub in-process as a partner would: token header, ids, JSON bodies."""

    def __init__(self, token: str | None = None, form: str = "base64") -> None:
        self.token = token
        self.form = form
        self.django = Client()

    def headers(
        self, token: str | None, form: str | None, extra: dict[str, str] | None
    ) -> dict[str, str]:
        headers = {"X-Request-ID": str(uuid.uuid4()), "X-Correlation-ID": str(uuid.uuid4())}
        token = token if token is not None else self.token
        form = form or self.form
        if token:
            value = base64.b64encode(token.encode()).decode() if form == "base64" else token
            headers["Authorization"] = f"Token {value}"
        headers.update(extra or {})
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        raw: bytes | str | None = None,
        content_type: str = "application/json",
        token: str | None = None,
        form: str | None = None,
        headers: dict[str, str] | None = None,
        query: dict[str, Any] | None = None,
    ) -> Any:
        import json as jsonlib

        body: bytes | str = b""
        if raw is not None:
            body = raw
        elif json is not None:
            body = jsonlib.dumps(json)
        all_headers = self.headers(token, form, headers)
        response = self.django.generic(
            method.upper(),
            path + (("?" + "&".join(f"{k}={v}" for k, v in query.items())) if query else ""),
            data=body,
            content_type=content_type,
            headers=all_headers,
        )
        response.sent_headers = all_headers
        return response

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)


@pytest.fixture
def ocpi_client() -> OcpiTestClient:
    """An unauthenticated OCPI client; pass `token=` per call or set `.token`."""
    return OcpiTestClient()


@pytest.fixture
def cpo_party(db: None) -> tuple[Any, str]:
    """A registered CPO platform (NL*CPA) and its access token."""
    return registered_party("CPO", "NL", "CPA")


@pytest.fixture
def emsp_party(db: None) -> tuple[Any, str]:
    """A registered eMSP platform (DE*MSA) and its access token."""
    return registered_party("EMSP", "DE", "MSA")


@pytest.fixture
def hub_url(live_server: Any, settings: Any) -> str:
    """The live hub's base URL; the hub hands out URLs on it (OCPI_BASE_URL)."""
    settings.OCPI_BASE_URL = live_server.url
    return str(live_server.url)


__all__ = ["OcpiTestClient", "issue_token"]


@pytest.fixture
def celery_worker_factory(transactional_db: None, tmp_path: Any) -> Iterator[Any]:
    """Start real Celery workers (settings overrides as environment variables); all are
    stopped at the end of the test."""
    from django.conf import settings

    from hub.celery import app
    from tests.worker import CeleryWorkerProcess

    with app.connection_for_write() as conn:
        for queue in settings.HUB_WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)
    started: list[CeleryWorkerProcess] = []

    def start(**env: str) -> CeleryWorkerProcess:
        log_dir = tmp_path / f"worker-{len(started)}"
        log_dir.mkdir()
        worker = CeleryWorkerProcess(log_dir, env=env).start()
        started.append(worker)
        return worker

    try:
        yield start
    finally:
        for worker in started:
            worker.stop()


@pytest.fixture
def celery_worker_process(celery_worker_factory: Any) -> Any:
    """A real Celery worker consuming this xdist worker's broker namespace."""
    return celery_worker_factory()


def pytest_sessionfinish(session: Any, exitstatus: int) -> None:
    """Remove this run's broker folders (the test database is destroyed by pytest-django)."""
    import os
    import shutil
    from pathlib import Path

    run_id = os.environ.get("HUB_TEST_RUN_ID")
    if not run_id or os.environ.get("PYTEST_XDIST_WORKER"):
        return
    for folder in (Path(__file__).resolve().parent.parent / ".run").glob(f"test-broker-{run_id}-*"):
        shutil.rmtree(folder, ignore_errors=True)
