"""The heartbeat (settings/celery.py): beat's send and each queue's consumption, stamped in
the database, which every process of every mode shares (hub.models.health)."""

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from hub.models import Heartbeat

logger = logging.getLogger(__name__)

BEAT = "beat"
HEARTBEAT_TASK = "hub.heartbeat"


def worker_stamp_name(queue: str) -> str:
    return f"worker:{queue}"


def heartbeat_record(*, name: str) -> None:
    """Stamp `name` with the current time (one row per name, overwritten)."""
    Heartbeat.objects.update_or_create(name=name, defaults={"at": timezone.now()})


def beat_sent_heartbeat() -> None:
    """Stamp `beat`: called in the beat process as it publishes the heartbeat task.

    Beat has no request cycle, so nothing else ends a connection past CONN_MAX_AGE or broken
    by a database restart; a failure is logged and never stops beat from publishing."""
    close_old_connections()
    try:
        heartbeat_record(name=BEAT)
    except DatabaseError:
        logger.warning("Could not stamp the beat heartbeat (database unavailable)")


def worker_ran_heartbeat(queue: str) -> bool:
    """Stamp `worker:<queue>` for a heartbeat consumed from `queue`; False (and nothing
    stamped) for a queue the hub does not have, so stamps stay a bounded set."""
    if queue not in settings.HUB_WORKER_QUEUES:
        logger.warning("Heartbeat for unknown queue %r ignored", queue)
        return False
    heartbeat_record(name=worker_stamp_name(queue))
    return True


@dataclass(frozen=True)
class HeartbeatStates:
    """Up, down or unknown for beat and for each worker queue, from the stamps."""

    beat: str
    queues: dict[str, str]


UP, DOWN, UNKNOWN = "up", "down", "unknown"


def heartbeat_states(stamps: dict[str, datetime], now: datetime) -> HeartbeatStates:
    """Read the stamps: beat is up when it sent within HUB_HEARTBEAT_STALE_AFTER_S; a queue
    is up when a worker consumed a heartbeat from it within that bound, down when beat is up
    (sent, but nobody consumed), unknown when beat is down too (nothing was sent to consume)."""
    fresh_since = now - timedelta(seconds=settings.HUB_HEARTBEAT_STALE_AFTER_S)

    def fresh(name: str) -> bool:
        at = stamps.get(name)
        return at is not None and at >= fresh_since

    beat = UP if fresh(BEAT) else DOWN
    queues = {
        queue: UP if fresh(worker_stamp_name(queue)) else (DOWN if beat == UP else UNKNOWN)
        for queue in settings.HUB_WORKER_QUEUES
    }
    return HeartbeatStates(beat=beat, queues=queues)
