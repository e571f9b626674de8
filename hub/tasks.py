"""Celery tasks: thin, explicit stable names, ids only as arguments (STYLE §3.4).

A task is an entry point (like a view): it imports the services at the top. The services never
import this module back; they enqueue by the stable name (`hub.celery.task_named`)."""

from typing import Any

from celery import shared_task
from celery.signals import beat_init, before_task_publish
from django.conf import settings

from hub.services.agreements.apply import agreements_apply_due
from hub.services.delivery.sending import delivery_send
from hub.services.delivery.sweep import delivery_sweep
from hub.services.monitoring.heartbeat import (
    HEARTBEAT_TASK,
    beat_sent_heartbeat,
    worker_ran_heartbeat,
)
from hub.services.reconciliation.report import reconcile_previous_day
from hub.services.registry.stillalive import platform_probe, still_alive_claim
from hub.services.retention import prune_all, prune_exchange_log
from hub.services.routing.async_results import async_requests_expire
from hub.services.settlement.statement import settle_previous_month
from hub.services.sync import pull_sync_due, pull_sync_run


@shared_task(name="hub.exchange_log_prune", ignore_result=True)
def exchange_log_prune_task() -> int:
    """Delete exchange-log entries older than the retention period, in batches (beat)."""
    return prune_exchange_log().deleted


@shared_task(name="hub.retention_prune", ignore_result=True)
def retention_prune_task() -> dict[str, dict[str, int | bool]]:
    """Prune final deliveries and their attempts, finished async requests and expired proxied
    URLs, in batches (beat)."""
    return prune_all()


@shared_task(name="hub.ping", ignore_result=False)
def ping_task() -> str:
    """A no-op used to check that a worker consumes the broker (health checks, tests)."""
    return "pong"


@shared_task(name=HEARTBEAT_TASK, ignore_result=True, acks_late=False)
def heartbeat_task(queue: str) -> bool:
    """Stamp that a worker consumed `queue` (beat sends one to every queue: settings/celery.py,
    /healthz)."""
    return worker_ran_heartbeat(queue)


# Only beat's sends stamp `beat`: a heartbeat published from anywhere else (a shell, a test)
# says nothing about beat. beat_init is sent in the beat process alone, before its first tick.
_in_beat = False


@beat_init.connect(dispatch_uid="hub.heartbeat.beat_init")
def _mark_beat_process(**_: Any) -> None:
    global _in_beat  # a per-process fact, set once
    _in_beat = True


@before_task_publish.connect(dispatch_uid="hub.heartbeat.published")
def _stamp_beat_heartbeat(sender: str | None = None, **_: Any) -> None:
    if _in_beat and sender == HEARTBEAT_TASK:
        beat_sent_heartbeat()


@shared_task(
    name="hub.deliver_push",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_push_task(delivery_id: int) -> str:
    """Send one outbox delivery of state (locations, tariffs, tokens, ClientInfo) on
    `ocpi_push` (a no-op unless it is PENDING and due)."""
    return delivery_send(delivery_id=delivery_id)


# Money (sessions, CDRs, command results) on its own queue, `ocpi_money` (settings/celery.py):
# the same service, a separate line. Any delivery id is accepted by either task.
@shared_task(
    name="hub.deliver_money",
    ignore_result=True,
    acks_late=True,
    reject_on_worker_lost=True,
)
def deliver_money_task(delivery_id: int) -> str:
    """Send one outbox delivery of money (a no-op unless it is PENDING and due)."""
    return delivery_send(delivery_id=delivery_id)


@shared_task(name="hub.delivery_sweep", ignore_result=True)
def delivery_sweep_task() -> dict[str, int]:
    """Re-enqueue due deliveries and release expired claims (beat)."""
    return delivery_sweep()


@shared_task(name="hub.still_alive_check", ignore_result=True)
def still_alive_check_task() -> dict[str, int]:
    """Probe the platforms silent for OCPI_STILL_ALIVE_AFTER_S, one task each (beat): a dead
    partner's timeout then never delays the others. Claimed first, so a backlog is never
    handed out twice."""
    claimed = still_alive_claim()
    for platform_id in claimed:
        still_alive_probe_task.delay(platform_id)
    return {"due": len(claimed), "enqueued": len(claimed)}


@shared_task(name="hub.still_alive_probe", ignore_result=True)
def still_alive_probe_task(platform_id: int) -> str:
    """GET one platform's versions URL and set CONNECTED or OFFLINE."""
    return platform_probe(platform_id=platform_id)


@shared_task(name="hub.pull_sync", ignore_result=True)
def pull_sync_task() -> list[str]:
    """Hand every due incremental pull of a CPO's locations/tariffs to its own task (beat);
    `pull_sync_due` claims each, so a backlog is never enqueued twice."""
    due = pull_sync_due()
    for item in due:
        pull_sync_party_task.delay(item.platform_id, item.country_code, item.party_id, item.module)
    return [f"{item.country_code}*{item.party_id} {item.module}: enqueued" for item in due]


# A pull may run long: its own time limit, and acknowledged on receipt (not acks_late): a run
# lost with its worker is simply the next interval's, and a long run must never be redelivered
# by Redis (visibility_timeout) while it is still going.
@shared_task(
    name="hub.pull_sync_party",
    ignore_result=True,
    acks_late=False,
    reject_on_worker_lost=False,
    soft_time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S,
    time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S + 30,
)
def pull_sync_party_task(platform_id: int, country_code: str, party_id: str, module: str) -> str:
    """One incremental pull of one CPO party's locations or tariffs."""
    return pull_sync_run(
        platform_id=platform_id, country_code=country_code, party_id=party_id, module=module
    )


@shared_task(name="hub.async_requests_expire", ignore_result=True)
def async_requests_expire_task() -> dict[str, int]:
    """Time out commands and charging-profile requests whose result is overdue (beat)."""
    return async_requests_expire()


@shared_task(
    name="hub.reconcile_cdrs",
    ignore_result=True,
    acks_late=False,
    reject_on_worker_lost=False,
    soft_time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S,
    time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S + 30,
)
def reconcile_cdrs_task() -> list[int]:
    """Reconcile the previous day's CDRs of every CPO (beat, daily; DESIGN §6). A rerun
    replaces that day's reports, so a lost or repeated run is harmless."""
    return reconcile_previous_day()


@shared_task(
    name="hub.settlement_monthly",
    ignore_result=True,
    acks_late=False,
    reject_on_worker_lost=False,
    soft_time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S,
    time_limit=settings.OCPI_PULL_SYNC_TIME_LIMIT_S + 30,
)
def settlement_monthly_task() -> list[int]:
    """Settle the previous month (UTC) of every roaming agreement in force during it (beat,
    monthly; docs/settlement.md). A rerun replaces the statements in place with the same
    figures, so a lost or repeated run is harmless."""
    return settle_previous_month()


@shared_task(name="hub.agreements_apply", ignore_result=True)
def agreements_apply_task() -> dict[str, int]:
    """Start and stop the roaming agreements whose validity dates were reached or passed (beat,
    daily, DESIGN §6b). Idempotent: an agreement already applied is left alone."""
    return agreements_apply_due()
