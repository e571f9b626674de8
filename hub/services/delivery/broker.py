"""The outbox's one contact with the broker: which task sends a delivery, and handing it a
delivery id. Celery carries only ids; the sweeper re-enqueues whatever the broker loses."""

import logging
from typing import Any

from django.db import transaction

from hub.celery import task_named
from hub.services.delivery.rules import is_money

logger = logging.getLogger(__name__)


def delivery_task(module: str) -> Any:
    """The Celery task that sends deliveries of `module`: state on `ocpi_push`, money on
    `ocpi_money` (CELERY_TASK_ROUTES)."""
    # By the tasks' stable names: hub.tasks imports the delivery services, not the reverse.
    return task_named("hub.deliver_money" if is_money(module) else "hub.deliver_push")


def dispatch(delivery_id: int, module: str, countdown: float = 0.0) -> None:
    try:  # prompt; the sweeper is the safety net if the broker loses it
        task = delivery_task(module)
        if countdown > 0:
            task.apply_async((delivery_id,), countdown=countdown)
        else:
            task.delay(delivery_id)
    except Exception:
        logger.exception("Could not enqueue delivery %s; the sweeper will", delivery_id)


def dispatch_on_commit(delivery_id: int, module: str, countdown: float = 0.0) -> None:
    """`dispatch` once the current transaction commits: never a task for a rolled-back row.

    Not Celery's `Task.delay_on_commit`: that lets a broker error escape from the commit hook
    into the request or task that has already committed (a partner would see a 500 for a PUT
    that was stored). Here the error is logged and the sweeper hands the delivery out later."""
    transaction.on_commit(lambda: dispatch(delivery_id, module, countdown))
