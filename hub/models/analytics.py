"""What the hub records for analytics (DESIGN §6b): the history of EVSE statuses, and the
outcome of every real-time authorization routed through it.

Both are the hub's own observations, append-only, and pruned by age
(`hub.services.retention`); the figures built over them are `hub.services.analytics`.
"""

from typing import ClassVar

from django.db import models
from django.utils import timezone

from hub.models.choices import spec_choices
from hub.models.locations import Location
from hub.models.spec_enums import AllowedType
from hub.models.spec_enums import Status as EvseStatus


class EvseStatusChange(models.Model):
    """An EVSE's status became `status` at `changed_at`.

    Written by the location write path (`hub.services.locations`) whenever a stored EVSE's
    status differs from what the hub held before (a new EVSE counts as a change from nothing).
    `changed_at` is the partner's `last_updated` of the EVSE, which the spec makes the time of
    its last change; `recorded_at` is when the hub stored it (also the fallback for
    `changed_at` when the EVSE's `last_updated` cannot be read).
    """

    location = models.ForeignKey(Location, on_delete=models.CASCADE, related_name="+")
    # The CPO party, copied from the location (upper-cased): filtering by party needs no join.
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    evse_uid = models.CharField(max_length=36)
    status = models.CharField(max_length=12, choices=spec_choices(EvseStatus))
    changed_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering: ClassVar = ["location", "evse_uid", "changed_at", "pk"]
        indexes: ClassVar = [
            # the history of one EVSE in time order (utilisation, retention's "newer row")
            models.Index(fields=["location", "evse_uid", "changed_at"], name="evse_status_history"),
            models.Index(
                fields=["country_code", "party_id", "changed_at"], name="evse_status_party"
            ),
            models.Index(fields=["changed_at"], name="evse_status_changed"),
        ]
        permissions: ClassVar = [
            # A view_ permission: the viewer staff role holds every view_ permission of the
            # hub (hub.services.staff), so the read-only role may open the analytics page.
            ("view_analytics", "Can view the analytics page"),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.evse_uid} {self.status}"


class AuthorizationOutcome(models.TextChoices):
    """How a routed real-time authorization ended, as the hub saw it."""

    ANSWERED = "ANSWERED"  # the eMSP answered an AuthorizationInfo (its `allowed` is kept)
    # the eMSP does not know the token (404 / 2004); not a secret, whatever bandit reads
    UNKNOWN_TOKEN = "UNKNOWN_TOKEN"  # noqa: S105
    REFUSED = "REFUSED"  # the eMSP answered another OCPI error (2xxx/3xxx), e.g. 2002
    TIMEOUT = "TIMEOUT"  # the eMSP did not answer in time (4002)
    FAILED = "FAILED"  # no receiver, not connected, no envelope... (the hub's 4xxx)


class AuthorizationRecord(models.Model):
    """One real-time authorization routed through the hub (2.2.1 mod_tokens POST
    `{uid}/authorize`): who asked (the CPO party), who answered (the eMSP party), when, and
    how it ended. The token itself is not kept: the figures need none."""

    created_at = models.DateTimeField(default=timezone.now)
    cpo_country_code = models.CharField(max_length=2, blank=True, default="")
    cpo_party_id = models.CharField(max_length=3, blank=True, default="")
    # Blank when the hub found no eMSP to ask (unknown owner: FAILED).
    emsp_country_code = models.CharField(max_length=2, blank=True, default="")
    emsp_party_id = models.CharField(max_length=3, blank=True, default="")
    outcome = models.CharField(max_length=13, choices=AuthorizationOutcome.choices)
    allowed = models.CharField(
        max_length=11, choices=spec_choices(AllowedType), blank=True, default=""
    )
    ocpi_status = models.PositiveSmallIntegerField(null=True, blank=True)
    duration_ms = models.FloatField(null=True, blank=True)

    class Meta:
        ordering: ClassVar = ["-created_at", "-pk"]
        indexes: ClassVar = [
            models.Index(fields=["created_at"], name="authz_created"),
            models.Index(
                fields=["cpo_country_code", "cpo_party_id", "created_at"], name="authz_cpo"
            ),
            models.Index(
                fields=["emsp_country_code", "emsp_party_id", "created_at"], name="authz_emsp"
            ),
        ]

    def __str__(self) -> str:
        verdict = self.allowed or self.outcome
        return (
            f"{self.cpo_country_code}*{self.cpo_party_id} → "
            f"{self.emsp_country_code}*{self.emsp_party_id}: {verdict}"
        )
