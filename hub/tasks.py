"""Celery tasks: thin, explicit stable names, ids only as arguments (STYLE §3.4)."""

from collections.abc import Callable
from datetime import timedelta
from typing import Any

from celery import shared_task
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from hub.models import OcpiExchange


def enqueue_on_commit(task: Any, *ids: int | str) -> None:
    """Enqueue `task(*ids)` once the current transaction commits (never for rolled-back data)."""
    send: Callable[[], Any] = lambda: task.delay(*ids)  # noqa: E731
    transaction.on_commit(send)


@shared_task(name="hub.exchange_log_prune", ignore_result=True)
def exchange_log_prune_task() -> int:
    """Delete exchange-log entries older than the retention period."""
    cutoff = timezone.now() - timedelta(days=settings.OCPI_EXCHANGE_LOG_RETENTION_DAYS)
    deleted, _ = OcpiExchange.objects.filter(created_at__lt=cutoff).delete()
    return deleted


@shared_task(name="hub.ping", ignore_result=False)
def ping_task() -> str:
    """A no-op used to check that a worker consumes the broker (health checks, tests)."""
    return "pong"
