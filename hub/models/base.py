"""The columns every client-owned object shares (2.2.1 transport_and_format, Client Owned
Object Push): Location, Tariff, Session, Token and Cdr are each a party's object, stored as the
partner sent it, ordered by the partner's own `last_updated`."""

from typing import ClassVar

from django.db import models


class ClientOwnedObject(models.Model):
    """A party's object as the hub stores it: the owner party (upper-cased: CiStrings compare
    case-insensitively), the platform that pushed it, the partner's JSON as received (spelling
    kept) and its `last_updated`, which the hub never changes and pages in order of."""

    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    # The platform that wrote it; kept (NULL) when that platform is deleted, for the bills.
    owner = models.ForeignKey(
        "hub.Platform", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    data = models.JSONField()
    last_updated = models.DateTimeField()

    class Meta:
        abstract = True
        # GET all pages in `last_updated` order (2.2.1 Pagination), pk as the tie-breaker.
        ordering: ClassVar = ["last_updated", "pk"]
