"""Retention (hub.services.retention): batched, resumable prunes of the exchange log, final push
deliveries with their attempts, finished async requests and expired proxied URLs; never a
delivery still to send, nor a dead letter, nor an attempt before its delivery."""

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.celery import app
from hub.models import (
    AsyncRequest,
    OcpiExchange,
    Platform,
    ProxiedUrl,
    PushAttempt,
    PushDelivery,
)
from hub.models.commands import AsyncKind, AsyncState
from hub.models.deliveries import DeliveryStatus
from hub.services.retention import (
    prune_all,
    prune_async_requests,
    prune_deliveries,
    prune_exchange_log,
    prune_proxied_urls,
)
from tests.factories import (
    AsyncRequestFactory,
    OcpiExchangeFactory,
    PlatformFactory,
    ProxiedUrlFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
)

pytestmark = pytest.mark.django_db

OLD = timedelta(days=90)


@pytest.fixture
def receiver() -> Platform:
    return PlatformFactory()


def aged(model: Any, row: Any, age: timedelta = OLD, **fields: str) -> None:
    """Back-date `row` (auto_now fields cannot be set through save)."""
    names = fields or {"updated_at": ""}
    model.objects.filter(pk=row.pk).update(**{f: timezone.now() - age for f in names})


def delivery(receiver: Platform, status: str, module: str = "locations", **fields: Any) -> Any:
    row = PushDeliveryFactory(
        unrouted=True,
        receiver=receiver,
        module=module,
        object_key=fields.pop("object_key", f"NL/CP1/{PushDelivery.objects.count()}"),
        operation="PUT",
        status=status,
        **fields,
    )
    aged(PushDelivery, row)
    return row


def attempt(row: PushDelivery, age: timedelta = OLD) -> PushAttempt:
    return PushAttemptFactory(
        delivery=row, method="PUT", url="http://127.0.0.1:9/x", started_at=timezone.now() - age
    )


def exists(row: Any) -> bool:
    return bool(type(row).objects.filter(pk=row.pk).exists())


# ---- exchange log -------------------------------------------------------------------------


def test_exchange_log_pruned_in_batches_until_done(settings: Any) -> None:
    settings.OCPI_RETENTION_BATCH_SIZE = 2
    old = [OcpiExchangeFactory(direction="IN", method="GET", url="/x") for _ in range(5)]
    for row in old:
        aged(OcpiExchange, row, created_at="")
    fresh = OcpiExchangeFactory(direction="IN", method="GET", url="/new")
    result = prune_exchange_log()
    assert (result.deleted, result.done) == (5, True)
    assert list(OcpiExchange.objects.values_list("pk", flat=True)) == [fresh.pk]


def test_exchange_log_prune_stops_at_budget_and_resumes(settings: Any) -> None:
    settings.OCPI_RETENTION_BATCH_SIZE = 2
    for _ in range(3):
        row = OcpiExchangeFactory(direction="IN", method="GET", url="/x")
        aged(OcpiExchange, row, created_at="")
    # a spent budget deletes nothing and says it is not done
    assert (prune_exchange_log(budget_s=0).deleted, prune_exchange_log(budget_s=0).done) == (
        0,
        False,
    )
    # the next run (normal budget) finishes the job
    result = prune_exchange_log()
    assert (result.deleted, result.done) == (3, True)
    assert not OcpiExchange.objects.exists()


def test_exchange_log_batches_are_bounded(settings: Any) -> None:
    # every DELETE names at most BATCH_SIZE primary keys (no unbounded statement)
    settings.OCPI_RETENTION_BATCH_SIZE = 3
    for _ in range(7):
        row = OcpiExchangeFactory(direction="IN", method="GET", url="/x")
        aged(OcpiExchange, row, created_at="")
    with CaptureQueriesContext(connection) as queries:
        assert prune_exchange_log().deleted == 7
    deletes = [q["sql"] for q in queries.captured_queries if q["sql"].startswith("DELETE")]
    assert len(deletes) == 3  # 3 + 3 + 1
    assert all("IN (" in sql for sql in deletes)


# ---- push deliveries and attempts ---------------------------------------------------------


@pytest.mark.parametrize(
    "status", [DeliveryStatus.DELIVERED, DeliveryStatus.FAILED, DeliveryStatus.CANCELLED]
)
def test_old_final_delivery_pruned_with_its_attempts(receiver: Platform, status: str) -> None:
    row = delivery(receiver, status)
    tried = attempt(row)
    assert prune_deliveries().deleted == 1
    assert not exists(row) and not exists(tried)


@pytest.mark.parametrize("status", [DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT])
def test_delivery_still_to_send_never_pruned(receiver: Platform, status: str) -> None:
    row = delivery(receiver, status)
    tried = attempt(row)
    assert prune_deliveries().deleted == 0
    assert exists(row) and exists(tried)


@pytest.mark.parametrize(
    ("module", "key"),
    [("sessions", "NL/CP1/S1"), ("cdrs", "NL/CP1/C1"), ("commands", "command/x/result/0")],
)
def test_dead_money_delivery_never_pruned(receiver: Platform, module: str, key: str) -> None:
    # a dead letter stays until staff resend it or discard it, whatever its age
    row = delivery(receiver, DeliveryStatus.DEAD, module=module, object_key=key)
    tried = attempt(row)
    aged(PushDelivery, row, age=timedelta(days=3650))
    assert prune_deliveries().deleted == 0
    assert exists(row) and exists(tried)


def test_recent_final_delivery_kept(receiver: Platform) -> None:
    row = delivery(receiver, DeliveryStatus.DELIVERED)
    aged(PushDelivery, row, age=timedelta(days=1))
    assert prune_deliveries().deleted == 0
    assert exists(row)


def test_attempt_never_pruned_before_its_delivery(receiver: Platform, settings: Any) -> None:
    # the delivery is old enough, but its newest attempt is within the attempt retention: both
    # stay; no attempt of a kept delivery is ever deleted on its own
    settings.OCPI_RETENTION_PUSH_ATTEMPT_DAYS = 60
    row = delivery(receiver, DeliveryStatus.FAILED)
    old_try, new_try = attempt(row, age=OLD), attempt(row, age=timedelta(days=10))
    assert prune_deliveries().deleted == 0
    assert exists(row) and exists(old_try) and exists(new_try)
    # once the newest attempt is old enough too, delivery and attempts go together
    PushAttempt.objects.filter(pk=new_try.pk).update(started_at=timezone.now() - OLD)
    assert prune_deliveries().deleted == 1
    assert not PushAttempt.objects.filter(delivery_id=row.pk).exists()


def test_deliveries_pruned_in_batches_and_resumable(receiver: Platform, settings: Any) -> None:
    settings.OCPI_RETENTION_BATCH_SIZE = 2
    rows = [delivery(receiver, DeliveryStatus.DELIVERED) for _ in range(5)]
    for row in rows:
        attempt(row)
    assert prune_deliveries(budget_s=0).done is False
    result = prune_deliveries()
    assert (result.deleted, result.done) == (5, True)
    assert not PushAttempt.objects.exists()


# ---- async requests -----------------------------------------------------------------------


def async_request(requester: Platform, state: str) -> AsyncRequest:
    row = AsyncRequestFactory(
        kind=AsyncKind.COMMAND,
        operation="START_SESSION",
        requester=requester,
        requester_country_code="DE",
        requester_party_id="MS1",
        receiver=None,
        response_url="http://127.0.0.1:9/result",
        state=state,
    )
    aged(AsyncRequest, row)
    return row


@pytest.mark.parametrize(
    "state",
    [AsyncState.REFUSED, AsyncState.RESULT_RECEIVED, AsyncState.TIMED_OUT, AsyncState.FAILED],
)
def test_old_finished_async_request_pruned(receiver: Platform, state: str) -> None:
    row = async_request(receiver, state)
    assert prune_async_requests().deleted == 1
    assert not exists(row)


@pytest.mark.parametrize("state", [AsyncState.FORWARDED, AsyncState.WAITING])
def test_open_async_request_never_pruned(receiver: Platform, state: str) -> None:
    row = async_request(receiver, state)
    assert prune_async_requests().deleted == 0
    assert exists(row)


@pytest.mark.parametrize("status", [DeliveryStatus.DEAD, DeliveryStatus.PENDING])
def test_async_request_kept_while_its_result_delivery_is(receiver: Platform, status: str) -> None:
    # the result is built from the request at send time: a dead letter or a pending relay
    # keeps its request
    row = async_request(receiver, AsyncState.RESULT_RECEIVED)
    relay = delivery(receiver, status, module="commands", object_key=f"command/{row.pk}/result/0")
    assert prune_async_requests().deleted == 0
    assert exists(row)
    PushDelivery.objects.filter(pk=relay.pk).update(status=DeliveryStatus.DELIVERED)
    assert prune_async_requests().deleted == 1


# ---- proxied URLs -------------------------------------------------------------------------


def proxied(receiver: Platform, expired_ago: timedelta) -> ProxiedUrl:
    return ProxiedUrlFactory(
        target_url="http://127.0.0.1:9/page",
        receiver=receiver,
        caller=receiver,
        module="locations",
        gateway="emsp",
        expires_at=timezone.now() - expired_ago,
    )


def test_proxied_urls_pruned_after_grace(receiver: Platform, settings: Any) -> None:
    settings.OCPI_RETENTION_PROXIED_URL_DAYS = 1
    gone = proxied(receiver, timedelta(days=2))
    recently_expired = proxied(receiver, timedelta(hours=1))
    live = proxied(receiver, -timedelta(hours=1))
    assert prune_proxied_urls().deleted == 1
    assert not exists(gone) and exists(recently_expired) and exists(live)


# ---- scheduling -------------------------------------------------------------------------------


def test_every_prune_is_beat_scheduled() -> None:
    tasks = {entry["task"] for entry in app.conf.beat_schedule.values()}
    assert {"hub.exchange_log_prune", "hub.retention_prune"} <= tasks
    from hub import tasks as hub_tasks

    assert hub_tasks.retention_prune_task.name == "hub.retention_prune"
    assert hub_tasks.exchange_log_prune_task.name == "hub.exchange_log_prune"


def test_prune_all_reports_each_table(receiver: Platform) -> None:
    delivery(receiver, DeliveryStatus.DELIVERED)
    async_request(receiver, AsyncState.TIMED_OUT)
    proxied(receiver, timedelta(days=30))
    assert prune_all() == {
        "push_deliveries": {"deleted": 1, "done": True},
        "async_requests": {"deleted": 1, "done": True},
        "proxied_urls": {"deleted": 1, "done": True},
        "evse_status_history": {"deleted": 0, "done": True},
        "authorizations": {"deleted": 0, "done": True},
    }
