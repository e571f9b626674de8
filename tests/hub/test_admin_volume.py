"""The admin at volume: no changelist of a large table counts the whole table or lists its
years (date_hierarchy), on PostgreSQL (estimate from pg_class) and SQLite (bounded count)."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.admin.paging import EstimatedCountPaginator, is_unfiltered
from hub.models import OcpiExchange, Platform, PushAttempt, PushDelivery
from tests.factories import PushAttemptFactory, PushDeliveryFactory
from tests.hub.admin_pages import changelist

pytestmark = pytest.mark.django_db

# Every changelist over a table that grows with traffic.
LARGE_TABLES = (
    "ocpiexchange",
    "pushdelivery",
    "asyncrequest",
    "proxiedurl",
    "session",
    "cdr",
    "token",
    "tokenowner",
    "location",
    "tariff",
    "reconciliationfinding",
)

COUNT_RE = re.compile(r"\bCOUNT\(", re.IGNORECASE)


def make_exchanges(n: int, platform: Platform | None = None) -> None:
    OcpiExchange.objects.bulk_create(
        OcpiExchange(
            direction="IN",
            method="GET",
            url=f"http://127.0.0.1/ocpi/2.2.1/locations/{i}",
            module="locations",
            platform=platform,
            http_status=200,
            ocpi_status=1000,
        )
        for i in range(n)
    )


def unbounded_counts(queries: list[dict[str, Any]]) -> list[str]:
    """COUNT queries that are not over a LIMITed subquery: a scan of everything that
    matches."""
    return [q["sql"] for q in queries if COUNT_RE.search(q["sql"]) and "LIMIT" not in q["sql"]]


def hierarchy_scans(queries: list[dict[str, Any]], table: str) -> list[str]:
    """date_hierarchy's year list (a DISTINCT over a truncated date) and its MIN/MAX, over the
    large table itself (the small registry tables behind filter choices may be listed)."""
    return [
        q["sql"]
        for q in queries
        if f'FROM "{table}"' in q["sql"]
        and re.search(r"\bMIN\(|\bMAX\(|date_trunc|django_datetime_trunc", q["sql"], re.I)
    ]


def analyze(*models: Any) -> None:
    """Fresh planner statistics (what autovacuum keeps up to date in production)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            for model in models:
                cursor.execute(f'ANALYZE "{model._meta.db_table}"')


class TestNoFullCount:
    @pytest.mark.parametrize("model", LARGE_TABLES)
    def test_changelist_runs_no_unbounded_count_nor_date_hierarchy(
        self, admin_client: Client, model: str
    ) -> None:
        admin_client.get(changelist(model))  # warm the session and cached filter choices
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(changelist(model))
        assert response.status_code == 200
        assert unbounded_counts(ctx.captured_queries) == []
        model_admin = response.context["cl"].model_admin
        assert hierarchy_scans(ctx.captured_queries, model_admin.model._meta.db_table) == []
        assert model_admin.date_hierarchy is None
        assert model_admin.show_full_result_count is False

    def test_exchange_log_filtered_count_is_bounded_and_exact_below_the_limit(
        self, admin_client: Client, cpo_platform: Platform, settings: Any
    ) -> None:
        settings.HUB_ADMIN_EXACT_COUNT_LIMIT = 1000
        make_exchanges(7, cpo_platform)
        make_exchanges(3)
        with CaptureQueriesContext(connection) as ctx:
            response = admin_client.get(
                changelist("ocpiexchange"), {"platform__id__exact": str(cpo_platform.pk)}
            )
        assert response.context["cl"].result_count == 7
        counts = [q["sql"] for q in ctx.captured_queries if COUNT_RE.search(q["sql"])]
        assert counts, "the filtered list is counted"
        assert all("LIMIT 1000" in sql for sql in counts), counts

    def test_filtered_count_stops_at_the_limit(
        self, admin_client: Client, cpo_platform: Platform, settings: Any
    ) -> None:
        settings.HUB_ADMIN_EXACT_COUNT_LIMIT = 5
        make_exchanges(12, cpo_platform)
        response = admin_client.get(changelist("ocpiexchange"), {"direction": "IN"})
        cl = response.context["cl"]
        assert cl.result_count == 5
        assert cl.paginator.count_is_exact is False

    @pytest.mark.skipif(
        connection.vendor != "postgresql", reason="pg_class statistics are PostgreSQL's"
    )
    def test_unfiltered_count_is_postgresql_estimate_above_the_limit(
        self, admin_client: Client, cpo_platform: Platform, emsp_platform: Platform, settings: Any
    ) -> None:
        settings.HUB_ADMIN_EXACT_COUNT_LIMIT = 10
        make_exchanges(40, cpo_platform)
        for n in range(30):
            PushAttemptFactory(
                delivery=PushDeliveryFactory(receiver=emsp_platform, object_key=f"NL/ABC/L{n}")
            )
        analyze(OcpiExchange, PushDelivery, PushAttempt)
        for model, rows in (("ocpiexchange", 40), ("pushdelivery", 30)):
            with CaptureQueriesContext(connection) as ctx:
                response = admin_client.get(changelist(model))
            cl = response.context["cl"]
            assert cl.result_count == rows  # ANALYZE of a small table counts it exactly
            assert cl.paginator.count_is_exact is False
            assert any("pg_class" in q["sql"] for q in ctx.captured_queries)
            assert [q["sql"] for q in ctx.captured_queries if COUNT_RE.search(q["sql"])] == []

    def test_unfiltered_small_table_is_counted_exactly(
        self, admin_client: Client, cpo_platform: Platform
    ) -> None:
        """Below the limit (or never analysed, or SQLite) the bounded count is the truth."""
        make_exchanges(4, cpo_platform)
        cl = admin_client.get(changelist("ocpiexchange")).context["cl"]
        assert cl.result_count == 4
        assert cl.paginator.count_is_exact is True

    def test_date_range_filter_uses_the_indexed_column(
        self, admin_client: Client, cpo_platform: Platform
    ) -> None:
        make_exchanges(2, cpo_platform)
        now = timezone.now()
        day = timedelta(days=1)
        response = admin_client.get(
            changelist("ocpiexchange"),
            {"created_at__gte": str(now - day), "created_at__lt": str(now + day)},
        )
        assert response.status_code == 200
        assert response.context["cl"].result_count == 2
        long_ago = admin_client.get(
            changelist("ocpiexchange"),
            {"created_at__gte": str(now - 3 * day), "created_at__lt": str(now - 2 * day)},
        )
        assert long_ago.context["cl"].result_count == 0


class TestPaginatorUnits:
    def test_is_unfiltered(self) -> None:
        assert is_unfiltered(OcpiExchange.objects.select_related("platform"))
        assert not is_unfiltered(OcpiExchange.objects.filter(module="cdrs"))
        assert not is_unfiltered(OcpiExchange.objects.distinct())

    def test_a_list_is_counted_as_a_list(self) -> None:
        assert EstimatedCountPaginator([1, 2, 3], 2).count == 3

    def test_delivery_page_shows_only_the_latest_attempts(
        self, admin_client: Client, emsp_platform: Platform
    ) -> None:
        from hub.admin.delivery import INLINE_ATTEMPTS_LIMIT

        delivery = PushDeliveryFactory(receiver=emsp_platform)
        PushAttempt.objects.bulk_create(
            PushAttempt(delivery=delivery, method="PUT", url=f"http://127.0.0.1:9/{n}")
            for n in range(INLINE_ATTEMPTS_LIMIT + 5)
        )
        from tests.hub.admin_pages import change

        response = admin_client.get(change("pushdelivery", delivery.pk))
        assert response.status_code == 200
        formset = response.context["inline_admin_formsets"][0].formset
        assert len(formset.get_queryset()) == INLINE_ATTEMPTS_LIMIT
