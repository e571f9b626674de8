"""Commands and charging-profile requests routed through the hub, with the CPO's answer, its
asynchronous result and the relay of that result to the requester."""

import uuid
from typing import Any

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from hub.admin.delivery import UUID_RE
from hub.admin.display import (
    changelist_url,
    correlation_url,
    deliveries_url,
    duration_text,
    party_label,
    platform_link,
    pretty_json,
    short,
    status_badge,
)
from hub.admin.filters import party_filter
from hub.admin.mixins import CorrelationLinkMixin, HubSearchMixin, ReadOnlyAdmin
from hub.models import AsyncKind, AsyncRequest, AsyncState, Role
from hub.services.routing.async_results import MODULE_OF

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

# eMSPs send commands; eMSPs and SCSPs manage charging profiles.
REQUESTER_PARTY = party_filter(
    "requester", "requester", [Role.EMSP, Role.SCSP, Role.NSP, Role.NAP, Role.OTHER], "requester_"
)
RECEIVER_PARTY = party_filter("receiver", "receiver", [Role.CPO], "receiver_")


def _party_on(row: AsyncRequest, side: str) -> str:
    """`NL*ABC on <platform>` for the request's requester or receiver."""
    party = party_label(getattr(row, f"{side}_country_code"), getattr(row, f"{side}_party_id"))
    return format_html("{} on {}", party, platform_link(getattr(row, side)))


@admin.register(AsyncRequest)
class AsyncRequestAdmin(CorrelationLinkMixin, HubSearchMixin, ReadOnlyAdmin):
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
        "operation",
        "state",
        REQUESTER_PARTY,
        RECEIVER_PARTY,
    )
    list_select_related = ("requester", "receiver")
    list_per_page = 100
    # A request id by primary key (also inside a pasted hub URL), a party from the keys, else
    # the session, location or correlation id exactly.
    party_prefixes = ("requester_", "receiver_")
    search_q_only = True
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

    def get_queryset(self, request: HttpRequest) -> QuerySet[AsyncRequest]:
        # The answers and results are small; a request body (a charging profile) may not be,
        # and the list does not show it.
        return super().get_queryset(request).defer("request_body")

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        extra_context = {"title": "Commands & charging profiles", **(extra_context or {})}
        return super().changelist_view(request, extra_context)

    def search_q(self, term: str) -> Q | None:
        found = Q(session_id__iexact=term) | Q(location_id__iexact=term) | Q(correlation_id=term)
        match = UUID_RE.search(term)
        return found if match is None else found | Q(pk=uuid.UUID(match.group(0)))

    def change_page_links(self, request: HttpRequest, obj: AsyncRequest) -> dict[str, str]:
        links = {"result_deliveries_url": self.result_deliveries_url(obj)}
        if obj.correlation_id:
            links["exchanges_url"] = changelist_url(
                "ocpiexchange", correlation_id=obj.correlation_id
            )
            links["correlation_url"] = correlation_url(obj.correlation_id)
        return links

    def result_deliveries_url(self, row: AsyncRequest) -> str:
        """The relays of its results to the requester (`{prefix}/{id}/result/{n}`)."""
        prefix = ASYNC_RESULT_KEY_PREFIX.get(row.kind, row.kind.lower())
        return deliveries_url(MODULE_OF[AsyncKind(row.kind)], f"{prefix}/{row.pk}")

    # -- list -------------------------------------------------------------------------------

    @admin.display(description="requester → receiver")
    def route(self, row: AsyncRequest) -> str:
        return format_html(
            '<span title="{} → {}">{} → {}</span>',
            row.requester.name,
            row.receiver.name if row.receiver else "no platform",
            party_label(row.requester_country_code, row.requester_party_id),
            party_label(row.receiver_country_code, row.receiver_party_id),
        )

    @admin.display(description="state", ordering="state")
    def state_badge(self, row: AsyncRequest) -> str:
        return status_badge(row.state, row.get_state_display(), ASYNC_STATE_COLOURS)

    @admin.display(description="response (sync)")
    def response_result(self, row: AsyncRequest) -> str:
        """The CPO's CommandResponse / ChargingProfileResponse `result`, or why there is none."""
        body = row.response_body
        if not isinstance(body, dict):
            return "—"
        if body.get("result"):
            return str(body["result"])
        if body.get("hub_error"):
            return short(f"hub: {body['hub_error']}", 40)
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
        return duration_text(row.result_received_at - row.created_at)

    # -- change page ------------------------------------------------------------------------

    @admin.display(description="requester")
    def requester_link(self, row: AsyncRequest) -> str:
        return _party_on(row, "requester")

    @admin.display(description="receiver")
    def receiver_link(self, row: AsyncRequest) -> str:
        return _party_on(row, "receiver")

    @admin.display(description="session")
    def session_link(self, row: AsyncRequest) -> str:
        if not row.session_id:
            return "—"
        query = {"session_id": row.session_id.upper()}
        if row.receiver_country_code:
            query["party"] = party_label(row.receiver_country_code, row.receiver_party_id)
        return format_html(
            '<a href="{}">{}</a>', changelist_url("session", **query), row.session_id
        )

    @admin.display(description="location")
    def location_link(self, row: AsyncRequest) -> str:
        if not row.location_id:
            return "—"
        url = changelist_url(
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

    @admin.display(description="request body")
    def request_document(self, row: AsyncRequest) -> str:
        return pretty_json(row.request_body)

    @admin.display(description="response body")
    def response_document(self, row: AsyncRequest) -> str:
        return "—" if row.response_body is None else pretty_json(row.response_body)

    @admin.display(description="result body")
    def result_document(self, row: AsyncRequest) -> str:
        return "—" if row.result_body is None else pretty_json(row.result_body)

    @admin.display(description="later results")
    def later_document(self, row: AsyncRequest) -> str:
        return pretty_json(row.later_results) if row.later_results else "—"
