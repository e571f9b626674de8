"""OCPI DateTime: RFC 3339 in UTC, at most 25 characters (2.2.1 types.asciidoc, DateTime).

Python's `isoformat()` writes `+00:00` and DRF's default writes microseconds (27 characters);
both are wrong on the wire, so every DateTime the hub writes goes through `format_datetime`.
"""

import re
from datetime import UTC, datetime

_DATETIME_RE = re.compile(
    r"^(?P<date>\d{4}-\d{2}-\d{2})T(?P<time>\d{2}:\d{2}:\d{2})(?P<frac>\.\d{1,9})?"
    r"(?P<tz>Z|z|[+-]00:00)?$"
)


class DateTimeFormatError(ValueError):
    """A string that is not an OCPI DateTime."""


def utc_now() -> datetime:
    """The current time, aware, in UTC."""
    return datetime.now(tz=UTC)


def format_datetime(value: datetime) -> str:
    """Write an aware datetime as OCPI DateTime: UTC, `Z`, milliseconds only when non-zero."""
    if value.tzinfo is None:
        raise ValueError("OCPI DateTimes are written from aware datetimes only")
    value = value.astimezone(UTC)
    millis = value.microsecond // 1000
    base = value.strftime("%Y-%m-%dT%H:%M:%S")
    return f"{base}.{millis:03d}Z" if millis else f"{base}Z"


def parse_datetime(value: str) -> datetime:
    """Read an OCPI DateTime into an aware UTC datetime.

    Accepted: `Z`, no suffix (the spec: "no Z implies UTC") and, for the many 2.1.1-era
    implementations that write Python's `isoformat()`, the offset `+00:00`, which names the
    same instant. Any other offset is refused: OCPI DateTimes are UTC only.
    """
    if not isinstance(value, str) or len(value) > 25:
        raise DateTimeFormatError("must be an OCPI DateTime (UTC, at most 25 characters)")
    match = _DATETIME_RE.match(value)
    if not match:
        raise DateTimeFormatError(
            "must be an OCPI DateTime in UTC, e.g. 2015-06-29T20:39:09Z (no offset other than Z)"
        )
    frac = (match["frac"] or ".0")[1:7].ljust(6, "0")
    try:
        # Naive only for the moment it takes to attach UTC, which the format implies.
        naive = datetime.strptime(  # noqa: DTZ007
            f"{match['date']}T{match['time']}", "%Y-%m-%dT%H:%M:%S"
        )
    except ValueError as exc:
        raise DateTimeFormatError(f"is not a valid date and time: {exc}") from exc
    return naive.replace(microsecond=int(frac), tzinfo=UTC)
