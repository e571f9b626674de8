"""Project-level checks: the OpenAPI schema validates, migrations match the models, settings."""

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import call_command

from tests.conftest import OcpiTestClient

pytestmark = pytest.mark.django_db


def test_openapi_schema_validates_without_warnings(tmp_path: Path) -> None:
    out = tmp_path / "schema.yaml"
    call_command("spectacular", validate=True, fail_on_warn=True, file=str(out))
    schema = yaml.safe_load(out.read_text())
    paths = schema["paths"]
    assert {"/ocpi/versions", "/ocpi/2.2.1/credentials", "/ocpi/2.2.1/hubclientinfo"} <= set(paths)
    post = paths["/ocpi/2.2.1/credentials"]["post"]
    envelope = post["responses"]["200"]["content"]["application/json"]["schema"]
    assert set(envelope["required"]) == {"status_code", "timestamp"}
    assert {p["name"] for p in post["parameters"]} >= {"X-Request-ID", "X-Correlation-ID"}


def test_schema_and_docs_served_without_a_cdn(client: Any) -> None:
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "cdn." not in html and "unpkg" not in html and "jsdelivr" not in html


def test_no_missing_migrations() -> None:
    call_command("makemigrations", check=True, dry_run=True, verbosity=0)


def test_health_endpoint_names_every_check(ocpi_client: OcpiTestClient) -> None:
    # without beat and worker (tests/hub/monitoring and tests/integration run them)
    response = ocpi_client.django.get("/healthz")
    assert response.status_code == 503
    body = json.loads(response.content)
    assert set(body["checks"]) == {"database", "broker", "beat", "worker"}
    assert body["checks"]["database"] == "up"
    assert "beat" in body["down"]


def test_worker_queues_all_get_a_heartbeat() -> None:
    from django.conf import settings

    heartbeats = {
        entry["options"]["queue"]  # type: ignore[index]
        for entry in settings.CELERY_BEAT_SCHEDULE.values()
        if entry["task"] == "hub.heartbeat"
    }
    assert heartbeats == set(settings.HUB_WORKER_QUEUES)


def test_production_settings_refuse_to_start_without_secrets(monkeypatch: Any) -> None:
    import importlib
    import sys

    from django.core.exceptions import ImproperlyConfigured

    monkeypatch.delenv("DJANGO_SECRET_KEY", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    sys.modules.pop("settings.production", None)
    with pytest.raises(ImproperlyConfigured, match="DJANGO_SECRET_KEY"):
        importlib.import_module("settings.production")
