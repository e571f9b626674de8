"""Per-process copies of what nearly every request reads from the directory (platforms, their
roles, endpoints and tokens): a token's platform and roles, a module's receivers. Each copy
saves the queries that read it (issue 14: two of an EVSE PATCH's queries were auth and roles).

A copy is never trusted longer than the directory stays unchanged: every write to those four
tables (post_save, post_delete, and `hub.models.parties.directory_changed` for queryset writes)
replaces one shared generation, and a copy is used only under the generation it was read
under (read before the database was, so a copy read while a change commits is dropped too).
The generation lives in the `directory` cache alias, which every web process and worker must
share for this to hold: Redis (`REDIS_URL`). Without a shared cache `OCPI_DIRECTORY_CACHE_S`
is 0 and nothing is copied. The generation is replaced at the write and again at its commit,
so a revoked token is refused by the next request, in any process. A copy also expires after
`OCPI_DIRECTORY_CACHE_S` seconds, a safety net, and a cache that cannot be read means no copy.

Copies are plain values (tuples of column values); callers build fresh model instances from
them, so no request can change what another one sees.
"""

import logging
import threading
import time
import uuid
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from django.conf import settings
from django.core.cache import caches
from django.db import models, transaction

logger = logging.getLogger(__name__)

CACHE_ALIAS = "directory"
GENERATION_KEY = "ocpi:directory-generation"
# The generation key outlives any copy by far; if the cache evicts it anyway, a new one is made
# and every copy read under the old one is dropped.
_GENERATION_TIMEOUT_S = 7 * 24 * 3600

T = TypeVar("T")

_lock = threading.Lock()
_generation_seen: str | None = None
_entries: dict[Hashable, tuple[float, Any]] = {}


def enabled() -> bool:
    return float(settings.OCPI_DIRECTORY_CACHE_S) > 0


def _current_generation() -> str | None:
    """The shared generation (made when absent), or None when the cache cannot be read."""
    try:
        cache = caches[CACHE_ALIAS]
        generation = cache.get(GENERATION_KEY)
        if generation is None:
            cache.add(GENERATION_KEY, uuid.uuid4().hex, _GENERATION_TIMEOUT_S)
            generation = cache.get(GENERATION_KEY)
    except Exception:  # a cache outage costs the queries, never a stale answer
        logger.warning("Directory cache unreadable: reading the database", exc_info=True)
        return None
    return str(generation) if generation is not None else None


def cached(key: Hashable, load: Callable[[], T]) -> T:
    """`load()`'s value, copied for this process under the current generation. `load` must
    return plain values only (no model instance: copies are shared between threads). None is
    never kept: unknown tokens must not fill the memory of a process."""
    if not enabled():
        return load()
    generation = _current_generation()
    if generation is None:
        return load()
    global _generation_seen
    now = time.monotonic()
    with _lock:
        if generation != _generation_seen:
            _entries.clear()
            _generation_seen = generation
        hit = _entries.get(key)
    if hit is not None and hit[0] > now:
        value: T = hit[1]
        return value
    value = load()
    with _lock:
        # Only under the generation read before `load`: a change since then dropped it.
        if value is not None and _generation_seen == generation:
            _entries[key] = (now + float(settings.OCPI_DIRECTORY_CACHE_S), value)
    return value


def forget(key: Hashable) -> None:
    """Drop this process's copy of `key` (the next use reads the database)."""
    with _lock:
        _entries.pop(key, None)


def clear_local() -> None:
    """Drop every copy of this process (tests between cases; a flushed database)."""
    global _generation_seen
    with _lock:
        _entries.clear()
        _generation_seen = None


def _replace_generation() -> None:
    with _lock:
        _entries.clear()
    caches[CACHE_ALIAS].set(GENERATION_KEY, uuid.uuid4().hex, _GENERATION_TIMEOUT_S)


def _replace_generation_after_commit() -> None:
    try:
        _replace_generation()
    except Exception:
        # The change committed and the generation was replaced at the write already.
        logger.exception("Could not replace the directory generation after a commit")


def invalidate() -> None:
    """The directory changed: every copy in every process is dropped, now and at the commit
    of the change (a request reading before the commit must not keep what it read). A cache
    that cannot be written fails the change itself: a revocation never stands unseen."""
    _replace_generation()
    transaction.on_commit(_replace_generation_after_commit)


# Updates of these columns alone change nothing a copy decides with (still-alive stamps).
_STAMP_FIELDS = frozenset({"last_seen_at", "last_probe_at"})


def on_directory_saved(
    sender: type[models.Model], update_fields: frozenset[str] | None = None, **kwargs: Any
) -> None:
    """post_save of a directory model."""
    if update_fields is not None and set(update_fields) <= _STAMP_FIELDS:
        return
    invalidate()


def on_directory_changed(sender: type[models.Model], **kwargs: Any) -> None:
    """post_delete of a directory model, or `directory_changed` (a queryset write)."""
    invalidate()
