"""The outbox under poison and suspension, with a real worker and real HTTP receivers (issue
10, defects 6 and 7): a delivery whose builder raises ends DEAD with its attempts recorded
instead of looping; an eMSP suspended with CDRs pending gets every one of them, in order,
once reactivated."""

from typing import Any

import pytest
from django.utils import timezone

from hub.models import DeliveryStatus, PushAttempt, PushDelivery
from hub.services.registry import platform_reactivate, platform_suspend
from tests.faults.ledger import CDRS_PATH, accepted
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

