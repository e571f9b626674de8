"""/metrics in prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR): the request
counters of several web processes are summed; the database gauges are read as always."""

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.hub.monitoring.scrape import scrape, value
from tests.worker import ROOT, hub_process_env

pytestmark = pytest.mark.django_db(transaction=True)

# One "web process": counts one answered OCPI request, as the exchange middleware does.
ONE_PROCESS = """
import django
django.setup()
from django.test import RequestFactory
from hub.ocpi.metrics import observe_request
request = RequestFactory().get("/ocpi/2.2.1/emsp/tariffs")
observe_request(request, http_status=200, ocpi_status=1000, duration_s=0.02)
"""


def test_metrics_sum_the_request_counters_of_every_process(
    tmp_path: Path, client: Client, monkeypatch: Any, settings: Any
) -> None:
    # given: two processes that each counted a request into the shared folder
    folder = tmp_path / "prometheus"
    folder.mkdir()
    env = hub_process_env(settings.OCPI_BASE_URL, {"PROMETHEUS_MULTIPROC_DIR": str(folder)})
    for _ in range(2):
        subprocess.run(  # noqa: S603 - our own interpreter and code
            [sys.executable, "-c", ONE_PROCESS], cwd=ROOT, env=env, check=True, timeout=120
        )
    # when: this web process scrapes in multiprocess mode
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
    text = scrape(client)
    # then: both processes' requests, and the gauges read from the database
    labels = {"module": "tariffs", "method": "GET", "http_status": "200", "ocpi_status": "1000"}
    assert value(text, "ocpi_hub_requests_total", **labels) == 2
    assert value(text, "ocpi_hub_request_duration_seconds_count", module="tariffs") == 2
    assert value(text, "ocpi_hub_receiver_circuits", state="OPEN") == 0
