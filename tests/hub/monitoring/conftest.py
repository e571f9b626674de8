"""Fixtures of the health and metrics tests."""

import socket
from collections.abc import Iterator

import pytest

from hub.celery import app


@pytest.fixture
def broker_down(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The broker URL points at a port on 127.0.0.1 that nothing listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    # a closed port now: connections are refused at once
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    saved = app.conf.broker_url
    app.conf.broker_url = f"redis://127.0.0.1:{port}/0"
    try:
        yield
    finally:
        app.conf.broker_url = saved
