"""The hub's operations admin: the party registry and the OCPI exchange log.

Every registry write (invitations, registrations, rotation, suspension, unregistration) goes
through `hub.services.registry.credentials`; the admin only collects input, asks for
confirmation and reports the outcome, so the admin can never bypass the rules the OCPI
endpoints obey.

Secrets: the partner's `outbound_token` is never put into a form, a page or a log entry (only
its masked form), and a hub-issued Token A is rendered once, directly into the response that
issued it, never stored in the session or a message cookie.
"""

import json
import re
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.cache import cache
from django.core.exceptions import PermissionDenied
from django.db import connections
from django.db.models import (
    CharField,
    Count,
    Exists,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    TextField,
    Value,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Cast, Concat
from django.forms.models import BaseInlineFormSet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator

from hub.admin_forms import BusinessDetailsForm, ConnectForm, InviteForm
from hub.admin_paging import LargeTableAdmin
from hub.models import (
    AsyncKind,
    AsyncRequest,
    AsyncState,
    Cdr,
    ConnectionStatus,
    DeliveryStatus,
    Evse,
    Location,
    OcpiExchange,
    PartyAuditEntry,
    PartyClaim,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
    PriceCheck,
    ProxiedUrl,
    PushAttempt,
    PushDelivery,
    ReconciliationFinding,
    ReconciliationReport,
    Role,
    Session,
    StaffExport,
    SyncState,
    Tariff,
    Token,
    TokenOwner,
)
from hub.ocpi.exceptions import OcpiError
from hub.schemas.commands import CommandType
from hub.schemas.enums import Status as EvseStatus
from hub.schemas.enums import TokenType, WhitelistType
from hub.schemas.hubclientinfo import client_info
from hub.schemas.sessions import SessionStatus
from hub.services.cdr_checks import FINDING_CODES
from hub.services.delivery.receivers import delivery_cancel, delivery_resend
from hub.services.reconciliation.export import reconciliation_findings_csv
from hub.services.reconciliation.findings import Kind
from hub.services.reconciliation.report import ReportStatus
from hub.services.registry.credentials import (
    RegistrationError,
    credentials_rotate,
    hub_versions_url,
    platform_connect,
    platform_invite,
    platform_reactivate,
    platform_suspend,
    platform_unregister,
)
from hub.services.registry.parties import claim_approve, claim_reject, claim_release, staff_actor
from hub.services.routing.async_results import MODULE_OF
from hub.services.staff import SafeCsvWriter, export_record

# Badge colours per connection status: green flows, amber waits, red is stopped.
STATUS_COLOURS: dict[str, str] = {
    ConnectionStatus.CONNECTED: "#2e7d32",
    ConnectionStatus.OFFLINE: "#ef6c00",
    ConnectionStatus.PLANNED: "#546e7a",
    ConnectionStatus.SUSPENDED: "#c62828",
}

# "NL*ABC", "nl-abc", "NL ABC": how staff write a party; searched as (country_code, party_id).
PARTY_SEARCH_RE = re.compile(r"^\s*([A-Za-z]{2})\s*[*\-\s]?\s*([A-Za-z0-9]{3})\s*$")


def _party_query(search_term: str, prefix: str = "") -> Q | None:
    """The role filter for a search term written as a party ("NL*ABC"), else None."""
    match = PARTY_SEARCH_RE.match(search_term)
    if match is None:
        return None
    return Q(
        **{
            f"{prefix}country_code__iexact": match.group(1),
            f"{prefix}party_id__iexact": match.group(2),
        }
    )


def _status_badge(status: str, label: str, colours: dict[str, str] = STATUS_COLOURS) -> str:
    colour = colours.get(status, "#546e7a")
    return format_html(
        '<span style="background:{};color:#fff;padding:2px 8px;border-radius:10px;'
        'font-size:0.85em;white-space:nowrap">{}</span>',
        colour,
        label,
    )


# --- Platform: inlines --------------------------------------------------------------------


class PlatformRoleInline(admin.TabularInline):
    """The parties a platform hosts. Keys come from the credentials exchange (they route
    traffic and are unique hub-wide), so only business details may be corrected here."""

    model = PlatformRole
    form = BusinessDetailsForm
    fields = ("role", "country_code", "party_id", "business_details")
    readonly_fields = ("role", "country_code", "party_id")
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        return False


class PlatformEndpointInline(admin.TabularInline):
    """What the partner published in its version details; re-read on every credentials
    exchange, so editing it here would be silently undone (and could misroute traffic)."""

    model = PlatformEndpoint
    fields = ("identifier", "role", "url")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        return False


class PlatformTokenInline(admin.TabularInline):
    """Tokens the hub issued to the platform. Only digests exist; a shortened one is enough to
    tell tokens apart and means nothing to an attacker."""

    model = PlatformToken
    fields = ("scope", "created_at", "short_digest")
    readonly_fields = fields
    extra = 0
    can_delete = False
    verbose_name = "hub-issued token"
    verbose_name_plural = "hub-issued tokens (digests only)"

    def has_add_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        return False

    @admin.display(description="SHA-256 digest")
    def short_digest(self, token: PlatformToken) -> str:
        return f"{token.digest[:8]}…" if token.digest else "—"


# --- Platform: operations -----------------------------------------------------------------


@dataclass(frozen=True)
class PlatformOperation:
    """A registry operation staff can run on a platform: a changelist action and a button on
    the change page (which asks for confirmation first, since buttons are plain links)."""

    slug: str
    label: str
    consequence: str
    method: str
    applies_to: Callable[[Platform], bool]
    # The `has_<permission>_permission` of PlatformAdmin that allows it (staff roles).
    permission: str


OPERATIONS: dict[str, PlatformOperation] = {
    op.slug: op
    for op in (
        PlatformOperation(
            slug="invite",
            label="Issue new Token A",
            consequence=(
                "A new Token A is issued and shown once; any earlier Token A of this platform "
                "stops working. Hand it to the partner with the hub's versions URL over a "
                "secure channel."
            ),
            method="run_invite",
            applies_to=lambda p: not p.registered,
            permission="add",
        ),
        PlatformOperation(
            slug="rotate",
            label="Rotate credentials",
            consequence=(
                "The hub PUTs new credentials to the partner and re-reads its roles and "
                "endpoints. If the partner fails, the current tokens keep working."
            ),
            method="run_rotate",
            applies_to=lambda p: p.registered,
            permission="rotate",
        ),
        PlatformOperation(
            slug="suspend",
            label="Suspend",
            consequence=(
                "All traffic with this platform stops (its calls are refused) until it is "
                "reactivated. The registration is kept."
            ),
            method="run_suspend",
            applies_to=lambda p: p.status != ConnectionStatus.SUSPENDED,
            permission="suspend",
        ),
        PlatformOperation(
            slug="reactivate",
            label="Reactivate",
            consequence=("Lifts the suspension: CONNECTED when registered, PLANNED otherwise."),
            method="run_reactivate",
            applies_to=lambda p: p.status == ConnectionStatus.SUSPENDED,
            permission="suspend",
        ),
        PlatformOperation(
            slug="unregister",
            label="Unregister",
            consequence=(
                "The hub DELETEs its credentials at the partner, then forgets the "
                "registration: every token dies and all traffic stops. Even when the partner "
                "cannot be reached the hub unregisters locally. Connecting again needs a new "
                "Token A."
            ),
            method="run_unregister",
            applies_to=lambda p: p.registered,
            permission="unregister",
        ),
    )
}


@admin.register(Platform)
class PlatformAdmin(admin.ModelAdmin):
    """OCPI connections: who they are, how they are doing, and the registry's operations."""

    change_list_template = "admin/hub/platform/change_list.html"
    change_form_template = "admin/hub/platform/change_form.html"
    list_display = (
        "name",
        "roles_display",
        "status_badge",
        "registered",
        "initiated_by",
        "version",
        "token_encoding",
        "last_seen_at",
        "registered_at",
    )
    list_filter = ("status", "registered", "initiated_by", "roles__role")
    search_fields = ("name", "roles__country_code", "roles__party_id")
    search_help_text = "Name, country code, party id, or a party such as NL*ABC."
    # The partner's token never enters a form: it is written by the credentials exchange only.
    exclude = ("outbound_token",)
    fieldsets = (
        (None, {"fields": ("name", "status", "status_changed_at", "notes")}),
        (
            "Registration",
            {
                "fields": (
                    "registered",
                    "initiated_by",
                    "registered_at",
                    "versions_url",
                    "version",
                    "version_details_url",
                    "token_encoding",
                    "outbound_token_masked",
                )
            },
        ),
        ("Limits", {"fields": ("max_response_bytes",)}),
        ("Activity", {"fields": ("last_seen_at", "created_at", "updated_at")}),
    )
    readonly_fields = (
        "status",
        "status_changed_at",
        "registered",
        "initiated_by",
        "registered_at",
        "versions_url",
        "version",
        "version_details_url",
        "outbound_token_masked",
        "last_seen_at",
        "created_at",
        "updated_at",
    )
    inlines: ClassVar = [PlatformRoleInline, PlatformEndpointInline, PlatformTokenInline]
    actions = [
        "invite_action",
        "rotate_action",
        "suspend_action",
        "reactivate_action",
        "unregister_action",
    ]

    # -- list -------------------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Platform]:
        """Roles are shown on every row (and in `__str__`): fetch them in one query."""
        return super().get_queryset(request).prefetch_related("roles")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Platform], search_term: str
    ) -> tuple[QuerySet[Platform], bool]:
        """Answer "who is NL*ABC?" directly; anything else is an ordinary search."""
        party = _party_query(search_term, "roles__")
        if party is not None:
            return queryset.filter(party).distinct(), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="roles")
    def roles_display(self, platform: Platform) -> str:
        return ", ".join(str(role) for role in platform.roles.all()) or "—"

    @admin.display(description="status", ordering="status")
    def status_badge(self, platform: Platform) -> str:
        return _status_badge(platform.status, platform.get_status_display())

    @admin.display(description="partner's token (masked)")
    def outbound_token_masked(self, platform: Platform) -> str:
        return platform.masked_outbound_token or "—"

    # -- permissions ------------------------------------------------------------------------

    def has_delete_permission(self, request: HttpRequest, obj: Platform | None = None) -> bool:
        """A registered platform is unregistered first (so the partner is told), never just
        deleted; deleting an unregistered one (say, an unused invitation) is fine."""
        if obj is not None and obj.registered:
            return False
        return super().has_delete_permission(request, obj)

    def get_actions(self, request: HttpRequest) -> dict[str, Any]:
        """No bulk delete: it would bypass the registered-platform check above."""
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    # Each registry operation has its own permission (hub.services.staff roles): operators
    # suspend and reactivate; only administrators rotate, unregister or issue Token A.
    def _has_platform_perm(self, request: HttpRequest, codename: str) -> bool:
        return request.user.has_perm(f"{self.opts.app_label}.{codename}")

    def has_rotate_permission(self, request: HttpRequest) -> bool:
        return self._has_platform_perm(request, "rotate_platform")

    def has_suspend_permission(self, request: HttpRequest) -> bool:
        return self._has_platform_perm(request, "suspend_platform")

    def has_unregister_permission(self, request: HttpRequest) -> bool:
        return self._has_platform_perm(request, "unregister_platform")

    def may_run(self, request: HttpRequest, op: PlatformOperation) -> bool:
        return bool(getattr(self, f"has_{op.permission}_permission")(request))

    # -- URLs and views ---------------------------------------------------------------------

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        wrap = self.admin_site.admin_view
        custom = [
            path("invite/", wrap(self.invite_view), name="hub_platform_invite"),
            path("connect/", wrap(self.connect_view), name="hub_platform_connect"),
            path(
                "<path:object_id>/operations/<slug:operation>/",
                wrap(self.operation_view),
                name="hub_platform_operation",
            ),
        ]
        return custom + super().get_urls()  # type: ignore[operator]

    def add_view(
        self, request: HttpRequest, form_url: str = "", extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        """A platform only comes into being through an invitation or a connection; a bare
        add form would create one that can never authenticate."""
        return redirect("admin:hub_platform_invite")

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """Offer the operations that make sense for this platform's state as buttons."""
        extra_context = dict(extra_context or {})
        platform = self.get_object(request, unquote(object_id))
        if platform is not None:
            extra_context["platform_operations"] = [
                {
                    "label": op.label,
                    "url": reverse("admin:hub_platform_operation", args=[platform.pk, op.slug]),
                }
                for op in OPERATIONS.values()
                if op.applies_to(platform) and self.may_run(request, op)
            ]
        return super().change_view(request, object_id, form_url, extra_context)

    def _context(self, request: HttpRequest, title: str, **extra: Any) -> dict[str, Any]:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
            **extra,
        }

    def invite_view(self, request: HttpRequest) -> HttpResponse:
        """Add a platform by invitation: the partner registers with the returned Token A."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = InviteForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                platform, token = platform_invite(
                    name=form.cleaned_data["name"],
                    parties=form.cleaned_data["parties"],
                    actor=staff_actor(request.user),
                    user=request.user,
                )
            except OcpiError as exc:
                form.add_error("parties", exc.message)
            else:
                self.log_addition(request, platform, "Invited: issued Token A.")
                return self._token_page(request, [(platform, token)])
        return TemplateResponse(
            request,
            "admin/hub/platform/invite.html",
            self._context(
                request,
                "Invite a partner",
                form=form,
                hub_versions_url=hub_versions_url(),
            ),
        )

    def connect_view(self, request: HttpRequest) -> HttpResponse:
        """Register with a partner that gave the hub a Token A (hub-initiated registration)."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        form = ConnectForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            data = form.cleaned_data
            try:
                result = platform_connect(
                    versions_url=data["versions_url"],
                    token_a=data["token_a"],
                    name=data["name"] or None,
                    parties=data["parties"],
                    actor=staff_actor(request.user),
                    user=request.user,
                )
            except RegistrationError as exc:
                messages.error(request, f"Could not connect: {exc}. Nothing was stored.")
            else:
                platform = result.platform
                self.log_addition(request, platform, "Connected (hub-initiated registration).")
                roles = ", ".join(
                    f"{r['country_code'].upper()}*{r['party_id'].upper()} {r['role']}"
                    for r in result.roles
                )
                messages.success(
                    request,
                    f"Connected to {platform.name}: roles {roles or '—'}, "
                    f"{len(result.endpoints)} endpoints.",
                )
                return redirect("admin:hub_platform_change", platform.pk)
        return TemplateResponse(
            request,
            "admin/hub/platform/connect.html",
            self._context(request, "Connect to a partner", form=form),
        )

    def operation_view(self, request: HttpRequest, object_id: str, operation: str) -> HttpResponse:
        """One operation on one platform: GET asks for confirmation, POST runs it."""
        op = OPERATIONS.get(operation)
        if op is None:
            raise Http404(f"No operation {operation!r}")
        platform = self.get_object(request, unquote(object_id))
        if platform is None:
            messages.warning(request, f"No platform with id {object_id!r}; deleted perhaps?")
            return redirect("admin:hub_platform_changelist")
        if not self.may_run(request, op):
            raise PermissionDenied
        if request.method == "POST":
            response = getattr(self, op.method)(request, [platform])
            if response is not None:
                return response  # type: ignore[no-any-return]
            return redirect("admin:hub_platform_change", platform.pk)
        return self._confirmation_page(request, op, [platform], from_changelist=False)

    def _confirmation_page(
        self,
        request: HttpRequest,
        op: PlatformOperation,
        platforms: Sequence[Platform],
        *,
        from_changelist: bool,
        action: str = "",
    ) -> TemplateResponse:
        return TemplateResponse(
            request,
            "admin/hub/platform/operation_confirmation.html",
            self._context(
                request,
                f"{op.label}: are you sure?",
                operation=op,
                platforms=platforms,
                from_changelist=from_changelist,
                action=action,
                action_checkbox_name=ACTION_CHECKBOX_NAME,
            ),
        )

    def _token_page(
        self, request: HttpRequest, issued: Sequence[tuple[Platform, str]]
    ) -> TemplateResponse:
        """The one time a Token A is visible: rendered into this response only (admin views
        are never cached), not stored in the session or a message cookie."""
        names = ", ".join(platform.name for platform, _ in issued)
        messages.success(request, f"Token A issued for {names}. Copy it now: it is shown once.")
        return TemplateResponse(
            request,
            "admin/hub/platform/token_issued.html",
            self._context(
                request,
                "Token A issued",
                issued=[
                    {
                        "platform": platform,
                        "token": token,
                        "change_url": reverse("admin:hub_platform_change", args=[platform.pk]),
                    }
                    for platform, token in issued
                ],
                hub_versions_url=hub_versions_url(),
            ),
        )

    # -- operations (shared by actions and buttons) -----------------------------------------

    def run_invite(
        self, request: HttpRequest, platforms: Iterable[Platform]
    ) -> HttpResponse | None:
        issued: list[tuple[Platform, str]] = []
        for platform in platforms:
            if platform.registered:
                messages.warning(
                    request, f"{platform.name} is registered: rotate its credentials instead."
                )
                continue
            try:
                invited, token = platform_invite(name=platform.name, platform=platform)
            except OcpiError as exc:
                messages.error(request, f"{platform.name}: no Token A issued: {exc.message}")
                continue
            self.log_change(request, invited, "Issued a new Token A (earlier ones revoked).")
            issued.append((invited, token))
        return self._token_page(request, issued) if issued else None

    def run_rotate(self, request: HttpRequest, platforms: Iterable[Platform]) -> None:
        for platform in platforms:
            try:
                credentials_rotate(platform=platform)
            except RegistrationError as exc:
                messages.error(
                    request,
                    f"{platform.name}: credentials not rotated: {exc}. "
                    "The current credentials still work.",
                )
                continue
            self.log_change(request, platform, "Rotated credentials.")
            messages.success(
                request,
                f"{platform.name}: credentials rotated; roles and endpoints re-read.",
            )

    def run_suspend(self, request: HttpRequest, platforms: Iterable[Platform]) -> None:
        for platform in platforms:
            platform_suspend(platform=platform)
            self.log_change(request, platform, "Suspended.")
            messages.success(request, f"{platform.name}: suspended; all its traffic stops.")

    def run_reactivate(self, request: HttpRequest, platforms: Iterable[Platform]) -> None:
        for platform in platforms:
            platform_reactivate(platform=platform)
            self.log_change(request, platform, f"Reactivated ({platform.status}).")
            messages.success(request, f"{platform.name}: reactivated ({platform.status}).")

    def run_unregister(self, request: HttpRequest, platforms: Iterable[Platform]) -> None:
        for platform in platforms:
            warning = platform_unregister(platform=platform)
            if warning:
                self.log_change(request, platform, f"Unregistered; {warning}.")
                messages.warning(request, f"{platform.name}: unregistered locally, but {warning}.")
            else:
                self.log_change(request, platform, "Unregistered.")
                messages.success(request, f"{platform.name}: unregistered.")

    # -- changelist actions -----------------------------------------------------------------

    @admin.action(description="Invite / issue new Token A", permissions=["add"])
    def invite_action(
        self, request: HttpRequest, queryset: QuerySet[Platform]
    ) -> HttpResponse | None:
        return self.run_invite(request, list(queryset))

    @admin.action(description="Rotate credentials (hub PUTs new ones)", permissions=["rotate"])
    def rotate_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_rotate(request, list(queryset))

    @admin.action(description="Suspend (stop all traffic)", permissions=["suspend"])
    def suspend_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_suspend(request, list(queryset))

    @admin.action(description="Reactivate", permissions=["suspend"])
    def reactivate_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_reactivate(request, list(queryset))

    @admin.action(
        description="Unregister (tell the partner, then forget)…", permissions=["unregister"]
    )
    def unregister_action(
        self, request: HttpRequest, queryset: QuerySet[Platform]
    ) -> HttpResponse | None:
        """Django's intermediate-page pattern: the first POST shows what will happen, the
        confirmation POST (with `post=yes`) runs it."""
        platforms = list(queryset)
        if request.POST.get("post") != "yes":
            return self._confirmation_page(
                request,
                OPERATIONS["unregister"],
                platforms,
                from_changelist=True,
                action="unregister_action",
            )
        self.run_unregister(request, platforms)
        return None


# --- Party lookup and endpoints ------------------------------------------------------------


@admin.register(PlatformRole)
class PlatformRoleAdmin(admin.ModelAdmin):
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

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PlatformRole], search_term: str
    ) -> tuple[QuerySet[PlatformRole], bool]:
        party = _party_query(search_term)
        if party is not None:
            return queryset.filter(party), False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        """Roles come from a credentials exchange only."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PlatformRole | None = None) -> bool:
        """Removing a role would silently stop routing to a registered party."""
        return False

    @admin.display(description="party", ordering="country_code")
    def party(self, role: PlatformRole) -> str:
        return f"{role.country_code}*{role.party_id}"

    @admin.display(description="business name")
    def business_name(self, role: PlatformRole) -> str:
        details = role.business_details if isinstance(role.business_details, dict) else {}
        return str(details.get("name") or "—")

    @admin.display(description="platform", ordering="platform__name")
    def platform_link(self, role: PlatformRole) -> str:
        url = reverse("admin:hub_platform_change", args=[role.platform_id])
        return format_html('<a href="{}">{}</a>', url, role.platform.name)

    @admin.display(description="ClientInfo status", ordering="platform__status")
    def platform_status(self, role: PlatformRole) -> str:
        return _status_badge(role.platform.status, role.platform.get_status_display())

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
        return format_html('<a href="{}">deliveries</a>', _deliveries_url("hubclientinfo", key))

    @admin.display(description="ClientInfo (as published)")
    def clientinfo_document(self, role: PlatformRole) -> str:
        return _pretty_json(client_info(role))


@admin.register(PlatformEndpoint)
class PlatformEndpointAdmin(admin.ModelAdmin):
    """Read-only: endpoints are what partners published, re-read on every exchange."""

    list_display = ("platform", "identifier", "role", "url")
    # All read-only, so no form field (and no URLField scheme guessing) is ever built.
    fields = ("platform", "identifier", "role", "url")
    readonly_fields = fields
    list_filter = ("identifier", "role")
    list_select_related = ("platform",)
    search_fields = ("platform__name", "identifier", "url")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PlatformEndpoint]:
        return super().get_queryset(request).prefetch_related("platform__roles")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(
        self, request: HttpRequest, obj: PlatformEndpoint | None = None
    ) -> bool:
        return False

    def has_delete_permission(
        self, request: HttpRequest, obj: PlatformEndpoint | None = None
    ) -> bool:
        return False


# --- The exchange log -----------------------------------------------------------------------

# 2.2.1 ModuleIDs (version_information_endpoint) plus "versions", which the hub logs too. A
# fixed list, because listing the distinct values would scan the whole log.
LOGGED_MODULES = (
    "cdrs",
    "chargingprofiles",
    "commands",
    "credentials",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
    "versions",
)


class ModuleFilter(admin.SimpleListFilter):
    title = "module"
    parameter_name = "module"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(module, module) for module in LOGGED_MODULES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(module=self.value()) if self.value() else queryset


class PlatformFilter(admin.SimpleListFilter):
    """Exchanges of one platform, listed by name (the default filter would query each
    platform's roles to print it)."""

    title = "platform"
    parameter_name = "platform__id__exact"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        platforms = Platform.objects.order_by("name", "pk").values_list("pk", "name")
        return [(str(pk), name) for pk, name in platforms]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return queryset.filter(platform_id=self.value()) if self.value() else queryset


class StatusClassFilter(admin.SimpleListFilter):
    """Filter by status class (2xx, 4xx, ...): fixed lookups, no scan of the log."""

    field: ClassVar[str]
    classes: ClassVar[Sequence[tuple[str, str, int, int]]]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(key, label) for key, label, _, _ in self.classes] + [("none", "none")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if value == "none":
            return queryset.filter(**{f"{self.field}__isnull": True})
        for key, _, low, high in self.classes:
            if value == key:
                return queryset.filter(**{f"{self.field}__gte": low, f"{self.field}__lt": high})
        return queryset


class HttpStatusFilter(StatusClassFilter):
    title = "HTTP status"
    parameter_name = "http"
    field = "http_status"
    classes = (
        ("2xx", "2xx", 200, 300),
        ("3xx", "3xx", 300, 400),
        ("4xx", "4xx", 400, 500),
        ("5xx", "5xx", 500, 600),
    )


class OcpiStatusFilter(StatusClassFilter):
    """2.2.1 status_codes: 1xxx success, 2xxx client, 3xxx server, 4xxx hub errors."""

    title = "OCPI status"
    parameter_name = "ocpi"
    field = "ocpi_status"
    classes = (
        ("1xxx", "1xxx success", 1000, 2000),
        ("2xxx", "2xxx client error", 2000, 3000),
        ("3xxx", "3xxx server error", 3000, 4000),
        ("4xxx", "4xxx hub error", 4000, 5000),
    )


@admin.register(OcpiExchange)
class OcpiExchangeAdmin(LargeTableAdmin):
    """The OCPI exchange log: read-only evidence of every call, kept fast on millions of rows
    (select_related, estimated counts, fixed filter choices, indexed id lookups first, a date
    range on the indexed `created_at` instead of a date hierarchy)."""

    list_display = (
        "created_at",
        "direction",
        "method",
        "short_url",
        "module",
        "platform_link",
        "from_party",
        "to_party",
        "http_status",
        "ocpi_status",
        "duration",
        "correlation_link",
    )
    list_filter = (
        ("created_at", admin.DateFieldListFilter),
        "direction",
        ModuleFilter,
        HttpStatusFilter,
        OcpiStatusFilter,
        PlatformFilter,
    )
    list_select_related = ("platform",)
    list_per_page = 100
    search_fields = (
        "=correlation_id",
        "=request_id",
        "url",
        "=from_party",
        "=to_party",
        "platform__name",
    )
    search_help_text = (
        "A correlation or request id (exact, fast), a URL fragment, a party (NL*ABC) or a "
        "platform name."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "created_at",
                    "direction",
                    "method",
                    "url",
                    "module",
                    "platform_link",
                    "from_party",
                    "to_party",
                )
            },
        ),
        (
            "Outcome",
            {
                "fields": (
                    "http_status",
                    "ocpi_status",
                    "status_message",
                    "error",
                    "duration",
                )
            },
        ),
        ("Message ids", {"fields": ("request_id", "correlation_link")}),
    )
    readonly_fields = ("platform_link", "duration", "correlation_link")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[OcpiExchange], search_term: str
    ) -> tuple[QuerySet[OcpiExchange], bool]:
        """A pasted id hits the indexes only; a substring search scans, so it comes second."""
        term = search_term.strip()
        if term and not any(ch.isspace() for ch in term):
            by_id = queryset.filter(Q(correlation_id=term) | Q(request_id=term))
            if by_id.exists():
                return by_id, False
        return super().get_search_results(request, queryset, search_term)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: OcpiExchange | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: OcpiExchange | None = None) -> bool:
        """The log is evidence in disputes with partners; retention is a job, not a click."""
        return False

    @admin.display(description="URL", ordering="url")
    def short_url(self, exchange: OcpiExchange) -> str:
        return format_html(
            '<span title="{}">{}</span>',
            exchange.url,
            Truncator(exchange.url).chars(70),
        )

    @admin.display(description="platform", ordering="platform__name")
    def platform_link(self, exchange: OcpiExchange) -> str:
        """The platform's name (its `__str__` would query its roles on every row)."""
        if exchange.platform is None:
            return "—"
        url = reverse("admin:hub_platform_change", args=[exchange.platform_id])
        return format_html('<a href="{}">{}</a>', url, exchange.platform.name)

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, exchange: OcpiExchange) -> str:
        return "—" if exchange.duration_ms is None else f"{exchange.duration_ms:.0f} ms"

    @admin.display(description="correlation id", ordering="correlation_id")
    def correlation_link(self, exchange: OcpiExchange) -> str:
        """Every exchange of one end-to-end OCPI flow, e.g. a command and its forwarding."""
        if not exchange.correlation_id:
            return "—"
        url = (
            reverse("admin:hub_ocpiexchange_changelist")
            + "?"
            + urlencode({"correlation_id": exchange.correlation_id})
        )
        return format_html(
            '<a href="{}" title="All exchanges of this correlation id">{}</a>',
            url,
            exchange.correlation_id,
        )


# --- OCPI data and the outbox: shared pieces ------------------------------------------------

# Outbox status colours: blue waits, purple is being sent, green arrived, red needs staff.
DELIVERY_STATUS_COLOURS: dict[str, str] = {
    DeliveryStatus.PENDING: "#1565c0",
    DeliveryStatus.HELD: "#ef6c00",  # the receiver is suspended: kept, waiting
    DeliveryStatus.IN_FLIGHT: "#6a1b9a",
    DeliveryStatus.DELIVERED: "#2e7d32",
    DeliveryStatus.FAILED: "#c62828",
    DeliveryStatus.DEAD: "#4e342e",
    DeliveryStatus.CANCELLED: "#546e7a",
}

# Modules the hub pushes through the outbox (a fixed list: no DISTINCT over millions of rows).
OUTBOX_MODULES = (
    "cdrs",
    "chargingprofiles",
    "commands",
    "hubclientinfo",
    "locations",
    "sessions",
    "tariffs",
    "tokens",
)

# How long the top-cities filter choices are reused: a GROUP BY over every location.
CITY_CHOICES_CACHE_S = 600
CITY_CHOICES_CACHE_KEY = "hub.admin.location_top_cities"
TOP_CITIES = 15

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


def _pretty_json(document: Any) -> str:
    return format_html(
        '<pre style="white-space:pre-wrap;max-height:60em;overflow:auto;margin:0">{}</pre>',
        json.dumps(document, indent=2, ensure_ascii=False),
    )


def _deliveries_url(module: str, object_key: str) -> str:
    """The outbox rows of one object and of the objects within it (ObjectTreeFilter)."""
    query = urlencode({"module": module, ObjectTreeFilter.parameter_name: object_key})
    return reverse("admin:hub_pushdelivery_changelist") + "?" + query


def _platform_link(platform: Platform | None) -> str:
    """A platform's name linked to its page (its `__str__` would query its roles per row)."""
    if platform is None:
        return "—"
    url = reverse("admin:hub_platform_change", args=[platform.pk])
    return format_html('<a href="{}">{}</a>', url, platform.name)


def _party_label(country_code: str, party_id: str) -> str:
    return f"{country_code}*{party_id}" if country_code or party_id else "—"


def _short(text: str, length: int = 60) -> str:
    if not text:
        return "—"
    return format_html('<span title="{}">{}</span>', text, Truncator(text).chars(length))


class PlatformFieldFilter(PlatformFilter):
    """A platform filter (listed by name) on another foreign key than `platform`."""

    field: ClassVar[str]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(**{f"{self.field}_id": int(value)})


class OwnerFilter(PlatformFieldFilter):
    title = "owner platform"
    parameter_name = "owner__id__exact"
    field = "owner"


class ReceiverFilter(PlatformFieldFilter):
    title = "receiver"
    parameter_name = "receiver__id__exact"
    field = "receiver"


class CallerFilter(PlatformFieldFilter):
    title = "caller"
    parameter_name = "caller__id__exact"
    field = "caller"


def _party_keys(search_term: str, prefix: str = "") -> Q | None:
    """`_party_query` on upper-cased key columns (the hub stores CiString keys upper-cased):
    an exact match, so an index on the pair (e.g. a session's eMSP) can serve it."""
    match = PARTY_SEARCH_RE.match(search_term)
    if match is None:
        return None
    return Q(
        **{
            f"{prefix}country_code": match.group(1).upper(),
            f"{prefix}party_id": match.group(2).upper(),
        }
    )


class RegistryPartyFilter(admin.SimpleListFilter):
    """Parties of the registry in `roles` (a small table, never a DISTINCT over the data),
    filtering the key pair named by `prefix`; a party the registry no longer knows can still
    be filtered by URL."""

    roles: ClassVar[Sequence[str]]
    prefix: ClassVar[str] = ""

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        parties = (
            PlatformRole.objects.filter(role__in=self.roles)
            .order_by("country_code", "party_id")
            .values_list("country_code", "party_id")
            .distinct()
        )
        return [(f"{cc}*{pid}", f"{cc}*{pid}") for cc, pid in parties]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        party = _party_keys(value, self.prefix)
        return queryset.none() if party is None else queryset.filter(party)


class PartyFilter(RegistryPartyFilter):
    """The CPO parties of the registry (locations and tariffs are keyed by them)."""

    title = "party"
    parameter_name = "party"
    roles = (Role.CPO,)


class FixedChoicesFilter(admin.SimpleListFilter):
    """An exact filter with fixed choices: no DISTINCT scan of a large table to list them."""

    values: ClassVar[Sequence[str]]
    field: ClassVar[str]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, value) for value in self.values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class OutboxModuleFilter(FixedChoicesFilter):
    title = "module"
    parameter_name = "module"
    field = "module"
    values = OUTBOX_MODULES


class OperationFilter(FixedChoicesFilter):
    title = "operation"
    parameter_name = "operation"
    field = "operation"
    values = ("PUT", "PATCH", "DELETE", "POST")


class GatewayFilter(FixedChoicesFilter):
    title = "gateway"
    parameter_name = "gateway"
    field = "gateway"
    values = ("cpo", "emsp")


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter on a condition (`yes_q`)."""

    def yes_q(self) -> Q:
        raise NotImplementedError

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(self.yes_q())
        if self.value() == "no":
            return queryset.exclude(self.yes_q())
        return queryset


class DeletedFilter(YesNoFilter):
    title = "deleted"
    parameter_name = "deleted"

    def yes_q(self) -> Q:
        return Q(deleted_at__isnull=False)


class ExpiredFilter(YesNoFilter):
    title = "expired"
    parameter_name = "expired"

    def yes_q(self) -> Q:
        return Q(expires_at__lte=timezone.now())


class HasErrorFilter(YesNoFilter):
    title = "last run failed"
    parameter_name = "has_error"

    def yes_q(self) -> Q:
        return ~Q(last_error="")


class ObjectTreeFilter(admin.SimpleListFilter):
    """Deliveries of one object and of the objects within it (a location's EVSEs and
    connectors): `CC/PID/ID` and `CC/PID/ID/...`, but never `CC/PID/ID2`, which a bare
    `object_key__startswith` would also match. Shown only while it is in use."""

    title = "object"
    parameter_name = "object_tree"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, value)] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        key = self.value()
        if not key:
            return queryset
        return queryset.filter(Q(object_key=key) | Q(object_key__startswith=key + "/"))


class ReadOnlyAdmin(LargeTableAdmin):
    """Data the hub holds for others or records itself: viewable, never edited here. These
    tables grow with traffic, so their changelists never count them whole."""

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class OcpiObjectAdmin(ReadOnlyAdmin):
    """A CPO's OCPI object as stored: read-only (the CPO owns it; a change here would never
    reach the receivers), with a way to its outbox rows: "did it reach eMSP Y, and if not,
    why?"."""

    change_form_template = "admin/hub/ocpi_object/change_form.html"
    outbox_module: ClassVar[str]
    show_full_result_count = False
    list_select_related = ("owner",)

    def object_key(self, obj: Any) -> str:
        raise NotImplementedError

    @admin.display(description="party", ordering="country_code")
    def party(self, obj: Any) -> str:
        return _party_label(obj.country_code, obj.party_id)

    @admin.display(description="owner", ordering="owner__name")
    def owner_link(self, obj: Any) -> str:
        return _platform_link(obj.owner)

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: Any) -> str:
        url = _deliveries_url(self.outbox_module, self.object_key(obj))
        return format_html('<a href="{}">deliveries</a>', url)

    @admin.display(description="document")
    def document(self, obj: Any) -> str:
        return _pretty_json(obj.data)

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: Any = None,
    ) -> HttpResponse:
        if obj is not None:
            context["deliveries_url"] = _deliveries_url(self.outbox_module, self.object_key(obj))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        """A party ("NL*ABC") is answered from the keys; anything else is a plain search."""
        party = _party_query(search_term)
        if party is not None:
            return queryset.filter(party), False
        return super().get_search_results(request, queryset, search_term)


# --- Locations ------------------------------------------------------------------------------


class CityFilter(admin.SimpleListFilter):
    """The most frequent cities. Counting them is a GROUP BY over every location, so the
    choices are cached for a while; a city outside them can still be filtered by URL."""

    title = "city"
    parameter_name = "city"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        cities: list[str] | None = cache.get(CITY_CHOICES_CACHE_KEY)
        if cities is None:
            rows = (
                Location.objects.exclude(city="")
                .values("city")
                .annotate(n=Count("pk"))
                .order_by("-n", "city")[:TOP_CITIES]
            )
            cities = [row["city"] for row in rows]
            cache.set(CITY_CHOICES_CACHE_KEY, cities, CITY_CHOICES_CACHE_S)
        value = self.value()
        if value and value not in cities:
            cities = [*cities, value]
        return [(city, city) for city in cities]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(city=value) if value else queryset


class EvseStatusFilter(admin.SimpleListFilter):
    """Locations with at least one EVSE in a status (an EXISTS: no duplicate rows, no
    DISTINCT over the list)."""

    title = "EVSE status"
    parameter_name = "evse_rows__status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(status.value, str(status.label)) for status in EvseStatus]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        return queryset.filter(
            Exists(Evse.objects.filter(location_id=OuterRef("pk"), status=value))
        )


class EvseInline(ReadOnlyInline):
    """The EVSE read model of the location (rewritten on every write of the document)."""

    model = Evse
    fields = ("uid", "evse_id", "status", "last_updated")
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        # Meta orders by location first, which would join the locations for nothing.
        return super().get_queryset(request).order_by("uid")


@admin.register(Location)
class LocationAdmin(OcpiObjectAdmin):
    """Locations as CPOs published them. The list never loads the documents (they can be
    large); EVSE counts and statuses come from one prefetch of the EVSE rows per page."""

    outbox_module = "locations"
    list_display = (
        "party",
        "ocpi_id",
        "name",
        "city",
        "country",
        "publish",
        "evse_count",
        "evse_summary",
        "last_updated",
        "owner_link",
        "deliveries_link",
    )
    list_filter = (PartyFilter, "publish", CityFilter, EvseStatusFilter, OwnerFilter)
    ordering = ("-last_updated", "-pk")
    list_per_page = 100
    search_fields = ("location_id", "name", "city", "evse_rows__evse_id", "evse_rows__uid")
    search_help_text = "Location id, name, city, EVSE id or uid, or a party such as NL*ABC."
    inlines: ClassVar = [EvseInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_id",
                    "name",
                    "city",
                    "country",
                    "publish",
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        ("EVSEs and deliveries", {"fields": ("evse_summary", "deliveries_link")}),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
    )
    readonly_fields = (
        "party",
        "ocpi_id",
        "name",
        "city",
        "country",
        "publish",
        "last_updated",
        "owner_link",
        "evse_summary",
        "deliveries_link",
        "created_at",
        "updated_at",
        "document",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Location]:
        evses = Evse.objects.only("pk", "location_id", "status").order_by()
        return (
            super()
            .get_queryset(request)
            .defer("data")
            .annotate(ocpi_id_value=KT("data__id"))
            .prefetch_related(Prefetch("evse_rows", queryset=evses))
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Location], search_term: str
    ) -> tuple[QuerySet[Location], bool]:
        """EVSE ids are matched with an EXISTS, so the list needs no DISTINCT."""
        term = search_term.strip()
        if not term:
            return queryset, False
        party = _party_query(term)
        if party is not None:
            return queryset.filter(party), False
        evses = Evse.objects.filter(location_id=OuterRef("pk")).filter(
            Q(evse_id__icontains=term) | Q(uid__iexact=term)
        )
        return (
            queryset.filter(
                Q(location_id__icontains=term)
                | Q(name__icontains=term)
                | Q(city__icontains=term)
                | Q(Exists(evses))
            ),
            False,
        )

    def object_key(self, location: Location) -> str:
        return f"{location.country_code}/{location.party_id}/{location.location_id}".upper()

    @admin.display(description="location id", ordering="location_id")
    def ocpi_id(self, location: Location) -> str:
        """The id as the CPO spelled it (the key column is upper-cased)."""
        return str(getattr(location, "ocpi_id_value", None) or location.location_id)

    @admin.display(description="EVSEs")
    def evse_count(self, location: Location) -> int:
        return len(location.evse_rows.all())

    @admin.display(description="EVSE status")
    def evse_summary(self, location: Location) -> str:
        counts = Counter(evse.status for evse in location.evse_rows.all())
        ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{n} {status}" for status, n in ordered) or "—"


# --- Tariffs ----------------------------------------------------------------------------------


@admin.register(Tariff)
class TariffAdmin(OcpiObjectAdmin):
    """Tariffs as CPOs published them, deleted ones included (their tombstones are still
    delivered and still price CDRs)."""

    outbox_module = "tariffs"
    list_display = (
        "party",
        "ocpi_id",
        "currency",
        "element_count",
        "last_updated",
        "deleted_at",
        "owner_link",
        "deliveries_link",
    )
    list_filter = (PartyFilter, "currency", DeletedFilter, OwnerFilter)
    ordering = ("-last_updated", "-pk")
    list_per_page = 100
    search_fields = ("tariff_id", "currency")
    search_help_text = "Tariff id, currency, or a party such as NL*ABC."
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_id",
                    "currency",
                    "element_count",
                    "last_updated",
                    "deleted_at",
                    "owner_link",
                    "deliveries_link",
                )
            },
        ),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
    )
    readonly_fields = (
        "party",
        "ocpi_id",
        "currency",
        "element_count",
        "last_updated",
        "deleted_at",
        "owner_link",
        "deliveries_link",
        "created_at",
        "updated_at",
        "document",
    )

    def object_key(self, tariff: Tariff) -> str:
        return f"{tariff.country_code}/{tariff.party_id}/{tariff.tariff_id}".upper()

    @admin.display(description="tariff id", ordering="tariff_id")
    def ocpi_id(self, tariff: Tariff) -> str:
        data = tariff.data if isinstance(tariff.data, dict) else {}
        return str(data.get("id") or tariff.tariff_id)

    @admin.display(description="elements")
    def element_count(self, tariff: Tariff) -> int:
        data = tariff.data if isinstance(tariff.data, dict) else {}
        elements = data.get("elements")
        return len(elements) if isinstance(elements, list) else 0


# --- The outbox -------------------------------------------------------------------------------

# What "Resend now" may touch: IN_FLIGHT is a worker's (resending would race it) and DELIVERED
# arrived (resending a POSTed CDR would duplicate it at the receiver).
RESENDABLE = frozenset(
    {
        DeliveryStatus.PENDING,
        DeliveryStatus.FAILED,
        DeliveryStatus.DEAD,
        DeliveryStatus.CANCELLED,
    }
)
# One click sends at most this many; more is a job for a narrower filter (or a script).
BULK_ACTION_LIMIT = 500


# Attempts shown on a delivery's page, newest first: a poison delivery retried for days has
# thousands, and an inline has no pagination.
INLINE_ATTEMPTS_LIMIT = 50


class _RecentAttemptsFormSet(BaseInlineFormSet):
    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_recent"):
            self._recent = super().get_queryset()[:INLINE_ATTEMPTS_LIMIT]
        return self._recent


class PushAttemptInline(ReadOnlyInline):
    """The latest tries and how the receiver answered: the "why" of a delivery."""

    model = PushAttempt
    formset = _RecentAttemptsFormSet
    verbose_name_plural = f"push attempts (the latest {INLINE_ATTEMPTS_LIMIT})"
    fields = (
        "started_at",
        "method",
        "url",
        "http_status",
        "ocpi_status",
        "duration",
        "request_id",
        "error",
    )
    readonly_fields = fields

    @admin.display(description="duration")
    def duration(self, attempt: PushAttempt) -> str:
        return "—" if attempt.duration_ms is None else f"{attempt.duration_ms:.0f} ms"


@admin.register(PushDelivery)
class PushDeliveryAdmin(LargeTableAdmin):
    """The outbox: one row per (receiver, object), each try below it. Read-only; "Resend now"
    and "Cancel" go through the outbox services (which keep the one-pending-row rule and
    enqueue after commit). Built for millions of rows: one joined query per page, fixed filter
    choices, estimated counts, newest first by primary key, a date range on the indexed
    `created_at` instead of a date hierarchy."""

    list_display = (
        "created_at",
        "module",
        "object_key",
        "receiver_link",
        "to_party",
        "operation",
        "status_badge",
        "attempts",
        "next_attempt_at",
        "short_error",
        "delivered_at",
    )
    list_filter = (
        ("created_at", admin.DateFieldListFilter),
        "status",
        OutboxModuleFilter,
        ReceiverFilter,
        OperationFilter,
        ObjectTreeFilter,
    )
    list_select_related = ("receiver",)
    list_per_page = 100
    # The primary key follows creation and is indexed; created_at is not.
    ordering = ("-pk",)
    search_fields = ("^object_key", "=correlation_id", "receiver__name")
    search_help_text = (
        "An object key (CC/PID/ID, its EVSEs and connectors too), a correlation id (exact), or "
        "a receiver name."
    )
    inlines: ClassVar = [PushAttemptInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "module",
                    "object_key",
                    "object_link",
                    "operation",
                    "patch_fields",
                    "status_badge",
                    "attempts",
                    "last_error",
                    "receipt",
                )
            },
        ),
        ("Routing", {"fields": ("receiver_link", "to_party", "from_party", "correlation_link")}),
        (
            "Schedule",
            {
                "fields": (
                    "created_at",
                    "next_attempt_at",
                    "enqueued_at",
                    "locked_until",
                    "expires_at",
                    "delivered_at",
                    "updated_at",
                )
            },
        ),
    )
    readonly_fields = (
        "object_link",
        "status_badge",
        "receiver_link",
        "to_party",
        "from_party",
        "correlation_link",
    )
    actions = ["resend_action", "cancel_action"]

    # -- permissions ------------------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PushDelivery | None = None) -> bool:
        """No edit form: a saved form would overwrite what a worker just wrote."""
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PushDelivery | None = None) -> bool:
        """Deliveries and their attempts are the evidence of what each receiver got."""
        return False

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Resend and cancel have their own permissions (operators hold them), since no
        staff role is given the outbox's change permission (there is no edit form)."""
        return request.user.has_perm("hub.resend_pushdelivery")

    def has_cancel_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hub.cancel_pushdelivery")

    # -- list -------------------------------------------------------------------------------

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[PushDelivery], search_term: str
    ) -> tuple[QuerySet[PushDelivery], bool]:
        """An object key (with its EVSEs and connectors) or a correlation id, exactly, first;
        anything else is an ordinary search."""
        term = search_term.strip()
        if term and not any(ch.isspace() for ch in term):
            keys = {term, term.upper()}
            exact = queryset.filter(
                Q(object_key__in=keys)
                | Q(object_key__startswith=term.upper() + "/")
                | Q(correlation_id=term)
            )
            if exact.exists():
                return exact, False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="receiver", ordering="receiver__name")
    def receiver_link(self, delivery: PushDelivery) -> str:
        return _platform_link(delivery.receiver)

    @admin.display(description="to", ordering="to_country_code")
    def to_party(self, delivery: PushDelivery) -> str:
        return _party_label(delivery.to_country_code, delivery.to_party_id)

    @admin.display(description="from")
    def from_party(self, delivery: PushDelivery) -> str:
        return _party_label(delivery.from_country_code, delivery.from_party_id)

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery: PushDelivery) -> str:
        return _status_badge(
            delivery.status, delivery.get_status_display(), DELIVERY_STATUS_COLOURS
        )

    @admin.display(description="last error")
    def short_error(self, delivery: PushDelivery) -> str:
        return _short(delivery.last_error)

    @admin.display(description="object")
    def object_link(self, delivery: PushDelivery) -> str:
        """The stored object this delivery carries, by its keys (no query)."""
        parts = delivery.object_key.split("/")
        targets = {
            "locations": ("location", "location_id"),
            "tariffs": ("tariff", "tariff_id"),
            "hubclientinfo": ("platformrole", "role"),
        }
        target = targets.get(delivery.module)
        if target is None or len(parts) < 3:
            return "—"
        model, id_field = target
        query = urlencode({"country_code": parts[0], "party_id": parts[1], id_field: parts[2]})
        url = reverse(f"admin:hub_{model}_changelist") + "?" + query
        return format_html('<a href="{}">{}</a>', url, "/".join(parts[:3]))

    @admin.display(description="correlation id")
    def correlation_link(self, delivery: PushDelivery) -> str:
        """The exchanges of this delivery's flow in the exchange log."""
        if not delivery.correlation_id:
            return "—"
        url = (
            reverse("admin:hub_ocpiexchange_changelist")
            + "?"
            + urlencode({"correlation_id": delivery.correlation_id})
        )
        return format_html('<a href="{}">{}</a>', url, delivery.correlation_id)

    # -- actions ----------------------------------------------------------------------------

    def _selected(
        self, request: HttpRequest, queryset: QuerySet[PushDelivery]
    ) -> list[PushDelivery] | None:
        deliveries = list(queryset.select_related("receiver")[: BULK_ACTION_LIMIT + 1])
        if len(deliveries) > BULK_ACTION_LIMIT:
            self.message_user(
                request,
                f"More than {BULK_ACTION_LIMIT} deliveries selected; narrow the selection (by "
                "receiver, module or status). Nothing was changed.",
                messages.ERROR,
            )
            return None
        return deliveries

    @admin.action(description="Resend now", permissions=["resend"])
    def resend_action(self, request: HttpRequest, queryset: QuerySet[PushDelivery]) -> None:
        deliveries = self._selected(request, queryset)
        if deliveries is None:
            return
        resent = folded = skipped = 0
        away: set[str] = set()
        for delivery in deliveries:
            if delivery.status not in RESENDABLE:
                skipped += 1
                continue
            target = delivery_resend(delivery=delivery)
            if target.pk == delivery.pk:
                resent += 1
                self.log_change(request, delivery, "Resent now.")
            else:
                folded += 1
                self.log_change(request, delivery, f"Resent as the pending delivery {target.pk}.")
            if delivery.receiver.status != ConnectionStatus.CONNECTED:
                away.add(f"{delivery.receiver.name} ({delivery.receiver.status})")
        if resent or folded:
            text = f"{resent} deliveries queued to send now"
            if folded:
                text += f"; {folded} already had a pending delivery, which is sent now instead"
            self.message_user(request, text + ".", messages.SUCCESS)
        if skipped:
            self.message_user(
                request,
                f"{skipped} skipped: delivered or in flight (only pending, failed, dead or "
                "cancelled deliveries are resent).",
                messages.WARNING,
            )
        if away:
            self.message_user(
                request,
                "Not connected, so state deliveries to them will be cancelled again: "
                + ", ".join(sorted(away))
                + ".",
                messages.WARNING,
            )

    @admin.action(description="Cancel (pending only)", permissions=["cancel"])
    def cancel_action(self, request: HttpRequest, queryset: QuerySet[PushDelivery]) -> None:
        deliveries = self._selected(request, queryset)
        if deliveries is None:
            return
        pending = [d for d in deliveries if d.status == DeliveryStatus.PENDING]
        for delivery in pending:
            delivery_cancel(delivery=delivery)
        # A worker may have claimed one in between: count what the service really cancelled.
        cancelled = PushDelivery.objects.filter(
            pk__in=[d.pk for d in pending], status=DeliveryStatus.CANCELLED
        ).values_list("pk", flat=True)
        cancelled_ids = set(cancelled)
        for delivery in pending:
            if delivery.pk in cancelled_ids:
                self.log_change(request, delivery, "Cancelled.")
        if cancelled_ids:
            self.message_user(
                request, f"{len(cancelled_ids)} deliveries cancelled.", messages.SUCCESS
            )
        left = len(deliveries) - len(cancelled_ids)
        if left:
            self.message_user(
                request,
                f"{left} not cancelled: only pending deliveries can be cancelled.",
                messages.WARNING,
            )


# --- Proxied URLs and pull sync -------------------------------------------------------------


@admin.register(ProxiedUrl)
class ProxiedUrlAdmin(ReadOnlyAdmin):
    """Partner URLs handed out in the hub's name: who may follow them, to where, until when.
    No token is stored with them."""

    list_display = (
        "created_at",
        "expires_at",
        "live",
        "kind",
        "module",
        "gateway",
        "caller_link",
        "receiver_link",
        "parties",
        "short_target",
    )
    list_filter = ("kind", GatewayFilter, ModuleFilter, ExpiredFilter, CallerFilter)
    list_select_related = ("caller", "receiver")
    show_full_result_count = False
    list_per_page = 100
    search_fields = ("target_url", "caller__name", "receiver__name")
    search_help_text = "A proxied URL or its id, a partner URL fragment, or a platform name."
    fields = (
        "id",
        "kind",
        "module",
        "gateway",
        "caller_link",
        "receiver_link",
        "parties",
        "target_url",
        "created_at",
        "expires_at",
        "live",
    )
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ProxiedUrl], search_term: str
    ) -> tuple[QuerySet[ProxiedUrl], bool]:
        """A pasted proxied URL (or its id) finds its row by primary key."""
        match = UUID_RE.search(search_term)
        if match is not None:
            by_id = queryset.filter(pk=uuid.UUID(match.group(0)))
            if by_id.exists():
                return by_id, False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="live", boolean=True)
    def live(self, proxied: ProxiedUrl) -> bool:
        return proxied.expires_at > timezone.now()

    @admin.display(description="caller", ordering="caller__name")
    def caller_link(self, proxied: ProxiedUrl) -> str:
        return _platform_link(proxied.caller)

    @admin.display(description="receiver", ordering="receiver__name")
    def receiver_link(self, proxied: ProxiedUrl) -> str:
        return _platform_link(proxied.receiver)

    @admin.display(description="from → to")
    def parties(self, proxied: ProxiedUrl) -> str:
        return (
            f"{_party_label(proxied.from_country_code, proxied.from_party_id)} → "
            f"{_party_label(proxied.to_country_code, proxied.to_party_id)}"
        )

    @admin.display(description="target URL")
    def short_target(self, proxied: ProxiedUrl) -> str:
        return _short(proxied.target_url, 70)


@admin.register(SyncState)
class SyncStateAdmin(ReadOnlyAdmin):
    """Where each pull sync stands (per platform, party and module), and what its last run
    did. Written by the sync service only."""

    list_display = (
        "party",
        "module",
        "platform_link",
        "last_run_at",
        "last_finished_at",
        "last_success_started_at",
        "last_full_success_at",
        "running",
        "full",
        "counts",
        "short_error",
    )
    list_filter = (ModuleFilter, PlatformFilter, HasErrorFilter, "full")
    list_select_related = ("platform",)
    show_full_result_count = False
    search_fields = ("country_code", "party_id", "module", "platform__name")
    search_help_text = "Country code, party id, module, platform name, or a party (NL*ABC)."
    fieldsets = (
        (None, {"fields": ("party", "module", "platform_link")}),
        (
            "Runs",
            {
                "fields": (
                    "last_run_at",
                    "last_finished_at",
                    "last_success_started_at",
                    "last_full_success_at",
                    "running_since",
                    "full",
                )
            },
        ),
        (
            "Last run",
            {
                "fields": (
                    "fetched",
                    "stored",
                    "unchanged",
                    "invalid",
                    "refused",
                    "deleted",
                    "last_error",
                )
            },
        ),
    )
    readonly_fields = ("party", "platform_link")

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[SyncState], search_term: str
    ) -> tuple[QuerySet[SyncState], bool]:
        party = _party_query(search_term)
        if party is not None:
            return queryset.filter(party), False
        return super().get_search_results(request, queryset, search_term)

    @admin.display(description="party", ordering="country_code")
    def party(self, state: SyncState) -> str:
        return _party_label(state.country_code, state.party_id)

    @admin.display(description="platform", ordering="platform__name")
    def platform_link(self, state: SyncState) -> str:
        return _platform_link(state.platform)

    @admin.display(description="running", boolean=True)
    def running(self, state: SyncState) -> bool:
        return state.running_since is not None

    @admin.display(description="last run counts")
    def counts(self, state: SyncState) -> str:
        return (
            f"{state.fetched} fetched, {state.stored} stored, {state.unchanged} unchanged, "
            f"{state.invalid} invalid, {state.refused} refused, {state.deleted} deleted"
        )

    @admin.display(description="last error")
    def short_error(self, state: SyncState) -> str:
        return _short(state.last_error)


# --- Tokens, sessions, commands and charging profiles -----------------------------------------

# Where a command or charging-profile request stands: blue and purple wait, green answered,
# amber timed out, red stopped (refused by the CPO, or never delivered).
ASYNC_STATE_COLOURS: dict[str, str] = {
    AsyncState.FORWARDED: "#1565c0",
    AsyncState.WAITING: "#6a1b9a",
    AsyncState.RESULT_RECEIVED: "#2e7d32",
    AsyncState.TIMED_OUT: "#ef6c00",
    AsyncState.REFUSED: "#ad1457",
    AsyncState.FAILED: "#c62828",
}

# First segment of a request's result deliveries, `{prefix}/{id}/result/{n}`, as
# `hub.services.routing.async_results` keys them (n = 0 for the first result, 1.. for later ones).
ASYNC_RESULT_KEY_PREFIX: dict[str, str] = {
    AsyncKind.COMMAND: "command",
    AsyncKind.CHARGING_PROFILE: "chargingprofile",
}
ASYNC_OPERATIONS = (*CommandType.values, "GET", "SET", "CLEAR")


def _changelist_url(model: str, **query: str) -> str:
    return reverse(f"admin:hub_{model}_changelist") + "?" + urlencode(query)


def _correlation_link(correlation_id: str) -> str:
    """The exchanges of one end-to-end flow in the exchange log."""
    if not correlation_id:
        return "—"
    url = _changelist_url("ocpiexchange", correlation_id=correlation_id)
    return format_html(
        '<a href="{}" title="All exchanges of this correlation id">{}</a>', url, correlation_id
    )


def _document_text(obj: Any, annotation: str, *path: str) -> str:
    """A value inside an object's document: from its list annotation (the list never loads
    the documents), else from the document itself (the change page)."""
    value = getattr(obj, annotation, None)
    if value is None and annotation not in obj.__dict__:
        value = obj.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
    return "—" if value is None or value == "" else str(value)


def _duration_text(delta: timedelta) -> str:
    seconds = delta.total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {rest} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


class EmspPartyFilter(RegistryPartyFilter):
    title = "party"
    parameter_name = "party"
    roles = (Role.EMSP,)


class SessionCpoFilter(RegistryPartyFilter):
    title = "CPO party"
    parameter_name = "party"
    roles = (Role.CPO,)


class SessionEmspFilter(RegistryPartyFilter):
    title = "eMSP party (token owner)"
    parameter_name = "emsp"
    roles = (Role.EMSP,)
    prefix = "token_"


class RequesterPartyFilter(RegistryPartyFilter):
    """eMSPs send commands; eMSPs and SCSPs manage charging profiles."""

    title = "requester"
    parameter_name = "requester"
    roles = (Role.EMSP, Role.SCSP, Role.NSP, Role.NAP, Role.OTHER)
    prefix = "requester_"


class ReceiverPartyFilter(RegistryPartyFilter):
    title = "receiver"
    parameter_name = "receiver"
    roles = (Role.CPO,)
    prefix = "receiver_"


class TokenTypeFilter(FixedChoicesFilter):
    title = "type"
    parameter_name = "type"
    field = "type"
    values = TokenType.values


class WhitelistFilter(FixedChoicesFilter):
    """Inside the document (no column): a scan of the tokens left by the other filters."""

    title = "whitelist"
    parameter_name = "whitelist"
    field = "data__whitelist"
    values = WhitelistType.values


class SessionStatusFilter(FixedChoicesFilter):
    title = "status"
    parameter_name = "status"
    field = "status"
    values = SessionStatus.values


class AsyncOperationFilter(FixedChoicesFilter):
    title = "operation"
    parameter_name = "operation"
    field = "operation"
    values = ASYNC_OPERATIONS


# --- Tokens -------------------------------------------------------------------------------------


@admin.register(Token)
class TokenAdmin(OcpiObjectAdmin):
    """eMSPs' tokens as received (the eMSP owns them; the hub broadcasts them to CPOs). Never
    deleted by the eMSP, only invalidated (`valid=false`), so neither here. The list reads the
    document's fields from annotations and never loads the documents."""

    outbox_module = "tokens"
    list_display = (
        "party",
        "ocpi_uid",
        "type",
        "contract_id",
        "issuer",
        "visual_number",
        "valid",
        "whitelist",
        "last_updated",
        "owner_link",
        "deliveries_link",
    )
    list_filter = (EmspPartyFilter, TokenTypeFilter, "valid", WhitelistFilter, OwnerFilter)
    # The `token_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    list_per_page = 100
    search_help_text = (
        "A token uid or contract id (exact first, then a fragment), a visual number, or a "
        "party such as NL*ABC."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_uid",
                    "type",
                    "contract_id",
                    "issuer",
                    "visual_number",
                    "valid",
                    "whitelist",
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        (
            "Routing and deliveries",
            {"fields": ("token_owners", "deliveries_link", "sessions_link")},
        ),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
    )
    readonly_fields = (
        "party",
        "ocpi_uid",
        "type",
        "contract_id",
        "issuer",
        "visual_number",
        "valid",
        "whitelist",
        "last_updated",
        "owner_link",
        "token_owners",
        "deliveries_link",
        "sessions_link",
        "created_at",
        "updated_at",
        "document",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Token]:
        return (
            super()
            .get_queryset(request)
            .defer("data")
            .annotate(
                uid_value=KT("data__uid"),
                issuer_value=KT("data__issuer"),
                visual_number_value=KT("data__visual_number"),
                whitelist_value=KT("data__whitelist"),
            )
        )

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Token], search_term: str
    ) -> tuple[QuerySet[Token], bool]:
        """A party from the keys; a pasted uid or contract id from their indexes (keys are
        upper-cased); only then fragments and the visual number, which scan."""
        term = search_term.strip()
        if not term:
            return queryset, False
        party = _party_keys(term)
        if party is not None:
            return queryset.filter(party), False
        key = term.upper()
        exact = queryset.filter(Q(uid=key) | Q(contract_id=key))
        if exact.exists():
            return exact, False
        return (
            queryset.filter(
                Q(uid__contains=key)
                | Q(contract_id__contains=key)
                | Q(data__visual_number__icontains=term)
            ),
            False,
        )

    def object_key(self, token: Token) -> str:
        """`CC/PID/UID/TYPE`, as `hub.services.tokens.token_key` writes it."""
        return f"{token.country_code}/{token.party_id}/{token.uid}/{token.type}".upper()

    @admin.display(description="uid", ordering="uid")
    def ocpi_uid(self, token: Token) -> str:
        """The uid as the eMSP spelled it (the key column is upper-cased)."""
        return _document_text(token, "uid_value", "uid")

    @admin.display(description="issuer")
    def issuer(self, token: Token) -> str:
        return _document_text(token, "issuer_value", "issuer")

    @admin.display(description="visual number")
    def visual_number(self, token: Token) -> str:
        return _document_text(token, "visual_number_value", "visual_number")

    @admin.display(description="whitelist")
    def whitelist(self, token: Token) -> str:
        return _document_text(token, "whitelist_value", "whitelist")

    @admin.display(description="token-owner index")
    def token_owners(self, token: Token) -> str:
        """Who the hub routes this (uid, type) to: more than one owner makes it ambiguous,
        and requests about it then need TO."""
        rows = list(
            TokenOwner.objects.filter(uid=token.uid, type=token.type).order_by(
                "-last_seen_at", "pk"
            )[:20]
        )
        items = format_html_join(
            "",
            "<li>{} (from {}, last seen {})</li>",
            (
                (
                    _party_label(row.country_code, row.party_id),
                    row.get_source_display(),
                    timezone.localtime(row.last_seen_at).strftime("%Y-%m-%d %H:%M:%S"),
                )
                for row in rows
            ),
        )
        url = _changelist_url("tokenowner", uid=token.uid, type=token.type)
        warning = (
            format_html("<strong>{} owners: ambiguous without TO.</strong> ", len(rows))
            if len(rows) > 1
            else ""
        )
        return format_html(
            '{}<ul style="margin:0 0 0.5em;padding-left:1.2em">{}</ul>'
            '<a href="{}">in the token-owner index</a>',
            warning,
            items or format_html("<li>{}</li>", "not indexed"),
            url,
        )

    @admin.display(description="sessions")
    def sessions_link(self, token: Token) -> str:
        """Sessions whose `cdr_token` is this token (the session search, within its eMSP)."""
        url = _changelist_url(
            "session", q=token.uid, emsp=_party_label(token.country_code, token.party_id)
        )
        return format_html('<a href="{}">sessions with this token</a>', url)


@admin.register(TokenOwner)
class TokenOwnerAdmin(ReadOnlyAdmin):
    """The token-owner index: which eMSP party owns a (uid, type), learned from the tokens
    module and every token seen in commands, sessions and CDRs. Read-only: it is what routes
    real-time authorization, commands, sessions and CDRs."""

    list_display = ("uid", "type", "owner_party", "source", "last_seen_at", "tokens_link")
    list_filter = ("source", TokenTypeFilter)
    # The primary key follows creation and is indexed; last_seen_at is not.
    ordering = ("-pk",)
    show_full_result_count = False
    list_per_page = 100
    search_help_text = "A token uid (exact, or its beginning), or an owner party (NL*ABC)."
    fields = ("uid", "type", "owner_party", "source", "last_seen_at", "tokens_link")
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[TokenOwner], search_term: str
    ) -> tuple[QuerySet[TokenOwner], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        party = _party_keys(term)
        if party is not None:
            return queryset.filter(party), False
        return queryset.filter(uid__startswith=term.upper()), False

    @admin.display(description="owner party", ordering="country_code")
    def owner_party(self, row: TokenOwner) -> str:
        return _party_label(row.country_code, row.party_id)

    @admin.display(description="tokens")
    def tokens_link(self, row: TokenOwner) -> str:
        """The stored tokens with this uid and type (from the tokens module, if it sent any)."""
        url = _changelist_url("token", uid=row.uid, type=row.type)
        return format_html('<a href="{}">tokens</a>', url)


# --- Sessions -----------------------------------------------------------------------------------


class TokenOwnerMismatchFilter(YesNoFilter):
    """Sessions or CDRs whose cdr_token names another owner than the eMSP that pushed the token
    itself (`token_owner_finding`, hub.services.routing.token_index)."""

    title = "token owner mismatch"
    parameter_name = "token_owner_mismatch"

    def yes_q(self) -> Q:
        return ~Q(token_owner_finding="")


def _token_owner_finding(obj: Session | Cdr) -> str:
    if not obj.token_owner_finding:
        return "—"
    return format_html(
        '<span style="color:#c62828" title="cdr_token names {}; the token was pushed by {}">'
        "issued by {}</span>",
        _party_label(obj.token_country_code, obj.token_party_id),
        obj.token_owner_finding,
        obj.token_owner_finding,
    )


@admin.register(Session)
class SessionAdmin(OcpiObjectAdmin):
    """CPOs' sessions as received, each routed to the eMSP owning its `cdr_token` (never
    broadcast). Read-only: the CPO owns them. The list never loads the documents."""

    outbox_module = "sessions"
    list_display = (
        "party",
        "ocpi_id",
        "emsp_party",
        "token_owner_mismatch",
        "status",
        "kwh",
        "start_date_time",
        "end_date_time",
        "location_id",
        "last_updated",
        "owner_link",
        "deliveries_link",
    )
    list_filter = (
        # the `session_start` index; a date hierarchy would list years with a DISTINCT scan
        ("start_date_time", admin.DateFieldListFilter),
        SessionStatusFilter,
        SessionCpoFilter,
        SessionEmspFilter,
        OwnerFilter,
        TokenOwnerMismatchFilter,
    )
    # The `session_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    list_per_page = 100
    search_help_text = (
        "Exact (any case): a session id, a location id, or the uid or contract id of the "
        "session's token; or a party (NL*ABC, CPO or eMSP). Token values are read from each "
        "session's document: on a large table, narrow with the eMSP filter first."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_id",
                    "status",
                    "kwh",
                    "start_date_time",
                    "end_date_time",
                    "location_link",
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        (
            "Token and routing",
            {
                "fields": (
                    "emsp_party",
                    "token_owner_mismatch",
                    "cdr_token",
                    "deliveries_link",
                    "requests_link",
                )
            },
        ),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("period_count", "document")}),
    )
    readonly_fields = (
        "party",
        "ocpi_id",
        "status",
        "kwh",
        "start_date_time",
        "end_date_time",
        "location_link",
        "last_updated",
        "owner_link",
        "emsp_party",
        "token_owner_mismatch",
        "cdr_token",
        "deliveries_link",
        "requests_link",
        "created_at",
        "updated_at",
        "period_count",
        "document",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).defer("data").annotate(ocpi_id_value=KT("data__id"))

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Session], search_term: str
    ) -> tuple[QuerySet[Session], bool]:
        """Exact matches only: ids are pasted, and a fragment search over every session's
        document would be a slow scan. The keys are upper-cased; the token's uid and contract
        id are compared inside the document (JSON key lookups, case-insensitive)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        cpo = _party_keys(term)
        emsp = _party_keys(term, "token_")
        if cpo is not None and emsp is not None:
            return queryset.filter(cpo | emsp), False
        key = term.upper()
        return (
            queryset.filter(
                Q(session_id=key)
                | Q(location_id=key)
                | Q(data__cdr_token__uid__iexact=term)
                | Q(data__cdr_token__contract_id__iexact=term)
            ),
            False,
        )

    @admin.display(description="CPO party", ordering="country_code")
    def party(self, session: Session) -> str:
        return _party_label(session.country_code, session.party_id)

    def object_key(self, session: Session) -> str:
        """`CC/PID/SESSION_ID`, as `hub.services.sessions.session_key` writes it."""
        return f"{session.country_code}/{session.party_id}/{session.session_id}".upper()

    @admin.display(description="session id", ordering="session_id")
    def ocpi_id(self, session: Session) -> str:
        """The id as the CPO spelled it (the key column is upper-cased)."""
        return str(getattr(session, "ocpi_id_value", None) or session.session_id)

    @admin.display(description="eMSP (token owner)", ordering="token_country_code")
    def emsp_party(self, session: Session) -> str:
        return _party_label(session.token_country_code, session.token_party_id)

    @admin.display(description="token owner mismatch", ordering="token_owner_finding")
    def token_owner_mismatch(self, session: Session) -> str:
        return _token_owner_finding(session)

    @admin.display(description="location")
    def location_link(self, session: Session) -> str:
        if not session.location_id:
            return "—"
        url = _changelist_url(
            "location",
            country_code=session.country_code,
            party_id=session.party_id,
            location_id=session.location_id,
        )
        return format_html('<a href="{}">{}</a>', url, session.location_id)

    @admin.display(description="cdr_token")
    def cdr_token(self, session: Session) -> str:
        token = session.data.get("cdr_token") if isinstance(session.data, dict) else None
        if not isinstance(token, dict):
            return "—"
        uid, token_type = str(token.get("uid", "")), str(token.get("type", ""))
        url = _changelist_url(
            "token",
            country_code=session.token_country_code,
            party_id=session.token_party_id,
            uid=uid.upper(),
            type=token_type,
        )
        return format_html(
            '{} {} (contract {}) — <a href="{}">stored token</a>',
            token_type,
            uid,
            token.get("contract_id") or "—",
            url,
        )

    @admin.display(description="commands and charging profiles")
    def requests_link(self, session: Session) -> str:
        url = _changelist_url("asyncrequest", session_id__iexact=session.session_id)
        return format_html('<a href="{}">requests about this session</a>', url)

    @admin.display(description="charging periods")
    def period_count(self, session: Session) -> int:
        periods = session.data.get("charging_periods") if isinstance(session.data, dict) else None
        return len(periods) if isinstance(periods, list) else 0


# --- Commands and charging profiles -------------------------------------------------------------


@admin.register(AsyncRequest)
class AsyncRequestAdmin(ReadOnlyAdmin):
    """Commands and charging-profile requests routed through the hub, with the CPO's
    synchronous answer, its asynchronous result and the relay of that result to the
    requester's `response_url` (an eMSP URL: shown, it is no secret). Written by the
    async-results service only. The list never loads the request bodies."""

    change_form_template = "admin/hub/asyncrequest/change_form.html"
    list_display = (
        "created_at",
        "kind",
        "operation",
        "route",
        "state_badge",
        "response_result",
        "result_result",
        "timeout_s",
        "expires_at",
        "result_received_at",
        "time_to_result",
    )
    list_filter = (
        # the `async_created` index; a date hierarchy would list years with a DISTINCT scan
        ("created_at", admin.DateFieldListFilter),
        "kind",
        AsyncOperationFilter,
        "state",
        RequesterPartyFilter,
        ReceiverPartyFilter,
    )
    list_per_page = 100
    ordering = ("-created_at",)
    search_help_text = (
        "A request id (or a pasted hub result URL), a session id, a location id, a "
        "correlation id, or a requester or receiver party (NL*ABC)."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "id",
                    "kind",
                    "operation",
                    "state_badge",
                    "requester_link",
                    "receiver_link",
                    "session_link",
                    "location_link",
                )
            },
        ),
        (
            "Timing",
            {
                "fields": (
                    "created_at",
                    "timeout_s",
                    "expires_at",
                    "result_received_at",
                    "time_to_result",
                    "updated_at",
                )
            },
        ),
        (
            "Relay",
            {"fields": ("response_url", "result_deliveries_link", "correlation_link")},
        ),
        ("Request (as the requester sent it)", {"fields": ("request_document",)}),
        ("Response (the CPO's synchronous answer)", {"fields": ("response_document",)}),
        ("Result (relayed to the requester)", {"fields": ("result_document", "later_document")}),
    )
    readonly_fields = (
        "id",
        "kind",
        "operation",
        "state_badge",
        "requester_link",
        "receiver_link",
        "session_link",
        "location_link",
        "created_at",
        "timeout_s",
        "expires_at",
        "result_received_at",
        "time_to_result",
        "updated_at",
        "response_url",
        "result_deliveries_link",
        "correlation_link",
        "request_document",
        "response_document",
        "result_document",
        "later_document",
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[AsyncRequest]:
        # The answers and results are small; a request body (a charging profile) may not be,
        # and the list does not show it.
        return (
            super()
            .get_queryset(request)
            .select_related("requester", "receiver")
            .defer("request_body")
        )

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {"title": "Commands & charging profiles", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[AsyncRequest], search_term: str
    ) -> tuple[QuerySet[AsyncRequest], bool]:
        """A request id by primary key (also inside a pasted hub URL), a party from the
        keys, else the session, location or correlation id exactly."""
        term = search_term.strip()
        if not term:
            return queryset, False
        match = UUID_RE.search(term)
        if match is not None:
            by_id = queryset.filter(pk=uuid.UUID(match.group(0)))
            if by_id.exists():
                return by_id, False
        requester = _party_keys(term, "requester_")
        receiver = _party_keys(term, "receiver_")
        if requester is not None and receiver is not None:
            return queryset.filter(requester | receiver), False
        return (
            queryset.filter(
                Q(session_id__iexact=term) | Q(location_id__iexact=term) | Q(correlation_id=term)
            ),
            False,
        )

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: AsyncRequest | None = None,
    ) -> HttpResponse:
        if obj is not None:
            context["result_deliveries_url"] = self.result_deliveries_url(obj)
            if obj.correlation_id:
                context["exchanges_url"] = _changelist_url(
                    "ocpiexchange", correlation_id=obj.correlation_id
                )
        return super().render_change_form(request, context, add, change, form_url, obj)

    def result_deliveries_url(self, row: AsyncRequest) -> str:
        """The relays of its results to the requester (`{prefix}/{id}/result/{n}`)."""
        prefix = ASYNC_RESULT_KEY_PREFIX.get(row.kind, row.kind.lower())
        return _deliveries_url(MODULE_OF[AsyncKind(row.kind)], f"{prefix}/{row.pk}")

    # -- list -------------------------------------------------------------------------------

    @admin.display(description="requester → receiver")
    def route(self, row: AsyncRequest) -> str:
        return format_html(
            '<span title="{} → {}">{} → {}</span>',
            row.requester.name,
            row.receiver.name if row.receiver else "no platform",
            _party_label(row.requester_country_code, row.requester_party_id),
            _party_label(row.receiver_country_code, row.receiver_party_id),
        )

    @admin.display(description="state", ordering="state")
    def state_badge(self, row: AsyncRequest) -> str:
        return _status_badge(row.state, row.get_state_display(), ASYNC_STATE_COLOURS)

    @admin.display(description="response (sync)")
    def response_result(self, row: AsyncRequest) -> str:
        """The CPO's CommandResponse / ChargingProfileResponse `result`, or why there is none."""
        body = row.response_body
        if not isinstance(body, dict):
            return "—"
        if body.get("result"):
            return str(body["result"])
        if body.get("hub_error"):
            return _short(f"hub: {body['hub_error']}", 40)
        if "status_code" in body:
            return f"OCPI {body.get('status_code')}"
        return "—"

    @admin.display(description="result (async)")
    def result_result(self, row: AsyncRequest) -> str:
        """The CommandResult / ChargingProfileResult `result`, and later results if any."""
        body = row.result_body
        if not isinstance(body, dict) or not body.get("result"):
            return "—"
        later = [
            str(item.get("result"))
            for item in (row.later_results if isinstance(row.later_results, list) else [])
            if isinstance(item, dict)
        ]
        return ", then ".join([str(body["result"]), *later])

    @admin.display(description="time to result")
    def time_to_result(self, row: AsyncRequest) -> str:
        if row.result_received_at is None or row.created_at is None:
            return "—"
        return _duration_text(row.result_received_at - row.created_at)

    # -- change page ------------------------------------------------------------------------

    @admin.display(description="requester")
    def requester_link(self, row: AsyncRequest) -> str:
        return format_html(
            "{} on {}",
            _party_label(row.requester_country_code, row.requester_party_id),
            _platform_link(row.requester),
        )

    @admin.display(description="receiver")
    def receiver_link(self, row: AsyncRequest) -> str:
        return format_html(
            "{} on {}",
            _party_label(row.receiver_country_code, row.receiver_party_id),
            _platform_link(row.receiver),
        )

    @admin.display(description="session")
    def session_link(self, row: AsyncRequest) -> str:
        if not row.session_id:
            return "—"
        query = {"session_id": row.session_id.upper()}
        if row.receiver_country_code:
            query["party"] = _party_label(row.receiver_country_code, row.receiver_party_id)
        return format_html(
            '<a href="{}">{}</a>', _changelist_url("session", **query), row.session_id
        )

    @admin.display(description="location")
    def location_link(self, row: AsyncRequest) -> str:
        if not row.location_id:
            return "—"
        url = _changelist_url(
            "location",
            country_code=row.receiver_country_code,
            party_id=row.receiver_party_id,
            location_id=row.location_id.upper(),
        )
        return format_html('<a href="{}">{}</a>', url, row.location_id)

    @admin.display(description="result deliveries")
    def result_deliveries_link(self, row: AsyncRequest) -> str:
        return format_html(
            '<a href="{}">relays of the results to the requester</a>',
            self.result_deliveries_url(row),
        )

    @admin.display(description="correlation id")
    def correlation_link(self, row: AsyncRequest) -> str:
        return _correlation_link(row.correlation_id)

    @admin.display(description="request body")
    def request_document(self, row: AsyncRequest) -> str:
        return _pretty_json(row.request_body)

    @admin.display(description="response body")
    def response_document(self, row: AsyncRequest) -> str:
        return "—" if row.response_body is None else _pretty_json(row.response_body)

    @admin.display(description="result body")
    def result_document(self, row: AsyncRequest) -> str:
        return "—" if row.result_body is None else _pretty_json(row.result_body)

    @admin.display(description="later results")
    def later_document(self, row: AsyncRequest) -> str:
        return _pretty_json(row.later_results) if row.later_results else "—"


# --- CDRs and reconciliation --------------------------------------------------------------------

# The codes `hub.services.cdr_checks` records in `Cdr.findings` (one list, owned there).
CDR_FINDING_CODES = FINDING_CODES
PRICE_CHECK_COLOURS: dict[str, str] = {
    PriceCheck.MATCH: "#2e7d32",
    PriceCheck.MISMATCH: "#c62828",
    PriceCheck.UNPRICEABLE: "#ef6c00",
    PriceCheck.UNCHECKED: "#546e7a",
}
REPORT_STATUS_COLOURS: dict[str, str] = {
    ReportStatus.DONE: "#2e7d32",
    ReportStatus.PARTIAL: "#ef6c00",
    ReportStatus.RUNNING: "#1565c0",
}
# The delivery-state filter's choice for a CDR the outbox never had a row for.
NO_DELIVERY = "NONE"
CDR_MODULE = "cdrs"
# At most this many reports' findings in one CSV download (each is a full findings list).
REPORT_CSV_LIMIT = 50
# Findings shown inline on a report's page; all of them are in its CSV and finding list.
INLINE_FINDINGS_LIMIT = 200

CDR_CSV_COLUMNS = (
    "country_code",
    "party_id",
    "cdr_id",
    "token_country_code",
    "token_party_id",
    "token_uid",
    "token_type",
    "session_id",
    "start_date_time",
    "end_date_time",
    "total_energy_kwh",
    "currency",
    "total_cost_excl_vat",
    "total_cost_incl_vat",
    "computed_excl_vat",
    "computed_incl_vat",
    "price_check",
    "credit",
    "credit_reference_id",
    "finding_codes",
    "delivery_state",
)


def _export_detail(request: HttpRequest) -> str:
    """What an export selected, for its log entry: the changelist filters and whether all
    matching rows or a ticked selection were exported."""
    selected = request.POST.getlist(ACTION_CHECKBOX_NAME)
    across = request.POST.get("select_across") == "1"
    scope = "all matching" if across else f"{len(selected)} ticked"
    filters = request.GET.urlencode()
    return f"{scope}; filters: {filters or 'none'}"


def _cdr_object_key(cdr: Cdr) -> str:
    """`CC/PID/ID` as the CDR service keys its delivery (the columns are upper-cased)."""
    return f"{cdr.country_code}/{cdr.party_id}/{cdr.cdr_id}".upper()


def _cdr_delivery_state() -> Subquery:
    """The status of the CDR's newest "cdrs" delivery (one correlated subquery per page,
    served by the `delivery_object` index), None when it never had one."""
    key = Concat(
        OuterRef("country_code"),
        Value("/"),
        OuterRef("party_id"),
        Value("/"),
        OuterRef("cdr_id"),
        output_field=CharField(),
    )
    return Subquery(
        PushDelivery.objects.filter(module=CDR_MODULE, object_key=key)
        .order_by("-pk")
        .values("status")[:1]
    )


def _money(value: Any) -> str:
    return "—" if value is None or value == "" else str(value)


def _computed_total_cost(cdr: Cdr) -> dict[str, Any] | None:
    computed = cdr.computed if isinstance(cdr.computed, dict) else None
    total = computed.get("total_cost") if computed else None
    return total if isinstance(total, dict) else None


def _finding_codes(cdr: Cdr) -> list[str]:
    findings = cdr.findings if isinstance(cdr.findings, list) else []
    return [str(f.get("code", "")) for f in findings if isinstance(f, dict)]


# CDRs carry the same CPO and token-owner keys as sessions.
CdrCpoFilter = SessionCpoFilter
CdrEmspFilter = SessionEmspFilter


class HasFindingsFilter(YesNoFilter):
    title = "has findings"
    parameter_name = "has_findings"

    def yes_q(self) -> Q:
        return ~Q(findings=[])


class FindingCodeFilter(admin.SimpleListFilter):
    """CDRs whose findings include a code. A JSON containment (`@>` on PostgreSQL's jsonb,
    index-friendly with a GIN index); where the backend has none (SQLite), a match of the
    `"code": "X"` pair in the stored JSON text (json.dumps spelling, so a code quoted inside a
    message, escaped there, does not match). Either way it scans the CDRs left by the other
    filters: narrow by party or period first on a large table."""

    title = "finding code"
    parameter_name = "finding_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(code, code) for code in CDR_FINDING_CODES]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        code = self.value()
        if not code:
            return queryset
        if connections[queryset.db].features.supports_json_field_contains:
            return queryset.filter(findings__contains=[{"code": code}])
        pair = json.dumps({"code": code})[1:-1]  # '"code": "X"', as the JSON text spells it
        return queryset.alias(findings_text=Cast("findings", TextField())).filter(
            findings_text__contains=pair
        )


class CdrDeliveryStateFilter(admin.SimpleListFilter):
    """The state of the CDR's delivery to its eMSP (the `delivery_state` annotation)."""

    title = "delivery state"
    parameter_name = "delivery_state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            *((status.value, status.label) for status in DeliveryStatus),
            (NO_DELIVERY, "no delivery"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if value == NO_DELIVERY:
            return queryset.filter(delivery_state__isnull=True)
        return queryset.filter(delivery_state=value)


class CreditOfFilter(admin.SimpleListFilter):
    """The credit CDRs of one CDR (by primary key). Shown only while it is in use."""

    title = "credits of"
    parameter_name = "credit_of"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, f"CDR #{value}")] if value else []

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(credit_of_id=int(value))


@admin.register(Cdr)
class CdrAdmin(OcpiObjectAdmin):
    """CPOs' CDRs as received (immutable: corrections arrive as credit CDRs), with what the hub
    found in them, its own price beside the CPO's, and how the delivery to the eMSP went. The
    list never loads the documents; the delivery state is one subquery per page."""

    outbox_module = CDR_MODULE
    list_display = (
        "party",
        "ocpi_id",
        "emsp_party",
        "start_date_time",
        "end_date_time",
        "total_energy",
        "currency",
        "total_cost_excl_vat",
        "total_cost_incl_vat",
        "computed_total",
        "price_check_badge",
        "credit",
        "findings_count",
        "token_owner_mismatch",
        "delivery_badge",
        "received_at",
    )
    list_filter = (
        # `last_updated` leads the `cdr_page` index (end_date_time is indexed only after the
        # CPO party, `cdr_period`); a date hierarchy would list years with a DISTINCT scan.
        ("last_updated", admin.DateFieldListFilter),
        CdrCpoFilter,
        CdrEmspFilter,
        "price_check",
        "credit",
        HasFindingsFilter,
        FindingCodeFilter,
        TokenOwnerMismatchFilter,
        CdrDeliveryStateFilter,
        CreditOfFilter,
    )
    # The `cdr_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    list_per_page = 100
    search_help_text = (
        "Exact (any case): a CDR id, a session id or a token uid; or a party (NL*ABC, CPO or eMSP)."
    )
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "party",
                    "ocpi_id",
                    "emsp_party",
                    "token",
                    "session_id",
                    "start_date_time",
                    "end_date_time",
                    "total_energy",
                    "total_time",
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        ("Costs", {"fields": ("currency", "costs_table", "price_check_badge", "computed_doc")}),
        ("Findings", {"fields": ("findings_list", "token_owner_mismatch")}),
        ("Credits", {"fields": ("credit", "credit_reference_id", "original_link", "credits_link")}),
        ("Delivery", {"fields": ("delivery_badge", "deliveries_link", "received_at")}),
        ("OCPI document", {"fields": ("document",)}),
    )
    readonly_fields = (
        "party",
        "ocpi_id",
        "emsp_party",
        "token",
        "session_id",
        "start_date_time",
        "end_date_time",
        "total_energy",
        "total_time",
        "last_updated",
        "owner_link",
        "currency",
        "costs_table",
        "price_check_badge",
        "computed_doc",
        "findings_list",
        "token_owner_mismatch",
        "credit",
        "credit_reference_id",
        "original_link",
        "credits_link",
        "delivery_badge",
        "deliveries_link",
        "received_at",
        "document",
    )
    actions = ["export_csv_action", "resend_dead_action"]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Cdr]:
        return (
            super()
            .get_queryset(request)
            .defer("data")
            .annotate(ocpi_id_value=KT("data__id"), delivery_state=_cdr_delivery_state())
        )

    def action_checkbox(self, cdr: Cdr) -> SafeString:
        """Django's, labelled without `str(cdr)`, which reads the deferred document per row."""
        attrs = {
            "class": "action-select",
            "aria-label": format_html(
                "Select this object for an action - {} {}", self.party(cdr), self.ocpi_id(cdr)
            ),
        }
        checkbox = forms.CheckboxInput(attrs, lambda value: False)
        return checkbox.render(ACTION_CHECKBOX_NAME, str(cdr.pk))

    def has_resend_permission(self, request: HttpRequest) -> bool:
        """Resending changes the outbox: allowed to whoever may resend deliveries."""
        return request.user.has_perm("hub.resend_pushdelivery")

    def has_export_permission(self, request: HttpRequest) -> bool:
        """CDRs name other companies' drivers and money: exporting them is its own right."""
        return request.user.has_perm("hub.export_cdr")

    def object_key(self, cdr: Cdr) -> str:
        return _cdr_object_key(cdr)

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Cdr], search_term: str
    ) -> tuple[QuerySet[Cdr], bool]:
        """Exact matches on the upper-cased key columns (ids are pasted): a CDR id, a session
        id or a token uid; a party as CPO or eMSP. A five-character id also reads as a party
        ("sess3" is SE*SS3), so a party term matches either."""
        term = search_term.strip()
        if not term:
            return queryset, False
        key = term.upper()
        found = Q(cdr_id=key) | Q(session_id=key) | Q(token_uid=key)
        cpo = _party_keys(term)
        emsp = _party_keys(term, "token_")
        if cpo is not None and emsp is not None:
            found |= cpo | emsp
        return queryset.filter(found), False

    # -- list -------------------------------------------------------------------------------

    @admin.display(description="CPO party", ordering="country_code")
    def party(self, cdr: Cdr) -> str:
        return _party_label(cdr.country_code, cdr.party_id)

    @admin.display(description="CDR id", ordering="cdr_id")
    def ocpi_id(self, cdr: Cdr) -> str:
        """The id as the CPO sent it (the key column is upper-cased)."""
        value = getattr(cdr, "ocpi_id_value", None)
        if value is None and "data" in cdr.__dict__ and isinstance(cdr.data, dict):
            value = cdr.data.get("id")
        return str(value or cdr.cdr_id)

    @admin.display(description="eMSP (token owner)", ordering="token_country_code")
    def emsp_party(self, cdr: Cdr) -> str:
        return _party_label(cdr.token_country_code, cdr.token_party_id)

    @admin.display(description="computed total (excl / incl)")
    def computed_total(self, cdr: Cdr) -> str:
        total = _computed_total_cost(cdr)
        if total is None:
            return "—"
        return f"{_money(total.get('excl_vat'))} / {_money(total.get('incl_vat'))}"

    @admin.display(description="price check", ordering="price_check")
    def price_check_badge(self, cdr: Cdr) -> str:
        return _status_badge(cdr.price_check, cdr.get_price_check_display(), PRICE_CHECK_COLOURS)

    @admin.display(description="findings")
    def findings_count(self, cdr: Cdr) -> str:
        codes = _finding_codes(cdr)
        if not codes:
            return "0"
        return format_html('<span title="{}">{}</span>', ", ".join(codes), len(codes))

    @admin.display(description="token owner mismatch", ordering="token_owner_finding")
    def token_owner_mismatch(self, cdr: Cdr) -> str:
        return _token_owner_finding(cdr)

    @admin.display(description="delivery", ordering="delivery_state")
    def delivery_badge(self, cdr: Cdr) -> str:
        state = getattr(cdr, "delivery_state", None)
        if not state:
            return "—"
        return _status_badge(state, DeliveryStatus(state).label, DELIVERY_STATUS_COLOURS)

    # -- change page ------------------------------------------------------------------------

    @admin.display(description="token")
    def token(self, cdr: Cdr) -> str:
        url = _changelist_url(
            "token",
            country_code=cdr.token_country_code,
            party_id=cdr.token_party_id,
            uid=cdr.token_uid,
            type=cdr.token_type,
        )
        return format_html(
            '{} {} — <a href="{}">stored token</a>', cdr.token_type, cdr.token_uid, url
        )

    @admin.display(description="reported vs computed")
    def costs_table(self, cdr: Cdr) -> str:
        total = _computed_total_cost(cdr) or {}
        rows = [
            ("excl. VAT", _money(cdr.total_cost_excl_vat), _money(total.get("excl_vat"))),
            ("incl. VAT", _money(cdr.total_cost_incl_vat), _money(total.get("incl_vat"))),
        ]
        return format_html(
            "<table><thead><tr><th></th><th>reported (CPO)</th><th>computed (hub)</th></tr>"
            "</thead><tbody>{}</tbody></table>",
            format_html_join("", "<tr><th>{}</th><td>{}</td><td>{}</td></tr>", rows),
        )

    @admin.display(description="tariff engine's result")
    def computed_doc(self, cdr: Cdr) -> str:
        return "—" if cdr.computed is None else _pretty_json(cdr.computed)

    @admin.display(description="findings")
    def findings_list(self, cdr: Cdr) -> str:
        findings = [f for f in (cdr.findings or []) if isinstance(f, dict)]
        if not findings:
            return "None"
        return format_html(
            "<ul>{}</ul>",
            format_html_join(
                "",
                "<li><code>{}</code>: {}</li>",
                ((f.get("code", ""), f.get("message", "")) for f in findings),
            ),
        )

    @admin.display(description="credits CDR")
    def original_link(self, cdr: Cdr) -> str:
        if cdr.credit_of_id is None:
            return "—"
        url = reverse("admin:hub_cdr_change", args=[cdr.credit_of_id])
        return format_html('<a href="{}">the original CDR</a>', url)

    @admin.display(description="credited by")
    def credits_link(self, cdr: Cdr) -> str:
        url = _changelist_url("cdr", **{CreditOfFilter.parameter_name: str(cdr.pk)})
        return format_html('<a href="{}">credit CDRs of this CDR</a>', url)

    # -- actions ----------------------------------------------------------------------------

    @admin.action(description="Export selected as CSV", permissions=["export"])
    def export_csv_action(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> HttpResponse:
        """Partner data in a file staff open in spreadsheets: formula-safe cells
        (`SafeCsvWriter`), and the export is logged (`StaffExport`: who, how many rows)."""
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        stamp = timezone.now().strftime("%Y%m%dT%H%M%SZ")
        response["Content-Disposition"] = f'attachment; filename="cdrs-{stamp}.csv"'
        writer = SafeCsvWriter(response, lineterminator="\n")
        writer.writerow(CDR_CSV_COLUMNS)
        rows = queryset.order_by("pk")
        for cdr in rows.iterator(chunk_size=2000):
            total = _computed_total_cost(cdr) or {}
            writer.writerow(
                (
                    cdr.country_code,
                    cdr.party_id,
                    cdr.ocpi_id_value or cdr.cdr_id,  # type: ignore[attr-defined]
                    cdr.token_country_code,
                    cdr.token_party_id,
                    cdr.token_uid,
                    cdr.token_type,
                    cdr.session_id,
                    cdr.start_date_time.isoformat(),
                    cdr.end_date_time.isoformat(),
                    cdr.total_energy,
                    cdr.currency,
                    cdr.total_cost_excl_vat,
                    "" if cdr.total_cost_incl_vat is None else cdr.total_cost_incl_vat,
                    total.get("excl_vat", ""),
                    total.get("incl_vat", ""),
                    cdr.price_check,
                    "true" if cdr.credit else "false",
                    cdr.credit_reference_id,
                    ";".join(_finding_codes(cdr)),
                    cdr.delivery_state or "",  # type: ignore[attr-defined]
                )
            )
        export_record(
            request=request,
            what="cdrs",
            rows=writer.rows - 1,
            detail=_export_detail(request),
        )
        return response

    @admin.action(description="Resend dead-lettered delivery", permissions=["resend"])
    def resend_dead_action(self, request: HttpRequest, queryset: QuerySet[Cdr]) -> None:
        cdrs = list(queryset[: BULK_ACTION_LIMIT + 1])
        if len(cdrs) > BULK_ACTION_LIMIT:
            self.message_user(
                request,
                f"More than {BULK_ACTION_LIMIT} CDRs selected; narrow the selection (filter by "
                "delivery state DEAD). Nothing was changed.",
                messages.ERROR,
            )
            return
        by_key = {_cdr_object_key(cdr): cdr for cdr in cdrs}
        dead = PushDelivery.objects.filter(
            module=CDR_MODULE, object_key__in=list(by_key), status=DeliveryStatus.DEAD
        ).select_related("receiver")
        resent = folded = 0
        touched: set[str] = set()
        for delivery in dead:
            target = delivery_resend(delivery=delivery)
            touched.add(delivery.object_key)
            if target.pk == delivery.pk:
                resent += 1
                note = f"Resent dead-lettered delivery {delivery.pk} to {delivery.receiver.name}."
            else:
                folded += 1
                note = (
                    f"Dead-lettered delivery {delivery.pk}: the pending delivery {target.pk} is "
                    "sent now instead."
                )
            self.log_change(request, by_key[delivery.object_key], note)
        if resent or folded:
            text = f"{resent} dead-lettered deliveries queued to send now"
            if folded:
                text += f"; {folded} already had a pending delivery, which is sent now instead"
            self.message_user(request, text + ".", messages.SUCCESS)
        skipped = len(by_key) - len(touched)
        if skipped:
            self.message_user(
                request,
                f"{skipped} selected CDRs had no dead-lettered delivery; nothing sent for them.",
                messages.WARNING,
            )


class ReportStatusFilter(FixedChoicesFilter):
    title = "status"
    parameter_name = "status"
    field = "status"
    values = (ReportStatus.RUNNING, ReportStatus.DONE, ReportStatus.PARTIAL)


class ReportCpoFilter(RegistryPartyFilter):
    title = "CPO party"
    parameter_name = "cpo"
    roles = (Role.CPO,)
    prefix = "cpo_"


class ReportEmspFilter(RegistryPartyFilter):
    title = "eMSP party"
    parameter_name = "emsp"
    roles = (Role.EMSP,)
    prefix = "emsp_"


class FindingKindFilter(FixedChoicesFilter):
    title = "kind"
    parameter_name = "kind"
    field = "kind"
    values = Kind.ALL


class ReportFilter(admin.SimpleListFilter):
    """Findings of one report: the latest reports as choices (never a scan of them all); any
    report by URL (`?report=<id>`)."""

    title = "report"
    parameter_name = "report"
    latest = 20

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        reports = list(ReconciliationReport.objects.order_by("-pk")[: self.latest])
        choices = [(str(report.pk), f"#{report.pk} {report}") for report in reports]
        value = self.value()
        if value and value not in {pk for pk, _ in choices}:
            choices.insert(0, (value, f"#{value}"))
        return choices

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        if not value.isdigit():
            return queryset.none()
        return queryset.filter(report_id=int(value))


def _cdr_change_link(cdr_id: int | None, label: str) -> str:
    if cdr_id is None:
        return label or "—"
    return format_html('<a href="{}">{}</a>', reverse("admin:hub_cdr_change", args=[cdr_id]), label)


class _BoundedFindingsFormSet(BaseInlineFormSet):
    """The first `INLINE_FINDINGS_LIMIT` findings (report order); the rest are in the CSV."""

    def get_queryset(self) -> QuerySet[Any]:
        if not hasattr(self, "_bounded"):
            self._bounded = super().get_queryset()[:INLINE_FINDINGS_LIMIT]
        return self._bounded


class ReconciliationFindingInline(ReadOnlyInline):
    model = ReconciliationFinding
    formset = _BoundedFindingsFormSet
    fields = ("kind", "cdr_link", "message")
    readonly_fields = fields
    verbose_name_plural = f"findings (the first {INLINE_FINDINGS_LIMIT}; all in the CSV)"

    @admin.display(description="CDR")
    def cdr_link(self, finding: ReconciliationFinding) -> str:
        return _cdr_change_link(finding.cdr_id, finding.cdr_key)


def _findings_csv_response(
    request: HttpRequest, reports: Sequence[ReconciliationReport]
) -> HttpResponse:
    """One CSV of the reports' findings (`reconciliation_findings_csv`, one header row,
    formula-safe cells), logged as a staff export."""
    parts = [reconciliation_findings_csv(report) for report in reports]
    body = parts[0] if parts else ""
    for part in parts[1:]:
        body += part.split("\n", 1)[1] if "\n" in part else ""
    rows = sum(max(part.count("\n") - 1, 0) for part in parts)
    export_record(
        request=request,
        what="reconciliation findings",
        rows=rows,
        detail="reports " + ", ".join(f"#{report.pk}" for report in reports),
    )
    if len(reports) == 1:
        report = reports[0]
        name = (
            f"reconciliation-{report.cpo_country_code}-{report.cpo_party_id}-"
            f"{report.emsp_country_code}-{report.emsp_party_id}-{report.period_start.isoformat()}"
            f"-{report.pk}.csv"
        )
    else:
        name = f"reconciliation-findings-{len(reports)}-reports.csv"
    response = HttpResponse(body, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@admin.register(ReconciliationReport)
class ReconciliationReportAdmin(ReadOnlyAdmin):
    """One reconciliation run per (CPO, eMSP, period), written by
    `hub.services.reconciliation` only: totals, counts per finding kind, and the
    findings (also as CSV)."""

    change_form_template = "admin/hub/reconciliationreport/change_form.html"
    list_display = (
        "route",
        "period",
        "status_badge",
        "cdr_count",
        "kwh",
        "cost_summary",
        "finding_counts",
        "finished_at",
    )
    list_filter = (ReportStatusFilter, ReportCpoFilter, ReportEmspFilter)
    date_hierarchy = "period_start"
    ordering = ("-period_start", "-pk")
    list_per_page = 100
    fieldsets = (
        (None, {"fields": ("route", "period", "status_badge", "error")}),
        ("Totals", {"fields": ("cdr_count", "kwh", "cost_summary", "totals_doc")}),
        ("Findings", {"fields": ("finding_counts", "findings_link")}),
        ("Run", {"fields": ("created_at", "finished_at")}),
    )
    readonly_fields = (
        "route",
        "period",
        "status_badge",
        "error",
        "cdr_count",
        "kwh",
        "cost_summary",
        "totals_doc",
        "finding_counts",
        "findings_link",
        "created_at",
        "finished_at",
    )
    inlines: ClassVar = [ReconciliationFindingInline]
    actions = ["findings_csv_action"]

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        wrap = self.admin_site.admin_view
        custom = [
            path(
                "<path:object_id>/findings.csv",
                wrap(self.findings_csv_view),
                name="hub_reconciliationreport_findings_csv",
            ),
        ]
        return custom + super().get_urls()  # type: ignore[operator]

    def findings_csv_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        report = self.get_object(request, unquote(object_id))
        if report is None:
            raise Http404("No such reconciliation report.")
        if not self.has_export_permission(request):
            raise PermissionDenied
        return _findings_csv_response(request, [report])

    def render_change_form(
        self,
        request: HttpRequest,
        context: dict[str, Any],
        add: bool = False,
        change: bool = False,
        form_url: str = "",
        obj: ReconciliationReport | None = None,
    ) -> HttpResponse:
        if obj is not None and self.has_export_permission(request):
            context["findings_csv_url"] = reverse(
                "admin:hub_reconciliationreport_findings_csv", args=[obj.pk]
            )
        if obj is not None:
            context["findings_url"] = _changelist_url("reconciliationfinding", report=str(obj.pk))
        return super().render_change_form(request, context, add, change, form_url, obj)

    def has_export_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hub.export_reconciliationreport")

    @admin.action(description="Download findings CSV", permissions=["export"])
    def findings_csv_action(
        self, request: HttpRequest, queryset: QuerySet[ReconciliationReport]
    ) -> HttpResponse | None:
        reports = list(queryset.order_by("pk")[: REPORT_CSV_LIMIT + 1])
        if len(reports) > REPORT_CSV_LIMIT:
            self.message_user(
                request,
                f"More than {REPORT_CSV_LIMIT} reports selected; narrow the selection.",
                messages.ERROR,
            )
            return None
        return _findings_csv_response(request, reports)

    # -- columns ----------------------------------------------------------------------------

    @admin.display(description="CPO → eMSP", ordering="cpo_country_code")
    def route(self, report: ReconciliationReport) -> str:
        return (
            f"{_party_label(report.cpo_country_code, report.cpo_party_id)} → "
            f"{_party_label(report.emsp_country_code, report.emsp_party_id)}"
        )

    @admin.display(description="period", ordering="period_start")
    def period(self, report: ReconciliationReport) -> str:
        return f"{report.period_start.isoformat()} .. {report.period_end.isoformat()} (excl.)"

    @admin.display(description="status", ordering="status")
    def status_badge(self, report: ReconciliationReport) -> str:
        return _status_badge(report.status, report.status, REPORT_STATUS_COLOURS)

    def _totals(self, report: ReconciliationReport) -> dict[str, Any]:
        return report.totals if isinstance(report.totals, dict) else {}

    @admin.display(description="CDRs (+ credits)")
    def cdr_count(self, report: ReconciliationReport) -> str:
        totals = self._totals(report)
        count, credits = totals.get("cdrs", 0), totals.get("credits", 0)
        return f"{count} (+{credits})" if credits else str(count)

    @admin.display(description="kWh")
    def kwh(self, report: ReconciliationReport) -> str:
        return _money(self._totals(report).get("kwh"))

    @admin.display(description="cost (net, excl / incl VAT)")
    def cost_summary(self, report: ReconciliationReport) -> str:
        cost = self._totals(report).get("cost")
        if not isinstance(cost, dict) or not cost:
            return "—"
        return "; ".join(
            f"{currency} {_money(amounts.get('excl_vat'))} / {_money(amounts.get('incl_vat'))}"
            for currency, amounts in sorted(cost.items())
            if isinstance(amounts, dict)
        )

    @admin.display(description="findings")
    def finding_counts(self, report: ReconciliationReport) -> str:
        counts = report.counts if isinstance(report.counts, dict) else {}
        found = [(kind, n) for kind, n in counts.items() if n]
        if not found:
            return "none"
        return format_html_join(", ", "{}&nbsp;{}", ((kind, n) for kind, n in found))

    @admin.display(description="totals")
    def totals_doc(self, report: ReconciliationReport) -> str:
        return _pretty_json(report.totals)

    @admin.display(description="all findings")
    def findings_link(self, report: ReconciliationReport) -> str:
        url = _changelist_url("reconciliationfinding", report=str(report.pk))
        return format_html('<a href="{}">findings of this report</a>', url)


@admin.register(ReconciliationFinding)
class ReconciliationFindingAdmin(ReadOnlyAdmin):
    """Every discrepancy reconciliation found, across reports: "which CDRs were dead-lettered
    last week?"."""

    list_display = ("kind", "cdr_link", "report_link", "short_message")
    list_filter = (FindingKindFilter, ReportFilter)
    list_select_related = ("report",)
    show_full_result_count = False
    ordering = ("-pk",)
    list_per_page = 100
    search_fields = ("=cdr_key",)
    search_help_text = "A CDR key (CC/PID/ID), exactly."
    fields = ("kind", "cdr_link", "report_link", "message", "detail_doc")
    readonly_fields = fields

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[ReconciliationFinding], search_term: str
    ) -> tuple[QuerySet[ReconciliationFinding], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        return queryset.filter(cdr_key=term.upper()), False

    @admin.display(description="CDR", ordering="cdr_key")
    def cdr_link(self, finding: ReconciliationFinding) -> str:
        return _cdr_change_link(finding.cdr_id, finding.cdr_key)

    @admin.display(description="report", ordering="report")
    def report_link(self, finding: ReconciliationFinding) -> str:
        url = reverse("admin:hub_reconciliationreport_change", args=[finding.report_id])
        return format_html('<a href="{}">{}</a>', url, str(finding.report))

    @admin.display(description="message")
    def short_message(self, finding: ReconciliationFinding) -> str:
        return _short(finding.message, 100)

    @admin.display(description="detail")
    def detail_doc(self, finding: ReconciliationFinding) -> str:
        return _pretty_json(finding.detail)


# --- Party claims (who may hold which party; hub.services.registry.parties) ---------------------


@admin.register(PartyClaim)
class PartyClaimAdmin(admin.ModelAdmin):
    """Parties reserved to a platform without being one of its working roles: invited and not
    claimed yet, pending staff approval (a credentials PUT added them), or dropped (reserved
    until released). Decided with the actions; every decision goes to the party audit log."""

    list_display = ("party", "state", "platform", "changed_at", "created_at")
    list_filter = ("state", "role")
    list_select_related = ("platform",)
    search_fields = ("platform__name", "=country_code", "=party_id")
    ordering = ("state", "country_code", "party_id", "role")
    fields = ("party", "state", "platform", "business_details", "created_at", "changed_at")
    readonly_fields = fields
    actions = ["approve_action", "reject_action", "release_action"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: PartyClaim | None = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: PartyClaim | None = None) -> bool:
        return False  # releasing is an audited action, not a delete

    def has_decide_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("hub.change_partyclaim")

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
    readonly_fields = fields

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
    readonly_fields = fields


__all__ = [
    "OPERATIONS",
    "AsyncRequestAdmin",
    "CdrAdmin",
    "LocationAdmin",
    "OcpiExchangeAdmin",
    "PartyAuditEntryAdmin",
    "PartyClaimAdmin",
    "PlatformAdmin",
    "PlatformEndpointAdmin",
    "PlatformRoleAdmin",
    "ProxiedUrlAdmin",
    "PushDeliveryAdmin",
    "ReconciliationFindingAdmin",
    "ReconciliationReportAdmin",
    "SessionAdmin",
    "StaffExportAdmin",
    "SyncStateAdmin",
    "TariffAdmin",
    "TokenAdmin",
    "TokenOwnerAdmin",
]
