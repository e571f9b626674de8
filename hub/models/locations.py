"""Locations as the hub stores them (2.2.1 mod_locations): the CPO's JSON document, with EVSEs
and connectors nested as the CPO sent them, plus a denormalised EVSE index for admin and
analytics."""

from typing import ClassVar

from django.db import models

from hub.models.base import ClientOwnedObject
from hub.models.choices import spec_choices
from hub.models.spec_enums import Status as EvseStatus


class Location(ClientOwnedObject):
    """A CPO's location. `data` is the partner's object as received (spelling kept, the hub
    never changes `last_updated`); the keys are upper-cased because CiStrings compare
    case-insensitively."""

    location_id = models.CharField(max_length=36)
    publish = models.BooleanField(default=True)
    name = models.CharField(max_length=255, blank=True, default="")
    city = models.CharField(max_length=45, blank=True, default="")
    country = models.CharField(max_length=3, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(ClientOwnedObject.Meta):
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["country_code", "party_id", "location_id"], name="uniq_location"
            ),
        ]
        indexes: ClassVar = [
            models.Index(fields=["last_updated", "id"], name="location_page"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.data.get('id', self.location_id)}"


class Evse(models.Model):
    """One EVSE of a stored location (a read model, rewritten on every write of its location)."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="evse_rows")
    uid = models.CharField(max_length=36)
    evse_id = models.CharField(max_length=48, blank=True, default="")
    status = models.CharField(max_length=12, choices=spec_choices(EvseStatus))
    last_updated = models.DateTimeField()

    class Meta:
        ordering: ClassVar = ["location", "uid"]
        constraints: ClassVar = [
            models.UniqueConstraint(fields=["location", "uid"], name="uniq_location_evse"),
        ]
        indexes: ClassVar = [models.Index(fields=["status"], name="evse_status")]

    def __str__(self) -> str:
        return f"{self.evse_id or self.uid} {self.status}"
