"""Choices on the fields whose values are fixed, and the roles labelled as the spec spells
them. AlterField only: choices live in Python, so no SQL runs (`sqlmigrate hub 0014` is empty).

Written as a table rather than as makemigrations printed it (one AlterField per field, the
same lists repeated); `makemigrations --check` confirms it matches the models."""

from django.db import migrations, models


def _values(*values: str) -> list[tuple[str, str]]:
    """OCPI values labelled with themselves (hub.models.choices.spec_choices)."""
    return [(value, value) for value in values]


ROLES = [
    ("CPO", "CPO"),
    ("EMSP", "eMSP"),
    ("HUB", "HUB"),
    ("NAP", "NAP"),
    ("NSP", "NSP"),
    ("OTHER", "Other"),
    ("SCSP", "SCSP"),
]
TOKEN_TYPES = _values("AD_HOC_USER", "APP_USER", "OTHER", "RFID")
COMMANDS = _values(
    "CANCEL_RESERVATION", "RESERVE_NOW", "START_SESSION", "STOP_SESSION", "UNLOCK_CONNECTOR"
)
EVSE_STATUSES = _values(
    "AVAILABLE",
    "BLOCKED",
    "CHARGING",
    "INOPERATIVE",
    "OUTOFORDER",
    "PLANNED",
    "REMOVED",
    "RESERVED",
    "UNKNOWN",
)
FINDING_KINDS = _values(
    "MISSING",
    "UNDELIVERED",
    "DEAD_LETTER",
    "DUPLICATE",
    "MISPRICED",
    "UNPRICEABLE",
    "NO_SESSION",
    "SESSION_MISMATCH",
    "CREDIT_WITHOUT_ORIGINAL",
)

# (model, field, max_length, choices, default)
FIELDS: list[tuple[str, str, int, list[tuple[str, str]], str | None]] = [
    ("asyncrequest", "operation", 24, [*COMMANDS, *_values("GET", "SET", "CLEAR")], None),
    ("cdr", "token_type", 12, TOKEN_TYPES, None),
    ("evse", "status", 12, EVSE_STATUSES, None),
    ("partyauditentry", "role", 5, ROLES, None),
    ("partyclaim", "role", 5, ROLES, None),
    ("platformrole", "role", 5, ROLES, None),
    ("proxiedurl", "gateway", 16, [("cpo", "CPO gateway"), ("emsp", "eMSP gateway")], None),
    ("pushdelivery", "operation", 6, _values("PUT", "PATCH", "DELETE", "POST"), None),
    ("reconciliationfinding", "kind", 32, FINDING_KINDS, None),
    ("reconciliationreport", "status", 12, _values("RUNNING", "DONE", "PARTIAL"), "RUNNING"),
    (
        "session",
        "status",
        12,
        _values("ACTIVE", "COMPLETED", "INVALID", "PENDING", "RESERVATION"),
        None,
    ),
    ("token", "type", 12, TOKEN_TYPES, None),
    ("tokenowner", "type", 12, TOKEN_TYPES, None),
]


def _field(
    max_length: int, choices: list[tuple[str, str]], default: str | None
) -> models.CharField:
    if default is None:
        return models.CharField(max_length=max_length, choices=choices)
    return models.CharField(max_length=max_length, choices=choices, default=default)


class Migration(migrations.Migration):
    dependencies = [
        ("hub", "0014_module_choices"),
    ]

    operations = [
        migrations.AlterField(
            model_name=model, name=field, field=_field(max_length, choices, default)
        )
        for model, field, max_length, choices, default in FIELDS
    ]
