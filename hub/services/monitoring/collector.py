"""The Prometheus collector of `/metrics` for what is read at scrape time: the outbox, the
circuits and the heartbeats from the database, the queue lengths from the broker. A source
that cannot be read is reported by `ocpi_hub_metrics_source_up{source}` = 0 and its figures
are left out: a scrape never fails because the database or the broker is down."""

from collections.abc import Iterator

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from hub.services.monitoring.bounded import CheckFailed, run_bounded
from hub.services.monitoring.broker import queue_lengths
from hub.services.monitoring.state import HubState, hub_state


def _state_families(state: HubState) -> Iterator[Metric]:
    deliveries = GaugeMetricFamily(
        "ocpi_hub_deliveries",
        "Outbox deliveries open or dead (PENDING, HELD, IN_FLIGHT, DEAD) by receiver platform.",
        labels=["state", "receiver", "receiver_name"],
    )
    for row in state.deliveries:
        deliveries.add_metric([row.state, row.receiver, row.receiver_name], row.count)
    yield deliveries
    oldest = GaugeMetricFamily(
        "ocpi_hub_outbox_oldest_due_age_seconds",
        "How long the oldest PENDING delivery that is due has waited, per queue (0: none).",
        labels=["queue"],
    )
    for queue, age in state.oldest_due_age_s.items():
        oldest.add_metric([queue], age)
    yield oldest
    circuits = GaugeMetricFamily(
        "ocpi_hub_receiver_circuits",
        "Receivers by the state of their circuit breaker.",
        labels=["state"],
    )
    for circuit_state, count in state.circuits.items():
        circuits.add_metric([circuit_state], count)
    yield circuits
    heartbeats = GaugeMetricFamily(
        "ocpi_hub_heartbeat_age_seconds",
        "Seconds since beat sent the heartbeat (beat) or a worker ran it (worker:<queue>).",
        labels=["name"],
    )
    for name, age in state.heartbeat_age_s.items():
        heartbeats.add_metric([name], age)
    yield heartbeats


class HubStateCollector(Collector):
    """Collects at scrape time; every read is bounded by HUB_HEALTH_TIMEOUT_S."""

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily(
            "ocpi_hub_metrics_source_up",
            "1 when this scrape could read the source (database, broker), else 0.",
            labels=["source"],
        )
        try:
            state = run_bounded("metrics database", hub_state)
            up.add_metric(["database"], 1)
            yield from _state_families(state)
        except CheckFailed:
            up.add_metric(["database"], 0)
        try:
            lengths = run_bounded("metrics broker", queue_lengths)
            up.add_metric(["broker"], 1)
            queues = GaugeMetricFamily(
                "ocpi_hub_broker_queue_length",
                "Messages waiting in the broker on each worker queue.",
                labels=["queue"],
            )
            for queue, length in lengths.items():
                queues.add_metric([queue], length)
            yield queues
        except CheckFailed:
            up.add_metric(["broker"], 0)
        yield up
