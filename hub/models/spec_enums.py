"""OCPI 2.2.1 enums that models store as `choices` (mod_locations Status, mod_sessions
SessionStatus, mod_commands CommandType, mod_tokens TokenType and AllowedType), spelled as the
spec spells them.

They are here, not in `hub.schemas.enums` (which re-exports them with the other enums), because
models import no layer above them.
"""

from django.db import models


class Status(models.TextChoices):
    """Status of an EVSE (mod_locations Status)."""

    AVAILABLE = "AVAILABLE"
    BLOCKED = "BLOCKED"
    CHARGING = "CHARGING"
    INOPERATIVE = "INOPERATIVE"
    OUTOFORDER = "OUTOFORDER"
    PLANNED = "PLANNED"
    REMOVED = "REMOVED"
    RESERVED = "RESERVED"
    UNKNOWN = "UNKNOWN"


class SessionStatus(models.TextChoices):
    """mod_sessions SessionStatus (the text's "RESERVED" is the enum's RESERVATION)."""

    ACTIVE = "ACTIVE"
    COMPLETED = "COMPLETED"
    INVALID = "INVALID"
    PENDING = "PENDING"
    RESERVATION = "RESERVATION"


class CommandType(models.TextChoices):
    """mod_commands CommandType: the URL segment naming the command."""

    CANCEL_RESERVATION = "CANCEL_RESERVATION"
    RESERVE_NOW = "RESERVE_NOW"
    START_SESSION = "START_SESSION"
    STOP_SESSION = "STOP_SESSION"
    UNLOCK_CONNECTOR = "UNLOCK_CONNECTOR"


class TokenType(models.TextChoices):
    """mod_tokens TokenType (used by PublishTokenType)."""

    AD_HOC_USER = "AD_HOC_USER"
    APP_USER = "APP_USER"
    OTHER = "OTHER"
    RFID = "RFID"


class AllowedType(models.TextChoices):
    """mod_tokens AllowedType: the outcome of a real-time authorization."""

    ALLOWED = "ALLOWED"
    BLOCKED = "BLOCKED"
    EXPIRED = "EXPIRED"
    NO_CREDIT = "NO_CREDIT"
    NOT_ALLOWED = "NOT_ALLOWED"
