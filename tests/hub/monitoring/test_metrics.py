"""/metrics: the OCPI request metrics, the state gauges read at scrape time (label values and
counts), bounded labels, and the optional bearer token."""

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from hub.models import CircuitState, DeliveryStatus, OcpiExchange
from hub.ocpi.metrics import ocpi_status_label
from tests.conftest import OcpiTestClient
from tests.factories import (
    HeartbeatFactory,
    PlatformFactory,
    PushDeliveryFactory,
    ReceiverCircuitFactory,
    registered_party,
)
from tests.hub.monitoring.scrape import samples, scrape, value

pytestmark = pytest.mark.django_db(transaction=True)

FAMILIES = (
    "ocpi_hub_requests_total",
    "ocpi_hub_request_duration_seconds_bucket",
    "ocpi_hub_deliveries",
    "ocpi_hub_outbox_oldest_due_age_seconds",
    "ocpi_hub_receiver_circuits",
    "ocpi_hub_heartbeat_age_seconds",
    "ocpi_hub_broker_queue_length",
    "ocpi_hub_metrics_source_up",
)


def requests_count(text: str, **labels: str) -> float:
    """The requests counted under every label set that includes `labels`."""
    return sum(
        n for got, n in samples(text, "ocpi_hub_requests_total") if labels.items() <= got.items()
    )


def test_metrics_count_ocpi_requests_by_module_method_and_status(client: Client) -> None:
    # given: a registered CPO; the counters are per process, so the test reads differences
    platform, token = registered_party("CPO", "NL", "CPA")
    ocpi = OcpiTestClient(token)
    ok = {"module": "versions", "method": "GET", "http_status": "200", "ocpi_status": "1000"}
    refused = {"module": "locations", "method": "GET", "http_status": "401", "ocpi_status": "2000"}
    before = scrape(client)
    # when: one answered request and one refused before any view ran
    assert ocpi.get("/ocpi/versions").status_code == 200
    assert ocpi.get("/ocpi/2.2.1/emsp/locations", token="wrong").status_code == 401
    after = scrape(client)
    # then
    assert requests_count(after, **ok) == requests_count(before, **ok) + 1
    assert requests_count(after, **refused) == requests_count(before, **refused) + 1
    histogram = {"module": "versions", "method": "GET", "le": "+Inf"}
    assert (value(after, "ocpi_hub_request_duration_seconds_bucket", **histogram) or 0) >= 1
    # and every family is there, the scrape itself counted nowhere
    names = {name for name in FAMILIES if samples(after, name)}
    assert names == set(FAMILIES) - {"ocpi_hub_deliveries", "ocpi_hub_heartbeat_age_seconds"}
    assert requests_count(after, module="unknown") == requests_count(before, module="unknown")
    assert OcpiExchange.objects.count() == 2


def test_metrics_gauges_read_the_outbox_circuits_and_heartbeats(client: Client) -> None:
    # given: a receiver with two due deliveries (one due for 10 minutes), a dead CDR and an
    # open circuit; another with one held; a fresh beat stamp
    now = timezone.now()
    slow = PlatformFactory(name="Slow eMSP")
    held = PlatformFactory(name="Held eMSP")
    PushDeliveryFactory(receiver=slow, object_key="A", next_attempt_at=now - timedelta(minutes=10))
    PushDeliveryFactory(receiver=slow, object_key="B")
    PushDeliveryFactory(receiver=slow, module="cdrs", object_key="C", status=DeliveryStatus.DEAD)
    PushDeliveryFactory(receiver=held, object_key="A", status=DeliveryStatus.HELD)
    PushDeliveryFactory(receiver=held, object_key="D", status=DeliveryStatus.DELIVERED)
    ReceiverCircuitFactory(receiver=slow, state=CircuitState.OPEN)
    ReceiverCircuitFactory(receiver=held)
    HeartbeatFactory(name="beat", at=now - timedelta(seconds=20))
    # when
    text = scrape(client)
    # then
    deliveries = {
        (labels["state"], labels["receiver"], labels["receiver_name"]): n
        for labels, n in samples(text, "ocpi_hub_deliveries")
    }
    assert deliveries == {
        ("PENDING", str(slow.pk), "Slow eMSP"): 2,
        ("DEAD", str(slow.pk), "Slow eMSP"): 1,
        ("HELD", str(held.pk), "Held eMSP"): 1,
    }
    push_age = value(text, "ocpi_hub_outbox_oldest_due_age_seconds", queue="ocpi_push")
    assert push_age is not None and push_age >= 600
    assert value(text, "ocpi_hub_outbox_oldest_due_age_seconds", queue="ocpi_money") == 0
    assert {labels["state"]: n for labels, n in samples(text, "ocpi_hub_receiver_circuits")} == {
        "CLOSED": 1,
        "OPEN": 1,
        "HALF_OPEN": 0,
    }
    beat_age = value(text, "ocpi_hub_heartbeat_age_seconds", name="beat")
    assert beat_age is not None and beat_age >= 20
    queues = {labels["queue"] for labels, _ in samples(text, "ocpi_hub_broker_queue_length")}
    assert queues == {"default", "ocpi_push", "ocpi_money"}
    assert value(text, "ocpi_hub_metrics_source_up", source="database") == 1
    assert value(text, "ocpi_hub_metrics_source_up", source="broker") == 1


def test_metrics_sum_receivers_past_the_cap_into_other(client: Client, settings: Any) -> None:
    # given: three receivers, room for one
    settings.HUB_METRICS_MAX_RECEIVERS = 1
    big, small1, small2 = PlatformFactory(), PlatformFactory(), PlatformFactory()
    for key in ("A", "B", "C"):
        PushDeliveryFactory(receiver=big, object_key=key)
    PushDeliveryFactory(receiver=small1, object_key="A")
    PushDeliveryFactory(receiver=small2, object_key="A")
    # when
    text = scrape(client)
    # then: the largest backlog keeps its series, the others are one
    pending = {
        labels["receiver"]: n
        for labels, n in samples(text, "ocpi_hub_deliveries")
        if labels["state"] == "PENDING"
    }
    assert pending == {str(big.pk): 3, "other": 2}


def test_metrics_with_the_broker_down_still_answer(client: Client, broker_down: None) -> None:
    # when
    text = scrape(client)
    # then: the broker's figures are missing and say so; the database's are there
    assert value(text, "ocpi_hub_metrics_source_up", source="broker") == 0
    assert value(text, "ocpi_hub_metrics_source_up", source="database") == 1
    assert not samples(text, "ocpi_hub_broker_queue_length")
    assert samples(text, "ocpi_hub_receiver_circuits")


def test_metrics_token_required_when_set(client: Client, settings: Any) -> None:
    # given
    settings.HUB_METRICS_TOKEN = "s3cret-metrics-token"
    # when
    missing = client.get("/metrics")
    wrong = client.get("/metrics", headers={"Authorization": "Bearer s3cret-metrics-tokeX"})
    other_scheme = client.get("/metrics", headers={"Authorization": "Token s3cret-metrics-token"})
    # then: refused without naming anything, the right token answered
    for refused in (missing, wrong, other_scheme):
        assert refused.status_code == 401
        assert refused["WWW-Authenticate"].startswith("Bearer")
        assert b"ocpi_hub" not in refused.content
    assert "ocpi_hub_receiver_circuits" in scrape(client, token="s3cret-metrics-token")


def test_metrics_open_without_a_token_and_gone_when_disabled(client: Client, settings: Any) -> None:
    # given: no token
    settings.HUB_METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 200
    # when: metrics are turned off, even DEBUG gives no debug page
    settings.HUB_METRICS_ENABLED = False
    settings.DEBUG = True
    gone = client.get("/metrics")
    # then
    assert gone.status_code == 404
    assert gone.content == b"not found\n"


@pytest.mark.parametrize(
    ("code", "label"),
    [
        (1000, "1000"),
        (2001, "2001"),
        (4003, "4003"),
        (2901, "29xx"),
        (1234, "other"),
        (None, "none"),
    ],
)
def test_ocpi_status_label_is_bounded(code: int | None, label: str) -> None:
    assert ocpi_status_label(code) == label
