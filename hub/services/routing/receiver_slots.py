"""At most `OCPI_FORWARD_MAX_CONCURRENT` synchronous forwards wait on one receiver at a time.

A forwarded request (DESIGN §3, direct routing) holds the web thread serving it until the
receiver answers or the call's deadline passes. Without a cap, one slow partner would, a
caller retrying after each 4002, end up holding every web thread of the hub, and every other
partner's requests would queue behind it (issue 10). With it, a receiver gets a few threads;
the request beyond is refused at once with 4003, before anything is sent.

How the slots are counted, and why it is correct for both databases the hub runs on:

- PostgreSQL (production: several gunicorn processes, possibly several hosts): one
  session-level advisory lock per slot, taken with `pg_try_advisory_lock` (never waits) on the
  serving thread's own connection (Django keeps one per thread), released in `finally`. The
  database is the one thing every web process shares, and PostgreSQL releases a session's
  locks when the session ends, so a process killed mid-forward frees its slots at once — no
  lease to expire, no clock to trust. (A pooler in transaction mode, e.g. PgBouncer, would
  break session locks; the hub connects to PostgreSQL directly.)
- SQLite (the embedded default, `make run`): a counter in each web process under a lock. It is
  exact per gunicorn worker process; with WEB_CONCURRENCY processes a receiver may get up to
  that many times the cap (WEB_CONCURRENCY=1 makes it exact). The embedded default is one
  machine for trials; production runs on PostgreSQL.
"""

import logging
import threading
import zlib
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from django.conf import settings
from django.db import DatabaseError, connection

from hub.models import Platform
from hub.ocpi.exceptions import ConnectionProblemError

logger = logging.getLogger(__name__)

__all__ = ["forward_slot"]

# The advisory-lock class of forward slots (the outbox's claim locks use 0x0C91).
_LOCK_CLASS = 0x0CF5

_local_lock = threading.Lock()
_local_in_flight: Counter[int] = Counter()


@contextmanager
def forward_slot(receiver: Platform, label: str) -> Iterator[None]:
    """Hold one of the receiver's forward slots for the block; raise 4003 at once when all
    `OCPI_FORWARD_MAX_CONCURRENT` are taken (`label` names the receiver in the message)."""
    cap = settings.OCPI_FORWARD_MAX_CONCURRENT
    if cap <= 0:
        yield
        return
    if connection.vendor == "postgresql":
        with _advisory_slot(receiver.pk, cap, label):
            yield
        return
    with _local_slot(receiver.pk, cap, label):
        yield


def _busy(label: str, cap: int) -> ConnectionProblemError:
    logger.warning("Forward to %s refused: %d forwards to it are in flight", label, cap)
    return ConnectionProblemError(
        f"{label} is busy: {cap} requests forwarded to it are waiting for its answer; retry later"
    )


def _slot_key(receiver_id: int, slot: int) -> int:
    return zlib.crc32(f"{receiver_id}:{slot}".encode()) - 2**31  # an int4, as the lock takes


@contextmanager
def _advisory_slot(receiver_id: int, cap: int, label: str) -> Iterator[None]:
    held: int | None = None
    with connection.cursor() as cursor:
        for slot in range(cap):
            key = _slot_key(receiver_id, slot)
            cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [_LOCK_CLASS, key])
            if cursor.fetchone()[0]:
                held = key
                break
    if held is None:
        raise _busy(label, cap)
    try:
        yield
    finally:
        try:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [_LOCK_CLASS, held])
        except DatabaseError:
            # The session is unusable (a failed transaction, a lost connection): ending it is
            # what releases the slot for sure.
            logger.warning("Forward slot of platform %s: unlock failed", receiver_id)
            connection.close()


@contextmanager
def _local_slot(receiver_id: int, cap: int, label: str) -> Iterator[None]:
    with _local_lock:
        if _local_in_flight[receiver_id] >= cap:
            raise _busy(label, cap)
        _local_in_flight[receiver_id] += 1
    try:
        yield
    finally:
        with _local_lock:
            _local_in_flight[receiver_id] -= 1
            if _local_in_flight[receiver_id] <= 0:
                del _local_in_flight[receiver_id]
