"""The operations dashboard on the admin index (hub.admin.dashboard, hub.services.operations):
its figures against seeded rows (inside and outside the hour), the links behind each figure
filtering the changelists to exactly those rows, a fixed number of queries whatever the number
of partners, and who sees it."""

import json
import re
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from django.contrib.auth.models import Group, User
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from hub.models import (
    CircuitState,
    ConnectionStatus,
    DeliveryStatus,
    OcpiExchange,
    Platform,
    PushDelivery,
)
from hub.services.operations import operations_overview
from tests.factories import (
    OcpiExchangeFactory,
    PlatformFactory,
    PushDeliveryFactory,
    ReceiverCircuitFactory,
)
from tests.hub.admin_pages import html

pytestmark = pytest.mark.django_db

INDEX = "/admin/"


def staff_client(*groups: str) -> Client:
    user = User.objects.create_user("staff-" + "-".join(groups or ("none",)), is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    client = Client()
    client.force_login(user)
    return client


def delivery(receiver: Platform, status: str, key: str, changed_ago: timedelta) -> PushDelivery:
    """A delivery whose status last changed `changed_ago` before now (`updated_at` is
    auto_now: written after the insert)."""
    row = PushDeliveryFactory(receiver=receiver, status=status, object_key=key)
    PushDelivery.objects.filter(pk=row.pk).update(updated_at=timezone.now() - changed_ago)
    return row


@pytest.fixture
def seeded(cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Any]:
    now = timezone.now()
    minute, hours = timedelta(minutes=1), timedelta(hours=2)
    emsp = emsp_platform
    # the eMSP's outbox: 2 pending, 1 failed and 1 dead in the hour, 1 of each before it,
    # and 2 delivered in the hour (latency 2 s and 4 s) plus one delivered before it
    delivery(emsp, DeliveryStatus.PENDING, "NL/ABC/P1", minute)
    delivery(emsp, DeliveryStatus.PENDING, "NL/ABC/P2", hours)  # pending: a backlog, any age
    delivery(emsp, DeliveryStatus.FAILED, "NL/ABC/F1", minute)
    delivery(emsp, DeliveryStatus.FAILED, "NL/ABC/F0", hours)
    delivery(emsp, DeliveryStatus.DEAD, "NL/ABC/D1", 10 * minute)
    delivery(emsp, DeliveryStatus.DEAD, "NL/ABC/D0", hours)
    for key, seconds in (("NL/ABC/OK1", 2), ("NL/ABC/OK2", 4)):
        PushDeliveryFactory(
            receiver=emsp,
            status=DeliveryStatus.DELIVERED,
            object_key=key,
            created_at=now - 5 * minute,
            delivered_at=now - 5 * minute + timedelta(seconds=seconds),
        )
    PushDeliveryFactory(
        receiver=emsp,
        status=DeliveryStatus.DELIVERED,
        object_key="NL/ABC/OLD",
        created_at=now - hours,
        delivered_at=now - hours + timedelta(seconds=60),
    )
    # another receiver's rows are not the eMSP's
    other = PlatformFactory(name="Other eMSP")
    delivery(other, DeliveryStatus.FAILED, "NL/ABC/F1", minute)
    ReceiverCircuitFactory(receiver=emsp, state=CircuitState.OPEN, consecutive_failures=5)
    # the CPO's exchanges: 3 fine, 3 errors (HTTP 500, OCPI 2001 in an HTTP 200, no answer),
    # one error before the hour
    three_min_ago = now - 3 * minute
    for _ in range(3):
        OcpiExchangeFactory(platform=cpo_platform, module="locations", created_at=three_min_ago)
    OcpiExchangeFactory(
        platform=cpo_platform, module="sessions", http_status=500, created_at=three_min_ago
    )
    OcpiExchangeFactory(
        platform=cpo_platform, module="sessions", ocpi_status=2001, created_at=three_min_ago
    )
    OcpiExchangeFactory(
        platform=cpo_platform,
        module="cdrs",
        http_status=None,
        ocpi_status=None,
        error="connect timeout",
        created_at=three_min_ago,
    )
    OcpiExchangeFactory(platform=cpo_platform, http_status=500, created_at=now - hours)
    Platform.objects.filter(pk=cpo_platform.pk).update(last_seen_at=now - minute)
    return {"cpo": cpo_platform, "emsp": emsp, "other": other}


def partner_rows(response: Any) -> dict[str, dict[str, Any]]:
    return {row["platform"].name: row for row in response.context["dashboard"]["partners"]}


def chart_data(response: Any) -> dict[str, Any]:
    match = re.search(
        r'<script id="dashboard-data" type="application/json">(.*?)</script>', html(response), re.S
    )
    assert match, "no chart data on the index"
    return dict(json.loads(match.group(1)))


def test_the_figures_count_the_hour_and_the_backlog(seeded: dict[str, Any]) -> None:
    overview = operations_overview()
    by_name = {p.platform.name: p for p in overview.partners}
    emsp, cpo = by_name["Blue eMSP Platform"], by_name["Acme CPO Platform"]
    assert (emsp.pending, emsp.failed, emsp.dead) == (2, 1, 1)
    assert emsp.circuit == CircuitState.OPEN
    assert emsp.delivered == 2
    assert emsp.latency_p50_ms == pytest.approx(3000.0)
    assert emsp.latency_p95_ms == pytest.approx(3900.0)
    assert (cpo.exchanges, cpo.errors) == (6, 3)
    assert cpo.error_rate == pytest.approx(0.5)
    assert cpo.circuit == CircuitState.CLOSED  # no circuit row yet: closed
    assert (cpo.pending, cpo.failed, cpo.dead) == (0, 0, 0)
    assert by_name["Other eMSP"].failed == 1
    # per minute and module: the hour's six CPO exchanges, in their minute
    assert {m: sum(c) for m, c in overview.exchanges_per_minute.items()} == {
        "locations": 3,
        "sessions": 2,
        "cdrs": 1,
    }
    assert 60 <= len(overview.minutes) <= 61


def test_the_index_shows_the_dashboard_and_the_grouped_models(
    admin_client: Client, seeded: dict[str, Any]
) -> None:
    response = admin_client.get(INDEX)
    assert response.status_code == 200
    page = html(response)
    assert "<title>Hub operations | OCPI hub admin</title>" in page
    assert "Partners in the last hour" in page
    assert '<script src="/static/hub/vendor/chart.umd.js"></script>' in page
    assert '<script src="/static/hub/dashboard.js"></script>' in page
    assert "cdn" not in page.lower()
    # the grouped model list is still there, below
    assert page.index("Partners in the last hour") < page.index("Exchange log")
    assert "Delivery" in page and "Push deliveries" in page
    rows = partner_rows(response)
    assert rows["Acme CPO Platform"]["error_rate"] == "50.0%"
    assert rows["Blue eMSP Platform"]["pending"] == 2
    data = chart_data(response)
    assert {row["module"]: sum(row["counts"]) for row in data["modules"]} == {
        "cdrs": 1,
        "locations": 3,
        "sessions": 2,
    }
    assert data["latency"]["receivers"] == ["Blue eMSP Platform"]
    assert data["latency"]["p95"] == [pytest.approx(3900.0)]


def result_count(client: Client, url: str) -> int:
    response = client.get(url)
    assert response.status_code == 200, url
    assert "e=1" not in response.get("Location", ""), url  # Django's "bad filter" redirect
    return len(response.context["cl"].result_list)


def test_each_figure_links_to_exactly_its_rows(
    admin_client: Client, seeded: dict[str, Any]
) -> None:
    rows = partner_rows(admin_client.get(INDEX))
    emsp, cpo = rows["Blue eMSP Platform"], rows["Acme CPO Platform"]
    for row in (emsp, cpo):
        for figure in ("pending", "failed", "dead", "exchanges", "errors", "delivered"):
            assert result_count(admin_client, row[f"{figure}_url"]) == row[figure], figure
    assert result_count(admin_client, emsp["failed_url"]) == 1
    failed = admin_client.get(emsp["failed_url"]).context["cl"].result_list
    assert {d.object_key for d in failed} == {"NL/ABC/F1"}  # not the older one, not Other's
    errors = admin_client.get(cpo["errors_url"]).context["cl"].result_list
    assert sorted(e.module for e in errors) == ["cdrs", "sessions", "sessions"]
    assert result_count(admin_client, emsp["circuit_url"]) == 2  # what the circuit holds back


def test_a_chart_bar_link_filters_the_log_to_its_module_and_minute(
    admin_client: Client, seeded: dict[str, Any]
) -> None:
    data = chart_data(admin_client.get(INDEX))
    sessions = next(row for row in data["modules"] if row["module"] == "sessions")
    slot = next(n for n, count in enumerate(sessions["counts"]) if count)
    since = data["minutes"][slot]
    until = (timezone.datetime.fromisoformat(since) + timedelta(minutes=1)).isoformat()
    # as the chart's script does: the bar's minute appended to the module's URL
    response = admin_client.get(sessions["url"] + "&" + urlencode({"since": since, "until": until}))
    assert {e.module for e in response.context["cl"].result_list} == {"sessions"}
    assert len(response.context["cl"].result_list) == sessions["counts"][slot] == 2
    # the minute after holds none of them
    later = admin_client.get(sessions["url"] + "&" + urlencode({"since": until}))
    assert len(later.context["cl"].result_list) == 0
    url = data["latency"]["urls"][0]
    assert result_count(admin_client, url) == 2


def test_a_bad_moment_in_a_link_finds_nothing(admin_client: Client, seeded: dict[str, Any]) -> None:
    response = admin_client.get("/admin/hub/ocpiexchange/", {"since": "yesterday"})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 0
    naive = admin_client.get("/admin/hub/pushdelivery/", {"changed_since": "2025-01-01T00:00:00"})
    assert len(naive.context["cl"].result_list) == 0


def test_the_dashboard_takes_the_same_queries_for_two_or_twelve_partners(
    admin_client: Client, seeded: dict[str, Any], django_assert_max_num_queries: Any
) -> None:
    admin_client.get(INDEX)  # warm the session and permission caches
    with CaptureQueriesContext(connection) as few:
        admin_client.get(INDEX)
    for n in range(10):
        platform = PlatformFactory(name=f"Partner {n}", status=ConnectionStatus.CONNECTED)
        delivery(platform, DeliveryStatus.FAILED, f"NL/ABC/X{n}", timedelta(minutes=1))
        OcpiExchangeFactory(platform=platform, http_status=500)
        ReceiverCircuitFactory(receiver=platform)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = admin_client.get(INDEX)
    assert len(response.context["dashboard"]["partners"]) == 13
    # the dashboard's own share: at most seven queries (six on PostgreSQL)
    with django_assert_max_num_queries(7):
        operations_overview()


def test_the_viewer_role_sees_the_dashboard(seeded: dict[str, Any]) -> None:
    response = staff_client("viewer").get(INDEX)
    assert response.status_code == 200
    assert "Partners in the last hour" in html(response)


def test_staff_without_view_permissions_see_no_dashboard(seeded: dict[str, Any]) -> None:
    response = staff_client().get(INDEX)
    assert response.status_code == 200
    assert "dashboard" not in response.context
    assert "Partners in the last hour" not in html(response)


def test_anonymous_get_the_login_page() -> None:
    response = Client().get(INDEX)
    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/")


def test_no_exchange_no_error_rate(cpo_platform: Platform) -> None:
    (row,) = operations_overview().partners
    assert row.exchanges == 0 and row.error_rate is None
    assert OcpiExchange.objects.count() == 0
