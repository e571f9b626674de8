"""The party registry around the platforms: "who is NL*ABC?" (roles and their ClientInfo),
published endpoints, parties reserved to a platform (claims) and their audit log, and the log of
staff exports."""

from collections.abc import Callable
from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html

from hub.admin.display import (
    deliveries_url,
    party_column,
    platform_column,
    pretty_json,
    status_badge,
)
from hub.admin.forms import BusinessDetailsForm
from hub.admin.mixins import HubSearchMixin, ReadOnlyAdmin, ReadOnlyMixin, permission
from hub.models import (
    ConnectionStatus,
    PartyAuditEntry,
    PartyClaim,
    PlatformEndpoint,
    PlatformRole,
    StaffExport,
)
from hub.modules import ModuleID
from hub.ocpi.exceptions import OcpiError
from hub.schemas.hubclientinfo import client_info
from hub.services.registry.parties import claim_approve, claim_reject, claim_release


@admin.register(PlatformRole)
class PlatformRoleAdmin(HubSearchMixin, admin.ModelAdmin):
    """ "Who is NL*ABC?": every party the hub routes to, with its platform, and its ClientInfo
    as the hub publishes it (HubClientInfo: status and last_updated come from the platform)."""

    form = BusinessDetailsForm
    list_display = (
        "party",
        "role",
        "business_name",
        "platform_link",
        "platform_status",
        "clientinfo_last_updated",
        "in_clientinfo_list",
        "clientinfo_deliveries",
    )
    list_filter = ("role", "platform__status")
    list_select_related = ("platform",)
    search_fields = ("country_code", "party_id", "platform__name")
    search_help_text = "Country code, party id, platform name, or a party such as NL*ABC."
    fields = (
        "platform",
        "role",
        "country_code",
        "party_id",
        "business_details",
        "clientinfo_document",
        "clientinfo_deliveries",
    )
    readonly_fields = (
        "platform",
        "role",
        "country_code",
        "party_id",
        "clientinfo_document",
        "clientinfo_deliveries",
    )

    party_prefixes = ("",)
    party_upper_keys = False

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Roles come from a credentials exchange only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PlatformRole | None = None) -> bool:
        """Removing a role would silently stop routing to a registered party."""
        return False

    party = party_column("", "party")

    @admin.display(description="business name")
    def business_name(self, role: PlatformRole) -> str:
        details = role.business_details if isinstance(role.business_details, dict) else {}
        return str(details.get("name") or "—")

    platform_link = platform_column("platform", "platform")

    @admin.display(description="ClientInfo status", ordering="platform__status")
    def platform_status(self, role: PlatformRole) -> str:
        return status_badge(role.platform.status, role.platform.get_status_display())

    @admin.display(description="ClientInfo last_updated", ordering="platform__status_changed_at")
    def clientinfo_last_updated(self, role: PlatformRole) -> Any:
        return role.platform.status_changed_at

    @admin.display(description="in ClientInfo list", boolean=True)
    def in_clientinfo_list(self, role: PlatformRole) -> bool:
        """What `client_infos_visible_to` lists: all but never-registered invitations."""
        return role.platform.registered or role.platform.status != ConnectionStatus.PLANNED

    @admin.display(description="ClientInfo deliveries")
    def clientinfo_deliveries(self, role: PlatformRole) -> str:
        """The pushes of this party's ClientInfo to the other platforms (`CC/PID/ROLE`)."""
        key = f"{role.country_code.upper()}/{role.party_id.upper()}/{role.role}"
        return format_html(
            '<a href="{}">deliveries</a>', deliveries_url(ModuleID.HUB_CLIENT_INFO, key)
        )

    @admin.display(description="ClientInfo (as published)")
    def clientinfo_document(self, role: PlatformRole) -> str:
        return pretty_json(client_info(role))


@admin.register(PlatformEndpoint)
class PlatformEndpointAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Read-only: endpoints are what partners published, re-read on every exchange."""

    list_display = ("platform", "identifier", "role", "url")
    # All read-only, so no form field (and no URLField scheme guessing) is ever built.
    fields = ("platform", "identifier", "role", "url")
    list_filter = ("identifier", "role")
    list_select_related = ("platform",)
    search_fields = ("platform__name", "identifier", "url")


@admin.register(PartyClaim)
class PartyClaimAdmin(ReadOnlyMixin, admin.ModelAdmin):
    """Parties reserved to a platform without being one of its working roles: invited and not
    claimed yet, pending staff approval (a credentials PUT added them), or dropped (reserved
    until released). Decided with the actions; every decision goes to the party audit log."""

    list_display = ("party", "state", "platform", "changed_at", "created_at")
    list_filter = ("state", "role")
    list_select_related = ("platform",)
    search_fields = ("platform__name", "=country_code", "=party_id")
    ordering = ("state", "country_code", "party_id", "role")
    fields = ("party", "state", "platform", "business_details", "created_at", "changed_at")
    actions = ["approve_action", "reject_action", "release_action"]

    # Deciding is an audited action, never an edit or a delete; it needs the change
    # permission, which no edit form uses.
    has_decide_permission = permission("change_partyclaim")

    @admin.display(description="party", ordering="country_code")
    def party(self, claim: PartyClaim) -> str:
        return f"{claim.country_code}*{claim.party_id} {claim.role}"

    def _decide(
        self,
        request: HttpRequest,
        queryset: QuerySet[PartyClaim],
        decide: Callable[..., Any],
        done: str,
    ) -> None:
        count = 0
        for claim in queryset.select_related("platform"):
            try:
                decide(claim, user=request.user)
            except OcpiError as exc:
                messages.error(request, f"{claim}: {exc.message}")
            else:
                count += 1
        if count:
            messages.success(request, f"{done}: {count} part{'y' if count == 1 else 'ies'}.")

    @admin.action(
        description="Approve the pending parties (they become working roles)",
        permissions=["decide"],
    )
    def approve_action(self, request: HttpRequest, queryset: QuerySet[PartyClaim]) -> None:
        self._decide(request, queryset, claim_approve, "Approved")

    @admin.action(
        description="Reject the pending parties (free for others again)", permissions=["decide"]
    )
    def reject_action(self, request: HttpRequest, queryset: QuerySet[PartyClaim]) -> None:
        self._decide(request, queryset, claim_reject, "Rejected")

    @admin.action(
        description="Release dropped or unclaimed invited parties (any platform may claim them "
        "and the objects stored under them)",
        permissions=["decide"],
    )
    def release_action(self, request: HttpRequest, queryset: QuerySet[PartyClaim]) -> None:
        self._decide(request, queryset, claim_release, "Released")


@admin.register(PartyAuditEntry)
class PartyAuditEntryAdmin(ReadOnlyAdmin):
    """Every change of who holds a party: claimed, requested, approved, rejected, dropped,
    released, with who did it and when."""

    list_display = ("at", "action", "party", "platform_name", "actor", "detail")
    list_filter = ("action", "role")
    search_fields = ("platform_name", "=country_code", "=party_id", "actor")
    ordering = ("-at", "-pk")
    fields = ("at", "action", "party", "platform", "platform_name", "actor", "user", "detail")

    @admin.display(description="party", ordering="country_code")
    def party(self, entry: PartyAuditEntry) -> str:
        return f"{entry.country_code}*{entry.party_id} {entry.role}"


@admin.register(StaffExport)
class StaffExportAdmin(ReadOnlyAdmin):
    """Who exported what (CSV downloads of CDRs and reconciliation findings). Written by the
    exports only; visible to whoever holds its view permission (administrators)."""

    list_display = ("created_at", "username", "what", "rows", "remote_addr", "detail")
    list_filter = (("created_at", admin.DateFieldListFilter), "what")
    search_fields = ("=username",)
    ordering = ("-pk",)
    fields = ("created_at", "username", "user", "what", "rows", "remote_addr", "detail")
