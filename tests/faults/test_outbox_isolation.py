"""The outbox under poison and suspension, with a real worker and real HTTP receivers (issue
10, defects 6 and 7): a delivery whose builder raises ends DEAD with its attempts recorded
instead of looping; an eMSP suspended with CDRs pending gets every one of them, in order,
once reactivated."""

import json
from typing import Any

import pytest
from django.utils import timezone

from hub.models import DeliveryStatus, PushAttempt, PushDelivery
from hub.services.registry.credentials import platform_reactivate, platform_suspend
from tests.faults.ledger import CDRS_PATH, accepted, pushed_evses
from tests.faults.scenario import settle
from tests.worker import wait_until

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_poison_delivery_ends_dead_with_attempts(stack_factory: Any) -> None:
    stack = stack_factory(OCPI_PUSH_MAX_ATTEMPTS="3")
    now = timezone.now()
    # given: a CDR delivery the builder cannot build (its key does not name a CDR)
    poison = PushDelivery.objects.create(
        receiver=stack.ms1_platform,
        module="cdrs",
        object_key="POISON",
        operation="POST",
        next_attempt_at=now,
        enqueued_at=None,
        expires_at=now + timezone.timedelta(hours=1),
    )
    # and ordinary traffic meanwhile
    stack.driver.burst(locations=2, patches=4, cdrs=2)
    # then: the sweeper hands it out, it is tried three times and ends DEAD, never looping
    assert wait_until(
        lambda: PushDelivery.objects.get(pk=poison.pk).status == DeliveryStatus.DEAD, timeout=60
    ), stack.worker.log_tail()
    attempts = PushAttempt.objects.filter(delivery_id=poison.pk).count()
    assert attempts == 3
    result = settle(stack, "poison delivery (builder raises)", note=f"{attempts} attempts, DEAD")
    assert result.lost == 0
    assert PushAttempt.objects.filter(delivery_id=poison.pk).count() == 3


def test_suspended_emsp_with_pending_cdrs_then_reactivated(stack_factory: Any) -> None:
    stack = stack_factory()
    ms1 = stack.ms1  # the CDRs' owner
    ms1.set_behaviour(CDRS_PATH, status=503)
    for _ in range(8):
        stack.driver.post_cdr()
    assert wait_until(
        lambda: PushAttempt.objects.filter(url__startswith=ms1.base_url).count() >= 4, timeout=30
    )
    # when: staff suspend the eMSP while its CDRs are pending
    platform_suspend(platform=stack.ms1_platform)
    cdr_deliveries = PushDelivery.objects.filter(receiver=stack.ms1_platform, module="cdrs")
    # then: every one is held (none cancelled, none sent)
    assert wait_until(
        lambda: set(cdr_deliveries.values_list("status", flat=True)) == {DeliveryStatus.HELD},
        timeout=30,
    ), list(cdr_deliveries.values_list("status", "last_error"))
    ms1.reset_behaviour()
    stack.ms1_platform.refresh_from_db()
    # when: reactivated, all arrive, in the order the CPO sent them
    platform_reactivate(platform=stack.ms1_platform)
    settle(stack, "suspended eMSP with pending CDRs, reactivated", note="held, then in order")
    arrived = [r.json["id"] for r in accepted(ms1, CDRS_PATH) if r.method == "POST"]
    assert arrived == sorted(arrived), arrived
    assert len(arrived) == 8


BACKLOG = 2000  # pending deliveries to the hanging receiver
ROUND = 10  # location PUTs measured per round


def _key(n: int) -> str:
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    return "".join(digits[(n // 36**i) % 36] for i in (2, 1, 0))


def _latencies(stack: Any, receivers: list[Any], first: int, timeout: float = 120.0) -> list[float]:
    """PUT ROUND locations; per healthy receiver and location, seconds from the hub's 1000 to
    the receiver's accepted PUT."""
    acked: dict[str, Any] = {}
    for n in range(first, first + ROUND):
        update = stack.driver.put_location(f"LOC{n}")
        assert update.acked, update.answer
        acked[f"/ocpi/2.2.1/locations/NL/CP1/LOC{n}"] = timezone.now()

    def arrived() -> dict[tuple[int, str], Any]:
        return {
            (i, r.path): r.time
            for i, partner in enumerate(receivers)
            for r in accepted(partner, "/ocpi/2.2.1/locations/")
            if r.method == "PUT" and r.path in acked
        }

    assert wait_until(lambda: len(arrived()) == len(receivers) * ROUND, timeout=timeout)
    return [(at - acked[path]).total_seconds() for (_, path), at in arrived().items()]


def _summary(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {
        "p50_s": round(ordered[len(ordered) // 2], 3),
        "p95_s": round(ordered[int(len(ordered) * 0.95) - 1], 3),
        "max_s": round(ordered[-1], 3),
    }


def test_hanging_receiver_with_a_backlog_does_not_starve_nine_healthy(
    stack_factory: Any, settings: Any
) -> None:
    from django.db import transaction

    from hub.ocpi.routing import PartyRef
    from hub.services.delivery.enqueue import push_enqueue
    from hub.services.delivery.types import Receiver
    from tests.faults.partners import TreeReceiver
    from tests.integration.hubnet import connect, role

    stack = stack_factory(OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER="1")
    settings.OCPI_PUSH_MAX_IN_FLIGHT_PER_RECEIVER = 1  # this process enqueues the backlog too
    healthy = [stack.ms2]
    for n in range(3, 11):
        partner = stack._exit.enter_context(TreeReceiver(roles=[role("EMSP", "DE", f"M{n:02d}")]))
        connect(partner, f"eMSP {n}")
        healthy.append(partner)
    hanging, hanging_platform = stack.ms1, stack.ms1_platform
    # without the hanging receiver's backlog
    before = _latencies(stack, healthy, 1)
    # when: one receiver hangs (far past the HTTP timeout) with BACKLOG deliveries queued the
    # way the hub queues them (`push_enqueue` in a writer's transaction): the outbox hands it
    # tasks only for its free slots (its cap is 1), the rest wait in the database
    hanging.set_behaviour("/ocpi/2.2.1", delay=30.0)
    party = hanging_platform.roles.first()
    to_hanging = Receiver(hanging_platform, PartyRef(party.country_code, party.party_id))
    with transaction.atomic():
        for n in range(BACKLOG):
            push_enqueue(
                module="hubclientinfo",
                object_key=f"ZZ/{_key(n)}/EMSP",
                operation="PUT",
                receivers=[to_hanging],
            )
    # right after the commit: the backlog's rows holding a slot (reserved or in flight)
    backlog_with_slot = PushDelivery.objects.filter(
        receiver=hanging_platform, locked_until__isnull=False
    ).count()
    during = _latencies(stack, healthy, 1 + ROUND, timeout=900)
    attempts = PushAttempt.objects.filter(delivery__receiver=hanging_platform).count()
    # then: every healthy delivery arrived (timing is reported, not asserted)
    figures = {
        "without_hanging": _summary(before),
        "with_hanging": _summary(during),
        "hanging_attempts": attempts,
        "hanging_in_flight_cap": 1,
        "backlog_with_slot_after_enqueue": backlog_with_slot,
    }
    hanging.reset_behaviour()
    settle(
        stack,
        f"1 hanging receiver ({BACKLOG} pending) + 9 healthy",
        views=lambda: {f"H{i}": pushed_evses(p) for i, p in enumerate(healthy)},
        note=json.dumps(figures),
    )
