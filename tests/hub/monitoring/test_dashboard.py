"""docs/grafana-dashboard.json reads only metric names and labels that /metrics exposes."""

import json
import re
from pathlib import Path

import pytest
from django.test import Client

from tests.conftest import OcpiTestClient
from tests.factories import HeartbeatFactory, PushDeliveryFactory, registered_party
from tests.hub.monitoring.scrape import scrape
from tests.worker import ROOT

pytestmark = pytest.mark.django_db(transaction=True)

DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


def dashboard_exprs(path: Path) -> list[str]:
    dashboard = json.loads(path.read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel.get("targets", [])]


def test_dashboard_queries_only_exposed_metrics_and_labels(client: Client) -> None:
    # given: one OCPI request, one open delivery, one heartbeat: every family has samples
    _, token = registered_party("CPO", "NL", "CPA")
    OcpiTestClient(token).get("/ocpi/versions")
    PushDeliveryFactory()
    HeartbeatFactory()
    # when
    text = scrape(client)
    exposed = set(re.findall(r"^(ocpi_hub_\w+)\{", text, flags=re.MULTILINE))
    labels = set(re.findall(r"[{,](\w+)=\"", text))
    # then
    exprs = dashboard_exprs(DASHBOARD)
    used = {name for expr in exprs for name in re.findall(r"ocpi_hub_\w+", expr)}
    used_labels = {
        label
        for expr in exprs
        for group in re.findall(r"by \(([^)]*)\)|\{(\w+)[=!]~?", expr)
        for part in group
        for label in re.split(r"\s*,\s*", part)
        if label and label != "le"
    }
    assert used, "the dashboard queries nothing"
    assert used <= exposed, used - exposed
    assert used_labels <= labels, used_labels - labels
