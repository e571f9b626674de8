"""Platforms: the OCPI connections and the registry's operations on them.

Every registry write (invitations, registrations, rotation, suspension, unregistration) goes
through `hub.services.registry.credentials`; the admin only collects input, asks for
confirmation and reports the outcome, so the admin can never bypass the rules the OCPI
endpoints obey.

Secrets: the partner's `outbound_token` is never put into a form, a page or a log entry (only
its masked form), and a hub-issued Token A is rendered once, directly into the response that
issued it, never stored in the session or a message cookie.
"""

from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from django.contrib import admin, messages
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.utils import flatten_fieldsets, unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from hub.admin.actions import OPERATIONS, PlatformOperation
from hub.admin.display import status_badge
from hub.admin.forms import BusinessDetailsForm, ConnectForm, InviteForm
from hub.admin.mixins import HubSearchMixin, ReadOnlyInline, permission
from hub.models import Platform, PlatformEndpoint, PlatformRole, PlatformToken
from hub.ocpi.exceptions import OcpiError
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
from hub.services.registry.parties import staff_actor


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


class PlatformEndpointInline(ReadOnlyInline):
    """What the partner published in its version details; re-read on every credentials
    exchange, so editing it here would be silently undone (and could misroute traffic)."""

    model = PlatformEndpoint
    fields = ("identifier", "role", "url")


class PlatformTokenInline(ReadOnlyInline):
    """Tokens the hub issued to the platform. Only digests exist; a shortened one is enough to
    tell tokens apart and means nothing to an attacker."""

    model = PlatformToken
    fields = ("scope", "created_at", "short_digest")
    verbose_name = "hub-issued token"
    verbose_name_plural = "hub-issued tokens (digests only)"

    @admin.display(description="SHA-256 digest")
    def short_digest(self, token: PlatformToken) -> str:
        return f"{token.digest[:8]}…" if token.digest else "—"


@admin.register(Platform)
class PlatformAdmin(HubSearchMixin, admin.ModelAdmin):
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
    # Staff may correct these; everything else is written by the registry services.
    readonly_fields = tuple(
        field
        for field in flatten_fieldsets(fieldsets)
        if field not in ("name", "notes", "token_encoding", "max_response_bytes")
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

    # "Who is NL*ABC?" is answered from the roles directly; anything else is a plain search.
    party_prefixes = ("roles__",)
    party_upper_keys = False
    party_distinct = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[Platform]:
        """Roles are shown on every row: fetch them in one query."""
        return super().get_queryset(request).prefetch_related("roles")

    @admin.display(description="roles")
    def roles_display(self, platform: Platform) -> str:
        return ", ".join(str(role) for role in platform.roles.all()) or "—"

    @admin.display(description="status", ordering="status")
    def status_badge(self, platform: Platform) -> str:
        return status_badge(platform.status, platform.get_status_display())

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
    has_rotate_permission = permission("rotate_platform")
    has_suspend_permission = permission("suspend_platform")
    has_unregister_permission = permission("unregister_platform")

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
