"""Roaming agreements (DESIGN §6b): the commercial contract between one CPO party and one eMSP
party that, in `OCPI_ROAMING_MODE=agreements`, decides which data flows between them."""

from datetime import date
from typing import ClassVar

from django.db import models
from django.db.models import Q


class AgreementStatus(models.TextChoices):
    ACTIVE = "ACTIVE", "active"
    SUSPENDED = "SUSPENDED", "suspended"
    ENDED = "ENDED", "ended"


class AgreementScope(models.TextChoices):
    """What may flow under an agreement. `evse_status` is the real-time EVSE status: without
    it an eMSP still gets the CPO's locations, with every status served as UNKNOWN and no
    status-only updates. `tokens` covers the token push to the CPO and real-time
    authorization; `sessions` covers sessions, commands and charging profiles."""

    LOCATIONS = "locations", "locations"
    EVSE_STATUS = "evse_status", "real-time EVSE status"
    TARIFFS = "tariffs", "tariffs"
    TOKENS = "tokens", "tokens and real-time authorization"
    SESSIONS = "sessions", "sessions, commands and charging profiles"
    CDRS = "cdrs", "CDRs"


ALL_SCOPES: tuple[str, ...] = tuple(AgreementScope.values)


class RoamingAgreement(models.Model):
    """One CPO party and one eMSP party, a validity period (both days included, `valid_to`
    open-ended when empty), a status and the scopes that flow. `location_ids` narrows the
    locations (and their EVSE status) to some of the CPO's; empty means all of them.

    `in_force` is what the hub last applied (pushes and HubClientInfo done for it): comparing
    it with `is_in_force(today)` tells the daily job which agreements started or ended."""

    cpo_country_code = models.CharField(max_length=2)
    cpo_party_id = models.CharField(max_length=3)
    emsp_country_code = models.CharField(max_length=2)
    emsp_party_id = models.CharField(max_length=3)
    valid_from = models.DateField()
    valid_to = models.DateField(null=True, blank=True)
    status = models.CharField(
        max_length=9, choices=AgreementStatus.choices, default=AgreementStatus.ACTIVE
    )
    scopes = models.JSONField(default=list, blank=True)
    location_ids = models.JSONField(default=list, blank=True)
    in_force = models.BooleanField(default=False, editable=False)
    note = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["cpo_country_code", "cpo_party_id", "emsp_country_code", "pk"]
        indexes: ClassVar = [
            models.Index(
                fields=["cpo_country_code", "cpo_party_id", "emsp_country_code", "emsp_party_id"],
                name="agreement_pair",
            ),
        ]
        constraints: ClassVar = [
            models.CheckConstraint(
                condition=Q(valid_to__isnull=True) | Q(valid_to__gte=models.F("valid_from")),
                name="agreement_period_ordered",
            ),
        ]

    def __str__(self) -> str:
        return (
            f"{self.cpo_country_code}*{self.cpo_party_id} ↔ "
            f"{self.emsp_country_code}*{self.emsp_party_id}"
        )

    def is_in_force(self, on: date) -> bool:
        """Active, and `on` within the validity period."""
        return (
            self.status == AgreementStatus.ACTIVE
            and self.valid_from <= on
            and (self.valid_to is None or on <= self.valid_to)
        )

    def allows(self, scope: str) -> bool:
        return scope in (self.scopes or [])
