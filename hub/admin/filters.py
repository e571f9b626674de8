"""The changelist filters Django does not give.

A field with `choices` needs no class here: `list_filter = ("status",)` lists its fixed values
without a scan; `admin.EmptyFieldListFilter` answers "has X / no X" on a column. What is left
filters on what no single column holds (a registry party, a document value, a status class, an
annotation, a subtree of object keys) or lists its choices without a DISTINCT over a large
table.
"""

import json
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, ClassVar

from django.contrib import admin
from django.core.cache import cache
from django.db import connections
from django.db.models import Count, Exists, OuterRef, Q, QuerySet, TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from hub.admin.display import OBJECT_TREE_PARAMETER
from hub.admin.mixins import party_q
from hub.models import DeliveryStatus, Evse, Location, PlatformRole, ReconciliationReport
from hub.modules import LOGGED_MODULES, OUTBOX_MODULES
from hub.schemas.enums import Status as EvseStatus
from hub.schemas.enums import WhitelistType
from hub.services.cdr_checks import FINDING_CODES
from hub.services.operations import exchange_error_q

# LOGGED_MODULES, OUTBOX_MODULES (the module table): fixed lists, because listing the distinct
# values would scan the whole exchange log or outbox.

# How long the top-cities filter choices are reused: a GROUP BY over every location.
CITY_CHOICES_CACHE_S = 600
CITY_CHOICES_CACHE_KEY = "hub.admin.location_top_cities"
TOP_CITIES = 15

# The delivery-state filter's choice for a CDR the outbox never had a row for.
NO_DELIVERY = "NONE"


class ValueListFilter(admin.SimpleListFilter):
    """An exact filter over a fixed list of values, for what has no `choices` of its own: the
    module columns and a value inside the document."""

    values: ClassVar[Sequence[str]]
    field: ClassVar[str]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, value) for value in self.values]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        return queryset.filter(**{self.field: value}) if value else queryset


class LoggedModuleFilter(ValueListFilter):
    title = "module"
    parameter_name = "module"
    field = "module"
    values: ClassVar[Sequence[str]] = LOGGED_MODULES


class OutboxModuleFilter(LoggedModuleFilter):
    values = OUTBOX_MODULES


class WhitelistFilter(ValueListFilter):
    """Inside the document (no column): a scan of the tokens left by the other filters."""

    title = "whitelist"
    parameter_name = "whitelist"
    field = "data__whitelist"
    values = WhitelistType.values


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


def status_class_filter(
    title: str, parameter_name: str, field: str, classes: Sequence[tuple[str, str, int, int]]
) -> type[StatusClassFilter]:
    """A StatusClassFilter over (key, label, first, end) classes of `field`."""
    attrs = {"title": title, "parameter_name": parameter_name, "field": field, "classes": classes}
    return type(f"{parameter_name.title()}StatusFilter", (StatusClassFilter,), attrs)


HttpStatusFilter = status_class_filter(
    "HTTP status",
    "http",
    "http_status",
    [(f"{n}xx", f"{n}xx", n * 100, n * 100 + 100) for n in (2, 3, 4, 5)],
)
# 2.2.1 status_codes: 1xxx success, 2xxx client, 3xxx server, 4xxx hub errors.
OcpiStatusFilter = status_class_filter(
    "OCPI status",
    "ocpi",
    "ocpi_status",
    [
        (f"{n}xxx", f"{n}xxx {label}", n * 1000, n * 1000 + 1000)
        for n, label in ((1, "success"), (2, "client error"), (3, "server error"), (4, "hub error"))
    ],
)


class RegistryPartyFilter(admin.SimpleListFilter):
    """Parties of the registry in `roles` (a small table, never a DISTINCT over the data),
    filtering the upper-cased key pair named by `prefix`; a party the registry no longer
    knows can still be filtered by URL."""

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
        party = party_q(value, (self.prefix,), upper_keys=True)
        return queryset.none() if party is None else queryset.filter(party)


def party_filter(
    title: str, parameter_name: str, roles: Sequence[str], prefix: str = ""
) -> type[RegistryPartyFilter]:
    """A RegistryPartyFilter over the parties of `roles`, on the key pair `prefix` names."""
    attrs = {"title": title, "parameter_name": parameter_name, "roles": tuple(roles)}
    return type(
        f"{parameter_name.title()}PartyFilter", (RegistryPartyFilter,), {**attrs, "prefix": prefix}
    )


class YesNoFilter(admin.SimpleListFilter):
    """A yes/no filter on a condition (`yes_q`) that is not "this column is empty"."""

    yes_q: ClassVar[Callable[[], Q]]

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("yes", "Yes"), ("no", "No")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "yes":
            return queryset.filter(type(self).yes_q())
        if self.value() == "no":
            return queryset.exclude(type(self).yes_q())
        return queryset


def yes_no_filter(title: str, parameter_name: str, yes_q: Callable[[], Q]) -> type[YesNoFilter]:
    attrs = {"title": title, "parameter_name": parameter_name, "yes_q": staticmethod(yes_q)}
    return type(f"{parameter_name.title().replace('_', '')}Filter", (YesNoFilter,), attrs)


ExpiredFilter = yes_no_filter("expired", "expired", lambda: Q(expires_at__lte=timezone.now()))
HasFindingsFilter = yes_no_filter("has findings", "has_findings", lambda: ~Q(findings=[]))
# Sessions or CDRs whose cdr_token names another owner than the eMSP that pushed the token
# itself (`token_owner_finding`, hub.services.routing.token_index).
TokenOwnerMismatchFilter = yes_no_filter(
    "token owner mismatch", "token_owner_mismatch", lambda: ~Q(token_owner_finding="")
)


def by_id(queryset: QuerySet[Any], value: str | None, field: str) -> QuerySet[Any]:
    """The rows whose `field` is the id `value` (none for a value that is no id)."""
    if not value:
        return queryset
    if not value.isdigit():
        return queryset.none()
    return queryset.filter(**{field: int(value)})


class ByUrlFilter(admin.SimpleListFilter):
    """A filter reached by a link from another page ("deliveries of this object", "credits of
    this CDR"): shown only while it is in use, since its choices would be every row."""

    def label(self, value: str) -> str:
        return value

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        value = self.value()
        return [(value, self.label(value))] if value else []


class ObjectTreeFilter(ByUrlFilter):
    """Deliveries of one object and of the objects within it (a location's EVSEs and
    connectors): `CC/PID/ID` and `CC/PID/ID/...`, but never `CC/PID/ID2`, which a bare
    `object_key__startswith` would also match."""

    title = "object"
    parameter_name = OBJECT_TREE_PARAMETER

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        key = self.value()
        if not key:
            return queryset
        return queryset.filter(Q(object_key=key) | Q(object_key__startswith=key + "/"))


class CreditOfFilter(ByUrlFilter):
    """The credit CDRs of one CDR (by primary key)."""

    title = "credits of"
    parameter_name = "credit_of"

    def label(self, value: str) -> str:
        return f"CDR #{value}"

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        return by_id(queryset, self.value(), "credit_of_id")


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


class FindingCodeFilter(admin.SimpleListFilter):
    """CDRs whose findings include a code. A JSON containment (`@>` on PostgreSQL's jsonb,
    index-friendly with a GIN index); where the backend has none (SQLite), a match of the
    `"code": "X"` pair in the stored JSON text (json.dumps spelling, so a code quoted inside a
    message, escaped there, does not match). Either way it scans the CDRs left by the other
    filters: narrow by party or period first on a large table."""

    title = "finding code"
    parameter_name = "finding_code"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        # The codes `hub.services.cdr_checks` records in `Cdr.findings` (one list, owned there).
        return [(code, code) for code in FINDING_CODES]

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
        return by_id(queryset, self.value(), "report_id")


class MomentFilter(ByUrlFilter):
    """Rows whose `lookup` (e.g. `created_at__gte`) holds for a moment given in the URL as an
    ISO 8601 date-time (the dashboard's "last hour" links); no rows for a value that is none."""

    lookup: ClassVar[str]

    @staticmethod
    def moment(value: str) -> datetime | None:
        """The value as an aware date-time, else None (a naive one names no instant)."""
        try:
            moment = parse_datetime(value)
        except ValueError:
            return None
        return moment if moment is not None and moment.tzinfo is not None else None

    def label(self, value: str) -> str:
        moment = self.moment(value)
        if moment is None:
            return f"{value} (not a date-time with an offset: nothing matches)"
        return timezone.localtime(moment).strftime("%Y-%m-%d %H:%M:%S %Z")

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        value = self.value()
        if not value:
            return queryset
        moment = self.moment(value)
        if moment is None:
            return queryset.none()
        return queryset.filter(**{self.lookup: moment})


def moment_filter(title: str, parameter_name: str, lookup: str) -> type[MomentFilter]:
    """A MomentFilter: `?<parameter_name>=<ISO date-time>` filters on `lookup`."""
    attrs = {"title": title, "parameter_name": parameter_name, "lookup": lookup}
    return type(f"{parameter_name.title().replace('_', '')}Filter", (MomentFilter,), attrs)


class ExchangeOutcomeFilter(admin.SimpleListFilter):
    """Succeeded (HTTP < 400 and OCPI 1000) or not: the dashboard's error rate."""

    title = "outcome"
    parameter_name = "outcome"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("ok", "succeeded"), ("error", "error (HTTP ≥ 400, OCPI ≠ 1000, no answer)")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "error":
            return queryset.filter(exchange_error_q())
        if self.value() == "ok":
            return queryset.exclude(exchange_error_q())
        return queryset
