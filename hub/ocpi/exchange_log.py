"""Recording OCPI exchanges for the admin's log (DESIGN §7): ids, parties, statuses, timing.

Never a token: only the method, the URL (tokens never travel in URLs), the headers' ids and
the statuses are kept. A failure to log never fails the exchange itself.
"""

import logging
from dataclasses import dataclass

from django.conf import settings

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


def record_exchange(record: ExchangeRecord) -> None:
    """Store `record` in the exchange log (if enabled) and emit one log line."""
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
        OcpiExchange.objects.create(
            direction=record.direction,
            method=_text(record.method, 8),
            url=_text(record.url, 1000),
            module=_text(record.module, 64),
            platform=record.platform if record.platform and record.platform.pk else None,
            from_party=_text(record.from_party, 8),
            to_party=_text(record.to_party, 8),
            request_id=_text(record.request_id, 255),
            correlation_id=_text(record.correlation_id, 255),
            http_status=record.http_status,
            ocpi_status=record.ocpi_status
            if record.ocpi_status is not None and 0 <= record.ocpi_status < 32768
            else None,
            status_message=_text(record.status_message, 255),
            duration_ms=record.duration_ms,
            error=_text(record.error, 255),
        )
    except Exception:  # the log must never break the exchange it describes
        logger.exception("Could not store the OCPI exchange log entry")
