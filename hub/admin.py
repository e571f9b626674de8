"""The hub's operations admin: the party registry and the OCPI exchange log.

Every registry write (invitations, registrations, rotation, suspension, unregistration) goes
through `hub.services.registry`; the admin only collects input, asks for confirmation and
reports the outcome, so the admin can never bypass the rules the OCPI endpoints obey.

Secrets: the partner's `outbound_token` is never put into a form, a page or a log entry (only
its masked form), and a hub-issued Token A is rendered once, directly into the response that
issued it, never stored in the session or a message cookie.
"""

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar
from urllib.parse import urlencode

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import Q, QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from hub.admin_forms import BusinessDetailsForm, ConnectForm, InviteForm
from hub.models import (
    ConnectionStatus,
    OcpiExchange,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PlatformToken,
)
from hub.ocpi.exceptions import OcpiError
from hub.services.registry import (
    RegistrationError,
    credentials_rotate,
    hub_versions_url,
    platform_connect,
    platform_invite,
    platform_reactivate,
    platform_suspend,
    platform_unregister,
)

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


def _status_badge(status: str, label: str) -> str:
    colour = STATUS_COLOURS.get(status, "#546e7a")
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
        ),
        PlatformOperation(
            slug="reactivate",
            label="Reactivate",
            consequence=("Lifts the suspension: CONNECTED when registered, PLANNED otherwise."),
            method="run_reactivate",
            applies_to=lambda p: p.status == ConnectionStatus.SUSPENDED,
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
        if platform is not None and self.has_change_permission(request, platform):
            extra_context["platform_operations"] = [
                {
                    "label": op.label,
                    "url": reverse("admin:hub_platform_operation", args=[platform.pk, op.slug]),
                }
                for op in OPERATIONS.values()
                if op.applies_to(platform)
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
            platform, token = platform_invite(name=form.cleaned_data["name"])
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
        if not self.has_change_permission(request, platform):
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

    @admin.action(description="Invite / issue new Token A", permissions=["change"])
    def invite_action(
        self, request: HttpRequest, queryset: QuerySet[Platform]
    ) -> HttpResponse | None:
        return self.run_invite(request, list(queryset))

    @admin.action(description="Rotate credentials (hub PUTs new ones)", permissions=["change"])
    def rotate_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_rotate(request, list(queryset))

    @admin.action(description="Suspend (stop all traffic)", permissions=["change"])
    def suspend_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_suspend(request, list(queryset))

    @admin.action(description="Reactivate", permissions=["change"])
    def reactivate_action(self, request: HttpRequest, queryset: QuerySet[Platform]) -> None:
        self.run_reactivate(request, list(queryset))

    @admin.action(description="Unregister (tell the partner, then forget)…", permissions=["change"])
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
    """ "Who is NL*ABC?": every party the hub routes to, with its platform."""

    form = BusinessDetailsForm
    list_display = ("party", "role", "business_name", "platform_link", "platform_status")
    list_filter = ("role", "platform__status")
    list_select_related = ("platform",)
    search_fields = ("country_code", "party_id", "platform__name")
    search_help_text = "Country code, party id, platform name, or a party such as NL*ABC."
    fields = ("platform", "role", "country_code", "party_id", "business_details")
    readonly_fields = ("platform", "role", "country_code", "party_id")

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

    @admin.display(description="platform status", ordering="platform__status")
    def platform_status(self, role: PlatformRole) -> str:
        return _status_badge(role.platform.status, role.platform.get_status_display())


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
class OcpiExchangeAdmin(admin.ModelAdmin):
    """The OCPI exchange log: read-only evidence of every call, kept fast on millions of rows
    (select_related, no full count, fixed filter choices, indexed id lookups first)."""

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
        "direction",
        ModuleFilter,
        HttpStatusFilter,
        OcpiStatusFilter,
        PlatformFilter,
    )
    list_select_related = ("platform",)
    show_full_result_count = False
    date_hierarchy = "created_at"
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


__all__ = [
    "OPERATIONS",
    "OcpiExchangeAdmin",
    "PlatformAdmin",
    "PlatformEndpointAdmin",
    "PlatformRoleAdmin",
]
