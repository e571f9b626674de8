"""The Celery wiring end to end: a task enqueued by the hub runs in a real worker process on
the configured broker (filesystem by default, Redis when REDIS_URL is set)."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.celery import app
from hub.models import OcpiExchange
from hub.tasks import exchange_log_prune_task
from tests.factories import OcpiExchangeFactory
from tests.worker import wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_app_configuration_is_the_outbox_contract() -> None:
    conf = app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_acks_late is True
    assert conf.task_reject_on_worker_lost is True
    assert conf.worker_prefetch_multiplier == 1
    assert conf.task_time_limit and conf.task_soft_time_limit < conf.task_time_limit
    # state and money on separate queues (docs/security.md, "The outbox")
    assert conf.task_routes["hub.deliver_push"] == {"queue": "ocpi_push"}
    assert conf.task_routes["hub.deliver_money"] == {"queue": "ocpi_money"}
    if conf.broker_url.startswith("redis"):
        assert conf.broker_transport_options["visibility_timeout"] > conf.task_time_limit


def test_worker_runs_a_task_from_the_broker(celery_worker_process: Any) -> None:
    # given: an exchange-log entry past the retention period and a fresh one
    old = OcpiExchangeFactory(
        direction="IN",
        method="GET",
        url="http://x/old",
        created_at=timezone.now() - timedelta(days=90),
    )
    fresh = OcpiExchangeFactory(direction="IN", method="GET", url="http://x/new")
    # when: the prune task is sent through the broker
    exchange_log_prune_task.delay()
    # then: the worker process deletes the old entry only
    gone = wait_until(lambda: not OcpiExchange.objects.filter(pk=old.pk).exists(), timeout=30)
    assert gone, celery_worker_process.log_tail()
    assert OcpiExchange.objects.filter(pk=fresh.pk).exists()
