"""Locations and tariffs as CPOs published them (read-only: the CPO owns them)."""

from collections import Counter
from typing import ClassVar

from django.contrib import admin
from django.db.models import Exists, OuterRef, Prefetch, Q, QuerySet
from django.db.models.fields.json import KT
from django.http import HttpRequest

from hub.admin.filters import CityFilter, EvseStatusFilter, party_filter
from hub.admin.mixins import OcpiObjectAdmin, ReadOnlyInline
from hub.models import Evse, Location, Role, Tariff
from hub.modules import ModuleID

# The CPO parties of the registry (locations and tariffs are keyed by them).
CPO_PARTY = party_filter("party", "party", [Role.CPO])

# What a location is: the first list columns and the top of its page.
LOCATION_SUMMARY = ("party", "ocpi_id", "name", "city", "country", "publish")


class EvseInline(ReadOnlyInline):
    """The EVSE read model of the location (rewritten on every write of the document)."""

    model = Evse
    fields = ("uid", "evse_id", "status", "last_updated")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Evse]:
        # Meta orders by location first, which would join the locations for nothing.
        return super().get_queryset(request).order_by("uid")


@admin.register(Location)
class LocationAdmin(OcpiObjectAdmin):
    """Locations as CPOs published them. The list never loads the documents (they can be
    large); EVSE counts and statuses come from one prefetch of the EVSE rows per page."""

    outbox_module = ModuleID.LOCATIONS
    list_display = (
        *LOCATION_SUMMARY,
        "evse_count",
        "evse_summary",
        "last_updated",
        "owner_link",
        "deliveries_link",
    )
    list_filter = (CPO_PARTY, "publish", CityFilter, EvseStatusFilter, "owner")
    ordering = ("-last_updated", "-pk")
    search_fields = ("location_id", "name", "city", "evse_rows__evse_id", "evse_rows__uid")
    search_help_text = "Location id, name, city, EVSE id or uid, or a party such as NL*ABC."
    inlines: ClassVar = [EvseInline]
    fieldsets = (
        (
            None,
            {
                "fields": (
                    *LOCATION_SUMMARY,
                    "last_updated",
                    "owner_link",
                )
            },
        ),
        ("EVSEs and deliveries", {"fields": ("evse_summary", "deliveries_link")}),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
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

    # EVSE ids are matched with an EXISTS, so the list needs no DISTINCT.
    search_q_only = True

    def search_q(self, term: str) -> Q | None:
        evses = Evse.objects.filter(location_id=OuterRef("pk")).filter(
            Q(evse_id__icontains=term) | Q(uid__iexact=term)
        )
        return (
            Q(location_id__icontains=term)
            | Q(name__icontains=term)
            | Q(city__icontains=term)
            | Q(Exists(evses))
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


@admin.register(Tariff)
class TariffAdmin(OcpiObjectAdmin):
    """Tariffs as CPOs published them, deleted ones included (their tombstones are still
    delivered and still price CDRs)."""

    outbox_module = ModuleID.TARIFFS
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
    list_filter = (
        CPO_PARTY,
        "currency",
        ("deleted_at", admin.EmptyFieldListFilter),
        "owner",
    )
    ordering = ("-last_updated", "-pk")
    search_fields = ("tariff_id", "currency")
    search_help_text = "Tariff id, currency, or a party such as NL*ABC."
    fieldsets = (
        (None, {"fields": list_display}),
        ("Stored", {"fields": ("created_at", "updated_at")}),
        ("OCPI document", {"fields": ("document",)}),
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
