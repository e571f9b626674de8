"""Proxied URLs: partner URLs the hub hands out in its own name (DESIGN §3; HUB-CHECKLIST §2.5).

A routed response carries URLs the caller cannot reach with its hub credentials: the pagination
`Link` of a forwarded GET, the `Location` of a forwarded CDR POST. The hub replaces them with
`{OCPI_BASE_URL}/ocpi/2.2.1/{gateway}/{module}/page/{id}` and remembers here where that id
leads, for whom, and until when (ocn-node keeps the same table: `setProxyResource`).
"""

import uuid
from typing import ClassVar

from django.db import models

from hub.modules import ModuleID


class ProxiedUrlKind(models.TextChoices):
    """What a proxied URL stood for in the receiver's response."""

    PAGE = "page"  # Link rel="next" of a paginated GET (2.2.1 transport_and_format, Pagination)
    LOCATION = "location"  # Location header, e.g. of a CDR POST (2.2.1 mod_cdrs)
    GENERIC = "generic"


class Gateway(models.TextChoices):
    """The face of the hub the URL was handed out through (its URL segment)."""

    CPO = "cpo", "CPO gateway"
    EMSP = "emsp", "eMSP gateway"


class ProxiedUrl(models.Model):
    """One partner URL reachable through the hub.

    Only `caller` (the platform the hub gave the URL to) may follow it, and only until
    `expires_at`; the hub then calls `target_url` on `receiver` with the receiver's token.
    The routing parties are those of the exchange that produced the URL: following it is a
    request from the same FROM party to the same TO party. No token is ever stored here.
    """

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Partner URLs may exceed the 255 characters of an OCPI URL once filters are repeated.
    target_url = models.TextField()
    receiver = models.ForeignKey(
        "hub.Platform", on_delete=models.CASCADE, related_name="proxied_urls_served"
    )
    caller = models.ForeignKey(
        "hub.Platform", on_delete=models.CASCADE, related_name="proxied_urls_given"
    )
    from_country_code = models.CharField(max_length=2, blank=True, default="")
    from_party_id = models.CharField(max_length=3, blank=True, default="")
    to_country_code = models.CharField(max_length=2, blank=True, default="")
    to_party_id = models.CharField(max_length=3, blank=True, default="")
    module = models.CharField(max_length=64, choices=ModuleID.choices)
    gateway = models.CharField(max_length=16, choices=Gateway.choices)
    kind = models.CharField(
        max_length=10, choices=ProxiedUrlKind.choices, default=ProxiedUrlKind.GENERIC
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering: ClassVar = ["-created_at"]
        verbose_name = "proxied URL"

    def __str__(self) -> str:
        return f"{self.kind} {self.module} of {self.receiver_id} for {self.caller_id}"
