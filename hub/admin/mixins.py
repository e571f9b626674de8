"""What the hub's ModelAdmins share: read-only tables, the hub's search, named permissions,
correlation links, bounded inlines, and the base of the stored OCPI objects."""

import re
from collections.abc import Callable
from typing import Any, ClassVar

from django.contrib import admin
from django.contrib.admin.utils import flatten_fieldsets
from django.db.models import Q, QuerySet
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.utils.html import format_html

from hub.admin.display import (
    correlation_link,
    deliveries_url,
    party_column,
    platform_column,
    pretty_json,
)
from hub.admin.paging import LargeTableAdmin

# "NL*ABC", "nl-abc", "NL ABC": how staff write a party; searched as (country_code, party_id).
PARTY_SEARCH_RE = re.compile(r"^\s*([A-Za-z]{2})\s*[*\-\s]?\s*([A-Za-z0-9]{3})\s*$")


def party_q(search_term: str, prefixes: tuple[str, ...], *, upper_keys: bool) -> Q | None:
    """The rows whose key pair named by any of `prefixes` is the party a search term is
    written as ("NL*ABC"), else None. `upper_keys`: the columns hold upper-cased keys (the
    hub's OCPI data), matched exactly so that an index on the pair serves it; otherwise
    (the registry, as partners spelled it) case-insensitively."""
    match = PARTY_SEARCH_RE.match(search_term)
    if match is None or not prefixes:
        return None
    country_code, party_id = match.group(1), match.group(2)
    if upper_keys:
        country_code, party_id = country_code.upper(), party_id.upper()
    lookup = "" if upper_keys else "__iexact"
    found = Q()
    for prefix in prefixes:
        found |= Q(
            **{
                f"{prefix}country_code{lookup}": country_code,
                f"{prefix}party_id{lookup}": party_id,
            }
        )
    return found


def permission(codename: str) -> Callable[[Any, HttpRequest], bool]:
    """A `has_<name>_permission` method for an action with a permission of its own (staff
    roles, `hub.services.staff`): whether the user holds `hub.<codename>`."""

    def has_permission(self: Any, request: HttpRequest) -> bool:
        return bool(request.user.has_perm(f"hub.{codename}"))

    has_permission.__doc__ = f"Whether the user holds hub.{codename}."
    return has_permission


class ReadOnlyMixin:
    """Nothing added, changed or deleted through the admin: data the hub holds for others,
    records itself, or changes only through its services. Every field shown is read-only, so
    no form field is ever built (display methods may be listed as fields)."""

    def get_readonly_fields(
        self, request: HttpRequest, obj: Any = None
    ) -> list[str] | tuple[str, ...]:
        fieldsets = getattr(self, "fieldsets", None)
        if fieldsets:
            return flatten_fieldsets(fieldsets)
        return tuple(getattr(self, "fields", None) or ())

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class ReadOnlyAdmin(ReadOnlyMixin, LargeTableAdmin):
    """Viewable, never edited here. These tables grow with traffic, so their changelists
    never count them whole."""

    def change_page_links(self, request: HttpRequest, obj: Any) -> dict[str, str]:
        """URLs the change page template shows as links beside the object (template names)."""
        return {}

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
            context.update(self.change_page_links(request, obj))
        return super().render_change_form(request, context, add, change, form_url, obj)


class ReadOnlyInline(ReadOnlyMixin, admin.TabularInline):
    extra = 0
    can_delete = False


def bounded_formset(limit: int) -> type[BaseInlineFormSet]:
    """An inline formset showing the first `limit` rows only: an inline has no pagination,
    and some parents have thousands of children (a poison delivery's attempts)."""

    class BoundedFormSet(BaseInlineFormSet):
        def get_queryset(self) -> QuerySet[Any]:
            if not hasattr(self, "_bounded"):
                self._bounded = super().get_queryset()[:limit]
            return self._bounded

    return BoundedFormSet


class HubSearchMixin:
    """The changelist search in the hub's terms, in this order:

    1. a party ("NL*ABC") on the key pairs `party_prefixes` names;
    2. `search_q`, the precise rows a pasted id or key names (indexed lookups): alone when
       `search_q_only` (a fragment search would scan a large table), else only if it finds
       something;
    3. `search_rest`: by default Django's search over `search_fields`.
    """

    party_prefixes: ClassVar[tuple[str, ...]] = ()
    # The key pairs hold upper-cased keys (the hub's stored OCPI objects); False: the
    # registry's spelling, matched case-insensitively.
    party_upper_keys: ClassVar[bool] = True
    # The pairs are reached through a to-many join (a platform's roles).
    party_distinct: ClassVar[bool] = False
    # A party-shaped term may also be an id (a five-character id, "sess3", reads as SE*SS3).
    party_or_ids: ClassVar[bool] = False
    search_q_only: ClassVar[bool] = False

    def search_q(self, term: str) -> Q | None:
        """The rows a pasted id names; None when the term cannot be one."""
        return None

    def search_rest(
        self, request: HttpRequest, queryset: QuerySet[Any], term: str
    ) -> tuple[QuerySet[Any], bool]:
        return super().get_search_results(request, queryset, term)  # type: ignore[misc,no-any-return]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Any], search_term: str
    ) -> tuple[QuerySet[Any], bool]:
        term = search_term.strip()
        if not term:
            return queryset, False
        party = party_q(term, self.party_prefixes, upper_keys=self.party_upper_keys)
        exact = self.search_q(term)
        if party is not None:
            if self.party_or_ids and exact is not None:
                party |= exact
            found = queryset.filter(party)
            return (found.distinct() if self.party_distinct else found), False
        if exact is not None:
            found = queryset.filter(exact)
            if self.search_q_only or found.exists():
                return found, False
        return self.search_rest(request, queryset, term)


class CorrelationLinkMixin:
    @admin.display(description="correlation id", ordering="correlation_id")
    def correlation_link(self, obj: Any) -> str:
        return correlation_link(obj.correlation_id)


class OcpiObjectAdmin(HubSearchMixin, ReadOnlyAdmin):
    """A stored OCPI object as its owner sent it: read-only (the owner owns it; a change here
    would never reach the receivers), with a way to its outbox rows: "did it reach eMSP Y,
    and if not, why?"."""

    change_form_template = "admin/hub/ocpi_object/change_form.html"
    outbox_module: ClassVar[str]
    list_select_related = ("owner",)
    list_per_page = 100
    party_prefixes: ClassVar[tuple[str, ...]] = ("",)
    party_upper_keys = False

    def object_key(self, obj: Any) -> str:
        raise NotImplementedError

    party = party_column("", "party")

    owner_link = platform_column("owner", "owner")

    @admin.display(description="deliveries")
    def deliveries_link(self, obj: Any) -> str:
        url = deliveries_url(self.outbox_module, self.object_key(obj))
        return format_html('<a href="{}">deliveries</a>', url)

    @admin.display(description="document")
    def document(self, obj: Any) -> str:
        return pretty_json(obj.data)

    def change_page_links(self, request: HttpRequest, obj: Any) -> dict[str, str]:
        return {"deliveries_url": deliveries_url(self.outbox_module, self.object_key(obj))}
