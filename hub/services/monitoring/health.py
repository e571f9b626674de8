"""The health report of `/healthz`: database, broker, beat and the workers of each queue,
each up or down (unknown where it cannot be told), and nothing else: no URL, host or error
text reaches the answer."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from hub.models import Heartbeat
from hub.services.monitoring.bounded import CheckFailed, run_bounded
from hub.services.monitoring.broker import queue_lengths
from hub.services.monitoring.heartbeat import DOWN, UNKNOWN, UP, heartbeat_states


@dataclass(frozen=True)
class HealthReport:
    """Each component's state; `up` only when every one is up."""

    checks: dict[str, str]
    queues: dict[str, str]

    @property
    def up(self) -> bool:
        return all(state == UP for state in self.checks.values())

    @property
    def down(self) -> list[str]:
        return [name for name, state in self.checks.items() if state != UP]


def _database_stamps() -> dict[str, datetime]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return dict(Heartbeat.objects.values_list("name", "at"))


def health_report() -> HealthReport:
    """Check the database (`SELECT 1`, then the heartbeat stamps), the broker (a connection
    and a queue count) and the heartbeats, each bounded in time."""
    try:
        stamps: dict[str, datetime] | None = run_bounded("database", _database_stamps)
    except CheckFailed:
        stamps = None
    try:
        run_bounded("broker", queue_lengths)
        broker = UP
    except CheckFailed:
        broker = DOWN
    if stamps is None:
        beat, queues = UNKNOWN, dict.fromkeys(settings.HUB_WORKER_QUEUES, UNKNOWN)
    else:
        states = heartbeat_states(stamps, timezone.now())
        beat, queues = states.beat, states.queues
    # The workers are up when every queue is consumed; one queue without a consumer is down.
    worker = UP if set(queues.values()) == {UP} else (DOWN if DOWN in queues.values() else UNKNOWN)
    return HealthReport(
        checks={
            "database": UP if stamps is not None else DOWN,
            "broker": broker,
            "beat": beat,
            "worker": worker,
        },
        queues=queues,
    )
