"""Choices for model fields whose values are OCPI's (or the hub's own fixed codes)."""

from django.db import models


def spec_choices(enum: type[models.TextChoices]) -> list[tuple[str, str]]:
    """An enum's choices labelled with the values themselves (RFID, APP_USER, COMPLETED), as
    the spec and the partners' payloads spell them, not Django's title-cased member names:
    staff compare what the admin shows with what partners send."""
    return [(value, value) for value in enum.values]
