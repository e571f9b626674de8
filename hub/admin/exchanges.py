"""The OCPI exchange log: read-only evidence of every call (and so of disputes with partners;
retention is a job, never a click)."""

from django.contrib import admin
from django.db.models import Q

from hub.admin.display import ms_text, platform_column, short
from hub.admin.filters import (
    ExchangeOutcomeFilter,
    HttpStatusFilter,
    LoggedModuleFilter,
    OcpiStatusFilter,
    moment_filter,
)
from hub.admin.mixins import CorrelationLinkMixin, HubSearchMixin, ReadOnlyAdmin
from hub.models import OcpiExchange


@admin.register(OcpiExchange)
class OcpiExchangeAdmin(CorrelationLinkMixin, HubSearchMixin, ReadOnlyAdmin):
    """Kept fast on millions of rows: select_related, estimated counts, fixed filter choices,
    indexed id lookups first, a date range on the indexed `created_at` instead of a date
    hierarchy."""

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
        LoggedModuleFilter,
        HttpStatusFilter,
        OcpiStatusFilter,
        ExchangeOutcomeFilter,
        "platform",
        # reached by the dashboard's links (a window of the log), shown while in use
        moment_filter("since", "since", "created_at__gte"),
        moment_filter("until", "until", "created_at__lt"),
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
            {"fields": ("http_status", "ocpi_status", "status_message", "error", "duration")},
        ),
        ("Message ids", {"fields": ("request_id", "correlation_link")}),
    )

    def search_q(self, term: str) -> Q | None:
        """A pasted id hits the indexes only; a substring search scans, so it comes second."""
        if any(ch.isspace() for ch in term):
            return None
        return Q(correlation_id=term) | Q(request_id=term)

    @admin.display(description="URL", ordering="url")
    def short_url(self, exchange: OcpiExchange) -> str:
        return short(exchange.url, 70)

    platform_link = platform_column("platform", "platform")

    @admin.display(description="duration", ordering="duration_ms")
    def duration(self, exchange: OcpiExchange) -> str:
        return ms_text(exchange.duration_ms)
