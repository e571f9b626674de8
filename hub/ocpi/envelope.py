"""The OCPI response envelope (2.2.1 transport_and_format, Response format)."""

from typing import Any

from hub.ocpi.datetimes import format_datetime, utc_now
from hub.ocpi.status import OcpiStatus

ENVELOPE_KEYS = frozenset({"data", "status_code", "status_message", "timestamp"})


def ocpi_envelope(
    data: Any = None,
    status: int = OcpiStatus.SUCCESS,
    message: str | None = None,
    *,
    include_data: bool = True,
) -> dict[str, Any]:
    """Wrap `data` in an envelope; the timestamp is taken now, per call, in OCPI form.

    Error envelopes leave `data` out (the spec's own error example has none).
    """
    envelope: dict[str, Any] = {}
    if include_data and data is not None:
        envelope["data"] = data
    envelope["status_code"] = int(status)
    if message:
        envelope["status_message"] = message
    envelope["timestamp"] = format_datetime(utc_now())
    return envelope


def is_envelope(body: object) -> bool:
    """True if `body` has the shape of an OCPI envelope (status_code and timestamp present)."""
    return (
        isinstance(body, dict)
        and OcpiStatus.is_valid(body.get("status_code"))
        and isinstance(body.get("timestamp"), str)
    )
