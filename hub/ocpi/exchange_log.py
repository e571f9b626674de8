"""Recording OCPI exchanges for the admin's log (DESIGN §7): ids, parties, statuses, timing.

Never a token: only the method, the URL (tokens never travel in URLs), the headers' ids and
the statuses are kept. A failure to log never fails the exchange itself.
"""

import functools
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any, cast

from django.conf import settings
from django.db import connections, models, router
from django.utils import timezone

from hub.models import OcpiExchange, Platform

logger = logging.getLogger(__name__)


@dataclass
class ExchangeRecord:
    """What is known of one exchange once it ended."""

    direction: str
    method: str
    url: str
    platform: Platform | None = None
    module: str = ""
    from_party: str = ""
    to_party: str = ""
    request_id: str = ""
    correlation_id: str = ""
    http_status: int | None = None
    ocpi_status: int | None = None
    status_message: str = ""
    duration_ms: float | None = None
    error: str = ""


def _text(value: str, length: int) -> str:
    """`value` cut to `length`, NUL replaced: PostgreSQL text cannot hold NUL, and a partner's
    bytes (quoted back in a 2001 message, say) must not cost the exchange its log entry."""
    return value[:length].replace("\x00", "\ufffd")


# The log's columns, in the order `_row` gives their values.
_FIELDS: "tuple[models.Field[Any, Any], ...]" = tuple(
    cast("models.Field[Any, Any]", OcpiExchange._meta.get_field(name))
    for name in (
        "created_at",
        "direction",
        "method",
        "url",
        "module",
        "platform",
        "from_party",
        "to_party",
        "request_id",
        "correlation_id",
        "http_status",
        "ocpi_status",
        "status_message",
        "duration_ms",
        "error",
    )
)
Row = tuple[object, ...]

# The rows an inbound request's own outbound calls made (a forward, a handshake), kept until
# the request's row is written with them in one INSERT (`request_scope`); None outside one.
_held: ContextVar[list[Row] | None] = ContextVar("ocpi_exchange_rows", default=None)


@contextmanager
def request_scope() -> Iterator[None]:
    """Hold the exchange rows recorded inside the block and store them at its end, in one
    INSERT with whatever `record_exchange` was given last (the inbound request's own row).

    Why: a routed request wrote its outbound row and then its inbound row, two ORM INSERTs and
    two commits on the request's path (issue 14, S1: 0.55 ms each, in process). Held, they cost
    one statement, and the outbound row no longer lives in the view's transaction: a request
    that rolls back keeps the log of the calls it made. Nothing is lost that was not lost
    before: the rows are stored when the request ends, as its own row always was, whatever the
    block raises, each with the time it was recorded at."""
    held: list[Row] = []
    token = _held.set(held)
    try:
        yield
    finally:
        _held.reset(token)
        _store(held)


def _store(rows: list[Row]) -> None:
    """One INSERT for `rows` (a plain statement: the ORM's `bulk_create` costs a transaction
    and twice the time); if it fails (a platform deleted meanwhile, say), each row alone, so
    one bad row costs only itself."""
    if len(rows) > 1:
        try:
            _insert(rows)
            return
        except Exception:
            logger.warning("Storing %d exchange log entries together failed", len(rows))
    for row in rows:
        try:
            _insert([row])
        except Exception:  # the log must never break the exchange it describes
            logger.exception("Could not store the OCPI exchange log entry")


def _insert(rows: list[Row]) -> None:
    alias = router.db_for_write(OcpiExchange)
    connection = connections[alias]
    params = [
        field.get_db_prep_save(value, connection)
        for row in rows
        for field, value in zip(_FIELDS, row, strict=True)
    ]
    prefix, one = _statement_parts(alias)
    with connection.cursor() as cursor:
        # Identifiers and placeholders only; every value is a parameter.
        cursor.execute(f"{prefix} {', '.join([one] * len(rows))}", params)


@functools.cache
def _statement_parts(alias: str) -> tuple[str, str]:
    """`INSERT INTO <table> (<columns>) VALUES` and one row's placeholders, built once per
    database alias: the same on every request."""
    quote = connections[alias].ops.quote_name
    columns = ", ".join(quote(str(field.column)) for field in _FIELDS)
    table = quote(OcpiExchange._meta.db_table)
    placeholders = f"({', '.join(['%s'] * len(_FIELDS))})"
    return f"INSERT INTO {table} ({columns}) VALUES", placeholders  # noqa: S608


def record_exchange(record: ExchangeRecord) -> None:
    """Store `record` in the exchange log (if enabled) and emit one log line; inside a
    `request_scope` the row is stored at the scope's end."""
    logger.info(
        "ocpi %s %s %s -> %s/%s in %.1fms request_id=%s correlation_id=%s%s",
        record.direction,
        record.method,
        record.url,
        record.http_status,
        record.ocpi_status,
        record.duration_ms or 0.0,
        record.request_id,
        record.correlation_id,
        f" error={record.error}" if record.error else "",
    )
    if not settings.OCPI_LOG_EXCHANGES:
        return
    try:
        row = _row(record)
    except Exception:  # the log must never break the exchange it describes
        logger.exception("Could not build the OCPI exchange log entry")
        return
    held = _held.get()
    if held is not None:
        held.append(row)
        return
    _store([row])


def _row(record: ExchangeRecord) -> Row:
    """The column values of `record`'s row, in `_FIELDS` order, each cut to its column."""
    platform = record.platform
    ocpi_status = record.ocpi_status
    return (
        timezone.now(),
        record.direction,
        _text(record.method, 8),
        _text(record.url, 1000),
        _text(record.module, 64),
        platform.pk if platform is not None and platform.pk else None,
        _text(record.from_party, 8),
        _text(record.to_party, 8),
        _text(record.request_id, 255),
        _text(record.correlation_id, 255),
        record.http_status,
        ocpi_status if ocpi_status is not None and 0 <= ocpi_status < 32768 else None,
        _text(record.status_message, 255),
        record.duration_ms,
        _text(record.error, 255),
    )
