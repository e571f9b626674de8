"""Run a check on a helper thread and stop waiting after HUB_HEALTH_TIMEOUT_S: a database
or broker that hangs (a blackholed address, a stuck server) makes a check fail, never a
request hang. A check that hangs keeps its thread until its own socket timeout ends it; the
pool is small, so a hanging dependency cannot gather threads without bound."""

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import TypeVar

from django.conf import settings
from django.db import connections

logger = logging.getLogger(__name__)

T = TypeVar("T")

_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hub-check")


class CheckFailed(Exception):
    """A check raised or ran past its time."""


def _closing_connections(check: Callable[[], T]) -> Callable[[], T]:
    def run() -> T:
        try:
            return check()
        finally:
            # The pool thread's own database connection: closed after each check, so none is
            # left open (or broken) between probes.
            connections.close_all()

    return run


def run_bounded(name: str, check: Callable[[], T]) -> T:
    """`check()`'s result, or CheckFailed when it raised or took too long (logged with the
    exception's class only: a broker error can carry its URL)."""
    future = _POOL.submit(_closing_connections(check))
    try:
        return future.result(timeout=settings.HUB_HEALTH_TIMEOUT_S)
    except FutureTimeout:
        logger.warning("Check %s took longer than %ss", name, settings.HUB_HEALTH_TIMEOUT_S)
        raise CheckFailed(name) from None
    except Exception as exc:
        logger.warning("Check %s failed: %s", name, type(exc).__name__)
        raise CheckFailed(name) from exc
