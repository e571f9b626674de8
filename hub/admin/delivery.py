"""Delivery: the outbox (one row per receiver and object, each try below it), the partner
URLs handed out in the hub's name, and where each pull sync stands."""

import re
import uuid
from typing import ClassVar

from django.contrib import admin
from django.db.models import Q
from django.utils import timezone
from django.utils.html import format_html

from hub.admin.actions import cancel_action, resend_action
from hub.admin.display import (
    DELIVERY_STATUS_COLOURS,
    changelist_url,
    ms_text,
    party_column,
    party_label,
    platform_column,
    short,
    status_badge,
)
from hub.admin.filters import (
    ExpiredFilter,
    LoggedModuleFilter,
    ObjectTreeFilter,
    OutboxModuleFilter,
    moment_filter,
)
from hub.admin.mixins import (
    CorrelationLinkMixin,
    HubSearchMixin,
    ReadOnlyAdmin,
    ReadOnlyInline,
    bounded_formset,
    permission,
)
from hub.models import ProxiedUrl, PushAttempt, PushDelivery, SyncState
from hub.modules import ModuleID

# Attempts shown on a delivery's page, newest first: a poison delivery retried for days has
# thousands, and an inline has no pagination.
INLINE_ATTEMPTS_LIMIT = 50

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-?(?:[0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}")


class PushAttemptInline(ReadOnlyInline):
    """The latest tries and how the receiver answered: the "why" of a delivery."""

    model = PushAttempt
    formset = bounded_formset(INLINE_ATTEMPTS_LIMIT)
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

    @admin.display(description="duration")
    def duration(self, attempt: PushAttempt) -> str:
        return ms_text(attempt.duration_ms)


@admin.register(PushDelivery)
class PushDeliveryAdmin(CorrelationLinkMixin, HubSearchMixin, ReadOnlyAdmin):
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
        "receiver",
        "operation",
        ObjectTreeFilter,
        # reached by the dashboard's links ("failed in the last hour"), shown while in use
        moment_filter("changed since", "changed_since", "updated_at__gte"),
        moment_filter("delivered since", "delivered_since", "delivered_at__gte"),
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
    actions = (resend_action, cancel_action)

    # -- permissions ------------------------------------------------------------------------

    # Read-only: a saved form would overwrite what a worker just wrote, and deliveries and
    # their attempts are the evidence of what each receiver got. Resend and cancel have their
    # own permissions (operators hold them), since there is no edit form to need "change".
    has_resend_permission = permission("resend_pushdelivery")
    has_cancel_permission = permission("cancel_pushdelivery")

    # -- list -------------------------------------------------------------------------------

    def search_q(self, term: str) -> Q | None:
        """An object key (with its EVSEs and connectors) or a correlation id, exactly, first;
        anything else is an ordinary search."""
        if any(ch.isspace() for ch in term):
            return None
        return (
            Q(object_key__in={term, term.upper()})
            | Q(object_key__startswith=term.upper() + "/")
            | Q(correlation_id=term)
        )

    receiver_link = platform_column("receiver", "receiver")

    to_party = party_column("to_", "to")

    from_party = party_column("from_", "from")

    @admin.display(description="status", ordering="status")
    def status_badge(self, delivery: PushDelivery) -> str:
        return status_badge(delivery.status, delivery.get_status_display(), DELIVERY_STATUS_COLOURS)

    @admin.display(description="last error")
    def short_error(self, delivery: PushDelivery) -> str:
        return short(delivery.last_error)

    @admin.display(description="object")
    def object_link(self, delivery: PushDelivery) -> str:
        """The stored object this delivery carries, by its keys (no query)."""
        parts = delivery.object_key.split("/")
        targets: dict[str, tuple[str, str]] = {
            ModuleID.LOCATIONS: ("location", "location_id"),
            ModuleID.TARIFFS: ("tariff", "tariff_id"),
            ModuleID.HUB_CLIENT_INFO: ("platformrole", "role"),
        }
        target = targets.get(delivery.module)
        if target is None or len(parts) < 3:
            return "—"
        model, id_field = target
        url = changelist_url(
            model, country_code=parts[0], party_id=parts[1], **{id_field: parts[2]}
        )
        return format_html('<a href="{}">{}</a>', url, "/".join(parts[:3]))


@admin.register(ProxiedUrl)
class ProxiedUrlAdmin(HubSearchMixin, ReadOnlyAdmin):
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
    list_filter = ("kind", "gateway", LoggedModuleFilter, ExpiredFilter, "caller")
    list_select_related = ("caller", "receiver")
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

    def search_q(self, term: str) -> Q | None:
        """A pasted proxied URL (or its id) finds its row by primary key."""
        match = UUID_RE.search(term)
        return None if match is None else Q(pk=uuid.UUID(match.group(0)))

    @admin.display(description="live", boolean=True)
    def live(self, proxied: ProxiedUrl) -> bool:
        return proxied.expires_at > timezone.now()

    caller_link = platform_column("caller", "caller")

    receiver_link = platform_column("receiver", "receiver")

    @admin.display(description="from → to")
    def parties(self, proxied: ProxiedUrl) -> str:
        return (
            f"{party_label(proxied.from_country_code, proxied.from_party_id)} → "
            f"{party_label(proxied.to_country_code, proxied.to_party_id)}"
        )

    @admin.display(description="target URL")
    def short_target(self, proxied: ProxiedUrl) -> str:
        return short(proxied.target_url, 70)


@admin.register(SyncState)
class SyncStateAdmin(HubSearchMixin, ReadOnlyAdmin):
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
    list_filter = (
        LoggedModuleFilter,
        "platform",
        ("last_error", admin.EmptyFieldListFilter),
        "full",
    )
    list_select_related = ("platform",)
    party_prefixes = ("",)
    party_upper_keys = False
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

    party = party_column("", "party")

    platform_link = platform_column("platform", "platform")

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
        return short(state.last_error)
