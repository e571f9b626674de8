"""The party registry: platforms (OCPI connections), their roles, endpoints and tokens.

DESIGN §1: a platform is one OCPI connection (one credentials exchange, one token pair, one set
of endpoints) hosting one or more roles (country_code, party_id, role). Routing is by role,
authentication by platform.
"""

from typing import Any, ClassVar, TypeVar

from django.conf import settings
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models.functions import Upper
from django.dispatch import Signal

# The directory (platforms, their roles, endpoints and tokens) changed through a queryset
# write that sends no per-object signal (`update`, `delete`, `bulk_create`, `bulk_update`).
# `hub.ocpi.directory_cache` listens (with post_save/post_delete): every per-process copy of
# the directory (a token's platform and roles, a module's receivers) is dropped at once.
directory_changed = Signal()

# Updates of these columns only change nothing any copy of the directory decides with: the
# still-alive stamps (written about once a minute per platform).
_STAMP_FIELDS = frozenset({"last_seen_at", "last_probe_at"})


_M = TypeVar("_M", bound=models.Model)


class DirectoryQuerySet(models.QuerySet[_M]):
    """A queryset of the directory's tables that says when a bulk write changed them."""

    def _changed(self) -> None:
        directory_changed.send(sender=self.model)

    def update(self, **kwargs: Any) -> int:
        count = super().update(**kwargs)
        if not set(kwargs) <= _STAMP_FIELDS:
            self._changed()
        return count

    def delete(self) -> tuple[int, dict[str, int]]:
        result = super().delete()
        self._changed()
        return result

    def bulk_create(self, *args: Any, **kwargs: Any) -> list[_M]:
        created = super().bulk_create(*args, **kwargs)
        self._changed()
        return created

    def bulk_update(self, *args: Any, **kwargs: Any) -> int:
        count = super().bulk_update(*args, **kwargs)
        self._changed()
        return count


class ConnectionStatus(models.TextChoices):
    """2.2.1 mod_hub_client_info ConnectionStatus."""

    CONNECTED = "CONNECTED"
    OFFLINE = "OFFLINE"
    PLANNED = "PLANNED"
    SUSPENDED = "SUSPENDED"


class Role(models.TextChoices):
    """2.2.1 types.asciidoc Role, labelled as the spec spells the roles in its text."""

    CPO = "CPO", "CPO"
    EMSP = "EMSP", "eMSP"
    HUB = "HUB", "HUB"
    NAP = "NAP", "NAP"
    NSP = "NSP", "NSP"
    OTHER = "OTHER", "Other"
    SCSP = "SCSP", "SCSP"


class InterfaceRole(models.TextChoices):
    """2.2.1 version_information_endpoint InterfaceRole."""

    SENDER = "SENDER"
    RECEIVER = "RECEIVER"


class TokenEncoding(models.TextChoices):
    """How the hub writes the token in the Authorization header it sends to a platform."""

    BASE64 = "BASE64", "Token <base64(token)> (2.2.1)"
    RAW = "RAW", "Token <token> (2.1.1-era partners)"


class TokenScope(models.TextChoices):
    """What a hub-issued token opens."""

    # Token A (partner-initiated) or the hub's token B while a hub-initiated handshake runs:
    # versions and credentials only (2.2.1 credentials.asciidoc).
    REGISTRATION = "REGISTRATION"
    ACCESS = "ACCESS"


class RegistrationInitiator(models.TextChoices):
    """Who started the credentials exchange."""

    PARTNER = "PARTNER", "Partner (the hub issued Token A)"
    HUB = "HUB", "Hub (the partner issued Token A)"


class Platform(models.Model):
    """One OCPI connection with a partner platform.

    `outbound_token` is the token the hub must send to the partner; it is stored because it
    must be sent, and is never logged nor shown in full. Tokens the hub issues live in
    `PlatformToken` as digests only.
    """

    name = models.CharField(max_length=100)
    status = models.CharField(
        max_length=10, choices=ConnectionStatus.choices, default=ConnectionStatus.PLANNED
    )
    status_changed_at = models.DateTimeField(auto_now_add=True)
    registered = models.BooleanField(
        default=False, help_text="A credentials exchange completed and was not deleted."
    )
    initiated_by = models.CharField(
        max_length=10, choices=RegistrationInitiator.choices, blank=True, default=""
    )
    versions_url = models.URLField(max_length=255, blank=True, default="")
    version = models.CharField(max_length=10, blank=True, default="")
    version_details_url = models.URLField(max_length=255, blank=True, default="")
    outbound_token = models.CharField(max_length=64, blank=True, default="")
    token_encoding = models.CharField(
        max_length=10, choices=TokenEncoding.choices, default=TokenEncoding.BASE64
    )
    registered_at = models.DateTimeField(null=True, blank=True)
    # Partners are untrusted: the hub reads at most this much of any answer (issue 10). Some
    # partners legitimately send big pages (a CPO that ignores `limit`), hence per platform.
    max_response_bytes = models.PositiveIntegerField(
        null=True,
        blank=True,
        validators=[MinValueValidator(1024)],
        help_text=(
            "The largest answer the hub reads from this platform, in bytes after "
            "decompression (a larger one fails the call). Empty: OCPI_MAX_RESPONSE_BYTES."
        ),
    )
    last_seen_at = models.DateTimeField(
        null=True, blank=True, help_text="Last authenticated request from this platform."
    )
    last_probe_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Last still-alive probe (GET versions) of this platform, whatever its result.",
    )
    notes = models.TextField(blank=True, default="")
    parties_named = models.BooleanField(
        default=False,
        help_text="Staff named this platform's parties when inviting it: credentials claiming "
        "any other party are refused.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["name", "pk"]
        # The registry operations staff roles are given one by one (hub.services.staff).
        permissions: ClassVar = [
            ("rotate_platform", "Can rotate a platform's credentials"),
            ("suspend_platform", "Can suspend and reactivate a platform"),
            ("unregister_platform", "Can unregister a platform"),
        ]

    def __str__(self) -> str:
        """The name only: admin lists and filters call this per row, so it must not query
        (the roles are a column of their own in the platform list)."""
        return self.name

    @property
    def masked_outbound_token(self) -> str:
        """The partner's token as admin may show it: the last four characters only."""
        token = self.outbound_token
        return f"…{token[-4:]}" if len(token) > 8 else ("set" if token else "")


class PlatformRole(models.Model):
    """A party (country_code, party_id, role) hosted by a platform.

    CiStrings compare case-insensitively (2.2.1 types CiString): the keys are stored upper-case
    and unique across platforms, so one party can never be claimed by two connections.
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="roles")
    role = models.CharField(max_length=5, choices=Role.choices)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    business_details = models.JSONField(default=dict, blank=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["country_code", "party_id", "role"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                Upper("country_code"), Upper("party_id"), "role", name="uniq_party_role"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.role}"

    def save(self, *args: object, **kwargs: object) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PlatformEndpoint(models.Model):
    """One endpoint a platform published in its version details.

    `identifier` is free text: custom modules are allowed (2.2.1 ModuleID may be extended).
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="endpoints")
    identifier = models.CharField(max_length=64)
    role = models.CharField(max_length=8, choices=InterfaceRole.choices)
    url = models.URLField(max_length=255)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["identifier", "role"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                fields=["platform", "identifier", "role"], name="uniq_platform_endpoint"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.identifier} {self.role}"


class PlatformToken(models.Model):
    """A token the hub issued to a platform, stored as a SHA-256 digest only."""

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="tokens")
    digest = models.CharField(max_length=64, unique=True)
    scope = models.CharField(max_length=12, choices=TokenScope.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = DirectoryQuerySet.as_manager()

    class Meta:
        ordering: ClassVar = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.scope} token of {self.platform_id} (…{self.digest[-6:]})"


class ClaimState(models.TextChoices):
    """Why a party is held for a platform without being one of its working roles."""

    INVITED = "INVITED", "Invited (named by staff, not claimed yet)"
    PENDING = "PENDING", "Pending staff approval"
    DROPPED = "DROPPED", "Dropped (reserved to its platform until staff release it)"


class PartyClaim(models.Model):
    """A party (country_code, party_id, role) reserved to a platform but not (yet, or no
    longer) one of its working `PlatformRole`s (hub.services.registry.parties).

    A party is in at most one place: a `PlatformRole` (working) or a `PartyClaim` (reserved),
    of one platform; the keys are upper-case and unique here as there, so nobody else can claim
    a party that is invited to, pending for, or dropped by another platform.
    """

    platform = models.ForeignKey(Platform, on_delete=models.CASCADE, related_name="party_claims")
    role = models.CharField(max_length=5, choices=Role.choices)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    state = models.CharField(max_length=8, choices=ClaimState.choices)
    # What the partner claimed with (PENDING), or held before it dropped the party (DROPPED).
    business_details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering: ClassVar = ["country_code", "party_id", "role"]
        constraints: ClassVar = [
            models.UniqueConstraint(
                Upper("country_code"), Upper("party_id"), "role", name="uniq_party_claim"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.country_code}*{self.party_id} {self.role} ({self.state})"

    def save(self, *args: object, **kwargs: object) -> None:
        self.country_code = self.country_code.upper()
        self.party_id = self.party_id.upper()
        super().save(*args, **kwargs)  # type: ignore[arg-type]


class PartyAction(models.TextChoices):
    """What happened to a party's assignment (the audit log)."""

    INVITED = "INVITED", "Invited (named in an invite)"
    CLAIMED = "CLAIMED", "Claimed (a working role)"
    REQUESTED = "REQUESTED", "Requested (pending approval)"
    APPROVED = "APPROVED", "Approved"
    REJECTED = "REJECTED", "Rejected"
    WITHDRAWN = "WITHDRAWN", "Withdrawn (no longer claimed while pending)"
    DROPPED = "DROPPED", "Dropped (reserved)"
    RELEASED = "RELEASED", "Released"


class PartyAuditEntry(models.Model):
    """One change of who holds a party: who did it and when. Never edited nor deleted by the
    hub; it outlives the platform (the name is copied)."""

    platform = models.ForeignKey(
        Platform, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    platform_name = models.CharField(max_length=100)
    role = models.CharField(max_length=5, choices=Role.choices)
    country_code = models.CharField(max_length=2)
    party_id = models.CharField(max_length=3)
    action = models.CharField(max_length=10, choices=PartyAction.choices)
    # "staff <username>", "partner (credentials PUT)", "hub (ocpi_connect)", ...
    actor = models.CharField(max_length=200)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    detail = models.TextField(blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering: ClassVar = ["-at", "-pk"]
        indexes: ClassVar = [
            models.Index(fields=["country_code", "party_id", "at"], name="party_audit_party"),
        ]
        verbose_name = "party audit entry"
        verbose_name_plural = "party audit log"

    def __str__(self) -> str:
        party = f"{self.country_code}*{self.party_id} {self.role}"
        return f"{self.at:%Y-%m-%d %H:%M} {self.action} {party}"
