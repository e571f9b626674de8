"""Admin changelists at volume: counts that never scan a whole large table.

Django's changelist counts its (filtered) queryset on every page view, and with
`show_full_result_count` the whole table as well; on the exchange log or the outbox, millions
of rows, each page view is then a sequential scan. `EstimatedCountPaginator` answers instead:

- unfiltered (no WHERE clause): PostgreSQL's own estimate of the table's rows
  (`pg_class.reltuples`, kept by autovacuum/ANALYZE), when that is at least the exact-count
  limit; below it (a small table, or one never analysed) the bounded count below is exact;
- filtered, or on a database without such statistics (SQLite, the embedded default): a count
  bounded by `HUB_ADMIN_EXACT_COUNT_LIMIT` (`SELECT COUNT(*) FROM (... LIMIT n)`), exact below
  the limit and "at least the limit" above it, so a filter matching millions of rows still
  reads at most `n` index entries.

`LargeTableAdmin` also turns off facet counts (one COUNT per filter choice over the list) and
the total count; large tables use an indexed date range filter instead of `date_hierarchy`
(whose year list is a DISTINCT over the whole table).
"""

from functools import cached_property
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet

# Counts up to this many rows are exact; past it they are estimated (unfiltered) or capped.
DEFAULT_EXACT_COUNT_LIMIT = 10_000


def exact_count_limit() -> int:
    return int(getattr(settings, "HUB_ADMIN_EXACT_COUNT_LIMIT", DEFAULT_EXACT_COUNT_LIMIT))


def is_unfiltered(queryset: QuerySet[Any]) -> bool:
    """Whether the queryset counts as many rows as its table: no WHERE, no DISTINCT, no
    grouping, no slice, no set operation (joins of `select_related` follow foreign keys and
    do not change the row count)."""
    query = queryset.query
    return (
        not query.where
        and not query.distinct
        and query.group_by is None
        and query.combinator is None
        and not query.is_sliced
    )


def table_row_estimate(queryset: QuerySet[Any]) -> int | None:
    """PostgreSQL's estimate of the rows of the queryset's table, None where the database has
    no such statistic or the table was never analysed (reltuples -1 since PostgreSQL 14)."""
    connection = connections[queryset.db]
    if connection.vendor != "postgresql":
        return None
    table = connection.ops.quote_name(queryset.model._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute("SELECT reltuples FROM pg_class WHERE oid = to_regclass(%s)", [table])
        row = cursor.fetchone()
    if row is None or row[0] is None or row[0] < 0:
        return None
    return int(row[0])


def bounded_count(queryset: QuerySet[Any], limit: int) -> int:
    """The exact count up to `limit`, else `limit`: COUNT over a LIMITed subquery, unordered
    so that no sort runs before the limit."""
    return queryset.order_by()[:limit].count()


class EstimatedCountPaginator(Paginator):
    """A paginator whose count never scans a large table (see the module docstring).

    `count_is_exact` tells whether `count` is the true number of rows (False when it is an
    estimate or the cap)."""

    count_is_exact = True

    @cached_property
    def count(self) -> int:
        object_list = self.object_list
        if not isinstance(object_list, QuerySet):
            return super().count
        limit = exact_count_limit()
        if is_unfiltered(object_list):
            estimate = table_row_estimate(object_list)
            if estimate is not None and estimate >= limit:
                self.count_is_exact = False
                return estimate
        counted = bounded_count(object_list, limit)
        self.count_is_exact = counted < limit
        return counted


class LargeTableAdmin(admin.ModelAdmin):
    """A changelist over a table that grows without bound (logs, the outbox, OCPI data):
    estimated counts, no total count, no facet counts. Use an indexed date range filter
    (`admin.DateFieldListFilter` on an indexed column) instead of `date_hierarchy`."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    show_facets = admin.ShowFacets.NEVER


__all__ = [
    "EstimatedCountPaginator",
    "LargeTableAdmin",
    "bounded_count",
    "exact_count_limit",
    "is_unfiltered",
    "table_row_estimate",
]
