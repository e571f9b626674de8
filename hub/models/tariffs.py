"""Tariffs as the hub stores them (2.2.1 mod_tariffs)."""

from typing import ClassVar

from django.db import models

from hub.models.base import ClientOwnedObject


class Tariff(ClientOwnedObject):
    """A CPO's tariff as received. A DELETE keeps a tombstone (`deleted_at`) so the deletion
    can be delivered to receivers and CDRs priced with it can still be checked."""

    tariff_id = models.CharField(max_length=36)
    currency = models.CharField(max_length=3)
    deleted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ClientOwnedObject.Meta):
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "tariff_id"], name="uniq_tariff"
            ),
        ]
        indexes: ClassVar = [models.Index(fields=["last_updated", "id"], name="tariff_page")]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.data.get('id', self.tariff_id)}"
