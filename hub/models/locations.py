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


class LocationAudience(models.Model):
    """One `publish_allowed_to` entry (2.2.1 PublishTokenType) of an unpublished location, kept
    beside its document so that what a caller may see is one query: GET all asks whether a token
    of the caller's matches one of these rows, in the same statement as the page (issue 14).
    Rewritten by every write of the location that changes its entries (`hub.services.locations`);
    a published location has none. NULL is "not given": NULL never equals anything in SQL."""

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="audience")
    # Upper-cased (CiString), as the token-owner index keeps it.
    uid = models.CharField(max_length=36, null=True)
    token_type = models.CharField(max_length=12, null=True)
    # Set only when both are given: visual_number alone names no token (it needs its issuer).
    visual_number = models.CharField(max_length=64, null=True)
    issuer = models.CharField(max_length=64, null=True)
    # Set only when visual_number + issuer are not: they take precedence, as they did when the
    # entries were resolved in Python (`hub.selectors.publish_allowed_parties`).
    group_id = models.CharField(max_length=36, null=True)

    class Meta:
        ordering: ClassVar = ["location", "pk"]

    def __str__(self) -> str:
        return f"{self.location_id}: {self.uid or self.visual_number or self.group_id}"


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
