"""Tokens as eMSPs pushed them, the token-owner index that routes by token, and sessions as
CPOs pushed them (read-only: their owners own them; the lists never load the documents)."""

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.db.models.fields.json import KT
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from hub.admin.display import changelist_url, document_text, party_column, party_label
from hub.admin.filters import TokenOwnerMismatchFilter, WhitelistFilter, party_filter
from hub.admin.mixins import (
    CorrelationLinkMixin,
    HubSearchMixin,
    OcpiObjectAdmin,
    ReadOnlyAdmin,
)
from hub.models import Cdr, Role, Session, Token, TokenOwner
from hub.modules import ModuleID

EMSP_PARTY = party_filter("party", "party", [Role.EMSP])
CPO_PARTY = party_filter("CPO party", "party", [Role.CPO])
# Sessions and CDRs carry their eMSP as the token owner's keys.
TOKEN_EMSP_PARTY = party_filter("eMSP party (token owner)", "emsp", [Role.EMSP], "token_")

# What a token is: its list columns and the top of its page.
TOKEN_SUMMARY = (
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


@admin.register(Token)
class TokenAdmin(OcpiObjectAdmin):
    """eMSPs' tokens as received (the eMSP owns them; the hub broadcasts them to CPOs). Never
    deleted by the eMSP, only invalidated (`valid=false`), so neither here. The list reads the
    document's fields from annotations and never loads the documents."""

    outbox_module = ModuleID.TOKENS
    list_display = (*TOKEN_SUMMARY, "deliveries_link")
    list_filter = (EMSP_PARTY, "type", "valid", WhitelistFilter, "owner")
    # The `token_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    # A party from the keys; a pasted uid or contract id from their indexes (keys are
    # upper-cased); only then fragments and the visual number, which scan.
    party_upper_keys = True
    search_help_text = (
        "A token uid or contract id (exact first, then a fragment), a visual number, or a "
        "party such as NL*ABC."
    )
    fieldsets = (
        (None, {"fields": TOKEN_SUMMARY}),
        (
            "Routing and deliveries",
            {"fields": ("token_owners", "deliveries_link", "sessions_link")},
        ),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
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

    def search_q(self, term: str) -> Q | None:
        return Q(uid=term.upper()) | Q(contract_id=term.upper())

    def search_rest(
        self, request: HttpRequest, queryset: QuerySet[Token], term: str
    ) -> tuple[QuerySet[Token], bool]:
        key = term.upper()
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
        return document_text(token, "uid_value", "uid")

    @admin.display(description="issuer")
    def issuer(self, token: Token) -> str:
        return document_text(token, "issuer_value", "issuer")

    @admin.display(description="visual number")
    def visual_number(self, token: Token) -> str:
        return document_text(token, "visual_number_value", "visual_number")

    @admin.display(description="whitelist")
    def whitelist(self, token: Token) -> str:
        return document_text(token, "whitelist_value", "whitelist")

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
                    party_label(row.country_code, row.party_id),
                    row.get_source_display(),
                    timezone.localtime(row.last_seen_at).strftime("%Y-%m-%d %H:%M:%S"),
                )
                for row in rows
            ),
        )
        url = changelist_url("tokenowner", uid=token.uid, type=token.type)
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
        url = changelist_url(
            "session", q=token.uid, emsp=party_label(token.country_code, token.party_id)
        )
        return format_html('<a href="{}">sessions with this token</a>', url)


@admin.register(TokenOwner)
class TokenOwnerAdmin(HubSearchMixin, ReadOnlyAdmin):
    """The token-owner index: which eMSP party owns a (uid, type), learned from the tokens
    module and every token seen in commands, sessions and CDRs. Read-only: it is what routes
    real-time authorization, commands, sessions and CDRs."""

    list_display = ("uid", "type", "owner_party", "source", "last_seen_at", "tokens_link")
    list_filter = ("source", "type")
    # The primary key follows creation and is indexed; last_seen_at is not.
    ordering = ("-pk",)
    party_prefixes = ("",)
    search_q_only = True
    list_per_page = 100
    search_help_text = "A token uid (exact, or its beginning), or an owner party (NL*ABC)."
    fields = ("uid", "type", "owner_party", "source", "last_seen_at", "tokens_link")

    def search_q(self, term: str) -> Q | None:
        return Q(uid__startswith=term.upper())

    owner_party = party_column("", "owner party")

    @admin.display(description="tokens")
    def tokens_link(self, row: TokenOwner) -> str:
        """The stored tokens with this uid and type (from the tokens module, if it sent any)."""
        url = changelist_url("token", uid=row.uid, type=row.type)
        return format_html('<a href="{}">tokens</a>', url)


def token_owner_finding(obj: Session | Cdr) -> str:
    if not obj.token_owner_finding:
        return "—"
    return format_html(
        '<span style="color:#c62828" title="cdr_token names {}; the token was pushed by {}">'
        "issued by {}</span>",
        party_label(obj.token_country_code, obj.token_party_id),
        obj.token_owner_finding,
        obj.token_owner_finding,
    )


@admin.register(Session)
class SessionAdmin(CorrelationLinkMixin, OcpiObjectAdmin):
    """CPOs' sessions as received, each routed to the eMSP owning its `cdr_token` (never
    broadcast). Read-only: the CPO owns them. The list never loads the documents."""

    outbox_module = ModuleID.SESSIONS
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
        "status",
        CPO_PARTY,
        TOKEN_EMSP_PARTY,
        "owner",
        TokenOwnerMismatchFilter,
    )
    # The `session_page` index, newest first.
    ordering = ("-last_updated", "-pk")
    # Exact matches only: ids are pasted, and a fragment search over every session's document
    # would be a slow scan. The keys are upper-cased; the token's uid and contract id are
    # compared inside the document (JSON key lookups, case-insensitive).
    party_prefixes = ("", "token_")
    party_upper_keys = True
    search_q_only = True
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
                    "correlation_link",
                )
            },
        ),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("period_count", "document")}),
    )

    def get_queryset(self, request: HttpRequest) -> QuerySet[Session]:
        return super().get_queryset(request).defer("data").annotate(ocpi_id_value=KT("data__id"))

    def search_q(self, term: str) -> Q | None:
        key = term.upper()
        return (
            Q(session_id=key)
            | Q(location_id=key)
            | Q(data__cdr_token__uid__iexact=term)
            | Q(data__cdr_token__contract_id__iexact=term)
        )

    party = party_column("", "CPO party")

    def object_key(self, session: Session) -> str:
        """`CC/PID/SESSION_ID`, as `hub.services.sessions.session_key` writes it."""
        return f"{session.country_code}/{session.party_id}/{session.session_id}".upper()

    @admin.display(description="session id", ordering="session_id")
    def ocpi_id(self, session: Session) -> str:
        """The id as the CPO spelled it (the key column is upper-cased)."""
        return str(getattr(session, "ocpi_id_value", None) or session.session_id)

    emsp_party = party_column("token_", "eMSP (token owner)")

    @admin.display(description="token owner mismatch", ordering="token_owner_finding")
    def token_owner_mismatch(self, session: Session) -> str:
        return token_owner_finding(session)

    @admin.display(description="location")
    def location_link(self, session: Session) -> str:
        if not session.location_id:
            return "—"
        url = changelist_url(
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
        url = changelist_url(
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
        url = changelist_url("asyncrequest", session_id__iexact=session.session_id)
        return format_html('<a href="{}">requests about this session</a>', url)

    @admin.display(description="charging periods")
    def period_count(self, session: Session) -> int:
        periods = session.data.get("charging_periods") if isinstance(session.data, dict) else None
        return len(periods) if isinstance(periods, list) else 0
