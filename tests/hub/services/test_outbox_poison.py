"""Issue 10, defects 6 and 7: poison deliveries end, one receiver cannot starve the others,
and a suspension holds deliveries instead of cancelling them (docs/security.md, "The
outbox"). Broker dispatch is the one thing replaced here (`broker.dispatch`): no worker runs."""

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.conf import settings as django_settings
from django.utils import timezone

from hub.models import (
    CircuitState,
    DeliveryStatus,
    Platform,
    PushAttempt,
    PushDelivery,
    ReceiverCircuit,
)
from hub.services.delivery import broker, enqueue, sending
from hub.services.delivery.broker import delivery_task
from hub.services.delivery.circuit import RECEIVER_FAILED, RECEIVER_OK, circuit_record
from hub.services.delivery.outcome import finish, give_up_or_retry
from hub.services.delivery.receivers import delivery_resend
from hub.services.delivery.sending import delivery_send
from hub.services.delivery.sweep import delivery_sweep
from hub.services.registry.credentials import (
    credentials_unregister,
    platform_reactivate,
    platform_suspend,
)
from tests.factories import PushDeliveryFactory, registered_party

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(autouse=True)
def dispatched() -> Iterator[mock.MagicMock]:
    with mock.patch.object(broker, "dispatch") as dispatch:
        yield dispatch


@pytest.fixture
def receiver() -> Platform:
    return registered_party("EMSP", "DE", "MS1")[0]


def delivery(receiver: Platform, **fields: Any) -> PushDelivery:
    """A CDR POST to `receiver`, due now."""
    values: dict[str, Any] = {"module": "cdrs", "object_key": "NL/CP1/CDR1", "operation": "POST"}
    return PushDeliveryFactory(unrouted=True, receiver=receiver, **{**values, **fields})


# ---- defect 6: every outcome ends somewhere, with an attempt ------------------------------


def test_a_builder_that_raises_is_retried_then_dead_with_attempts(
    receiver: Platform, settings: Any
) -> None:
    settings.OCPI_PUSH_MAX_ATTEMPTS = 3
    poison = delivery(receiver, object_key="BROKEN")  # the CDR builder cannot split it
    outcomes = []
    for _ in range(4):
        PushDelivery.objects.filter(pk=poison.pk).update(next_attempt_at=timezone.now())
        outcomes.append(delivery_send(delivery_id=poison.pk))
    poison.refresh_from_db()
    assert outcomes == ["retry", "retry", "dead", "skipped"]
    assert poison.status == DeliveryStatus.DEAD
    assert poison.attempts == 3
    assert PushAttempt.objects.filter(delivery=poison).count() == 3
    assert all(a.error.startswith("hub error: ValueError") for a in poison.tries.all())
    # the hub's own error is not the receiver's: it stays CONNECTED, its circuit closed
    receiver.refresh_from_db()
    assert receiver.status == "CONNECTED"
    assert not ReceiverCircuit.objects.filter(receiver=receiver).exclude(state="CLOSED").exists()


def test_a_soft_time_limit_mid_send_is_a_recorded_retry(receiver: Platform) -> None:
    from celery.exceptions import SoftTimeLimitExceeded

    pending = delivery(receiver, object_key="BROKEN")
    with mock.patch.dict(enqueue._builders, {"cdrs": mock.Mock(side_effect=SoftTimeLimitExceeded)}):
        assert delivery_send(delivery_id=pending.pk) == "retry"
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.PENDING
    assert pending.tries.get().error.startswith("timed out")
    assert ReceiverCircuit.objects.get(receiver=receiver).consecutive_failures == 1


@pytest.mark.parametrize(
    ("module", "status"), [("cdrs", DeliveryStatus.DEAD), ("tariffs", DeliveryStatus.FAILED)]
)
def test_the_window_is_enforced_at_claim(receiver: Platform, module: str, status: str) -> None:
    late = delivery(
        receiver, module=module, expires_at=timezone.now() - timedelta(seconds=1), attempts=2
    )
    delivery_send(delivery_id=late.pk)
    late.refresh_from_db()
    assert late.status == status
    assert "retry window passed" in late.last_error


def test_the_attempt_limit_is_enforced_at_claim(receiver: Platform, settings: Any) -> None:
    settings.OCPI_PUSH_MAX_ATTEMPTS = 5
    looping = delivery(receiver, attempts=5)
    assert delivery_send(delivery_id=looping.pk) == "dead"
    looping.refresh_from_db()
    assert (looping.status, looping.attempts) == (DeliveryStatus.DEAD, 5)
    assert "5 attempts made" in looping.last_error


def test_the_sweeper_records_an_expired_lease_and_ends_expired_waiting_ones(
    receiver: Platform,
) -> None:
    past = timezone.now() - timedelta(minutes=5)
    lost = delivery(receiver, status=DeliveryStatus.IN_FLIGHT, locked_until=past, attempts=1)
    waiting = delivery(receiver, object_key="NL/CP1/CDR2", expires_at=past)
    result = delivery_sweep()
    lost.refresh_from_db()
    waiting.refresh_from_db()
    assert lost.status == DeliveryStatus.PENDING
    assert "lease expired" in lost.tries.get().error
    assert waiting.status == DeliveryStatus.DEAD
    assert result["ended"] == 1


def test_a_receiver_has_at_most_k_deliveries_in_flight(receiver: Platform, settings: Any) -> None:
    settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER = 2
    soon = timezone.now() + timedelta(minutes=1)
    for n in range(2):
        delivery(
            receiver, object_key=f"NL/CP1/F{n}", status=DeliveryStatus.IN_FLIGHT, locked_until=soon
        )
    third = delivery(receiver, object_key="NL/CP1/CDR3")
    other = registered_party("EMSP", "DE", "MS2")[0]
    elsewhere = delivery(other, object_key="NL/CP1/CDR3")
    assert delivery_send(delivery_id=third.pk) == "waiting"
    third.refresh_from_db()
    assert (third.status, third.attempts) == (DeliveryStatus.PENDING, 0)
    # another receiver is not affected
    assert not isinstance(sending._claim(elsewhere.pk), str)
    # and the sweeper hands out nothing more to the full receiver
    PushDelivery.objects.filter(pk=third.pk).update(enqueued_at=None)
    assert delivery_sweep()["requeued"] == 0


def test_circuit_opens_waits_probes_and_closes(receiver: Platform, settings: Any) -> None:
    settings.OCPI_PUSH_CIRCUIT_FAILURES = 3
    settings.OCPI_PUSH_CIRCUIT_COOLDOWN_S = 60
    failing = delivery(receiver)
    for _ in range(3):
        circuit_record(failing, RECEIVER_FAILED, "timed out")
    circuit = ReceiverCircuit.objects.get(receiver=receiver)
    assert circuit.state == CircuitState.OPEN
    # while open, deliveries wait: no attempt, not failed
    waiting = delivery(receiver, object_key="NL/CP1/CDR9")
    assert delivery_send(delivery_id=waiting.pk) == "waiting"
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (DeliveryStatus.PENDING, 0)
    # and it is the one scheduled for the end of the cool-down (the waker)
    assert waiting.next_attempt_at == circuit.retry_at
    # after the cool-down one probe goes; the others wait for its outcome
    ReceiverCircuit.objects.filter(pk=circuit.pk).update(retry_at=timezone.now())
    PushDelivery.objects.filter(pk=waiting.pk).update(next_attempt_at=timezone.now())
    probe = sending._claim(waiting.pk)
    assert isinstance(probe, PushDelivery)
    circuit.refresh_from_db()
    assert (circuit.state, circuit.probe_delivery_id) == (CircuitState.HALF_OPEN, probe.pk)
    assert sending._claim(failing.pk) == "waiting"
    # a failed probe reopens, a successful one closes
    circuit_record(probe, RECEIVER_FAILED, "timed out")
    circuit.refresh_from_db()
    assert circuit.state == CircuitState.OPEN
    ReceiverCircuit.objects.filter(pk=circuit.pk).update(
        state=CircuitState.HALF_OPEN, probe_delivery_id=probe.pk
    )
    circuit_record(probe, RECEIVER_OK)
    circuit.refresh_from_db()
    assert (circuit.state, circuit.consecutive_failures) == (CircuitState.CLOSED, 0)


def test_money_and_state_go_to_their_own_queues() -> None:
    from hub.tasks import deliver_money_task, deliver_push_task

    # The outbox looks the task up by its name; hub.tasks exports a proxy to the same task,
    # which compares equal to it (`is` would compare the proxy object itself).
    assert delivery_task("cdrs") == deliver_money_task
    assert delivery_task("sessions") == deliver_money_task
    assert delivery_task("commands") == deliver_money_task
    assert delivery_task("locations") == deliver_push_task
    assert delivery_task("hubclientinfo") == deliver_push_task


@pytest.mark.parametrize("path", ["Procfile", "Makefile", "docker-compose.yml"])
def test_every_worker_command_consumes_every_queue(path: str) -> None:
    text = (ROOT / path).read_text()
    consumed = {
        queue
        for line in text.splitlines()
        if "celery -A hub worker" in line
        for queue in line.split("-Q ", 1)[1].split()[0].split(",")
    }
    assert consumed == set(django_settings.HUB_WORKER_QUEUES)


# ---- defect 7: suspension holds, reactivation releases in order ---------------------------


def test_suspension_holds_and_reactivation_releases_in_order(receiver: Platform) -> None:
    cdrs = [delivery(receiver, object_key=f"NL/CP1/CDR{n}") for n in range(3)]
    platform_suspend(platform=receiver)
    held_at = timezone.now()
    for cdr in cdrs:
        cdr.refresh_from_db()
        assert cdr.status == DeliveryStatus.HELD
    # nothing is sent nor expires while held
    PushDelivery.objects.filter(pk=cdrs[0].pk).update(expires_at=held_at + timedelta(seconds=1))
    assert delivery_sweep()["ended"] == 0
    assert delivery_send(delivery_id=cdrs[0].pk) == "skipped"
    # a new CDR for it while suspended waits with the others
    PushDelivery.objects.filter(pk__in=[c.pk for c in cdrs]).update(
        held_since=held_at - timedelta(hours=1)
    )
    receiver.refresh_from_db()
    platform_reactivate(platform=receiver)
    first, second, third = (PushDelivery.objects.get(pk=c.pk) for c in cdrs)
    assert {first.status, second.status, third.status} == {DeliveryStatus.PENDING}
    # the hour held was added to the window
    assert first.expires_at > held_at + timedelta(minutes=59)
    # in their original order: the second waits until the first has had its try
    assert delivery_send(delivery_id=second.pk) == "waiting"
    claimed = sending._claim(first.pk)
    assert isinstance(claimed, PushDelivery)
    finish(claimed, DeliveryStatus.DELIVERED)
    assert isinstance(sending._claim(second.pk), PushDelivery)


def test_a_retry_while_suspended_is_held(receiver: Platform) -> None:
    in_flight = delivery(receiver, status=DeliveryStatus.IN_FLIGHT, attempts=1)
    platform_suspend(platform=receiver)
    assert give_up_or_retry(in_flight, "HTTP 503") == "held"
    in_flight.refresh_from_db()
    assert in_flight.status == DeliveryStatus.HELD


def test_unregistration_cancels_state_and_dead_letters_money(receiver: Platform) -> None:
    cdr = delivery(receiver)
    location = delivery(receiver, module="locations", object_key="NL/CP1/LOC1", operation="PUT")
    platform_suspend(platform=receiver)
    receiver.refresh_from_db()
    credentials_unregister(platform=receiver)
    cdr.refresh_from_db()
    location.refresh_from_db()
    assert cdr.status == DeliveryStatus.DEAD
    assert "unregistered" in cdr.last_error
    assert location.status == DeliveryStatus.CANCELLED
    # the dead letter can be resent (held again if the receiver is suspended by then)
    resent = delivery_resend(delivery=cdr)
    assert resent.status in (DeliveryStatus.PENDING, DeliveryStatus.HELD)
