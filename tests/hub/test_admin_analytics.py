"""The staff analytics page (hub.admin.analytics): rendered with its charts' script from the
hub's own static files and the data JSON, filtered by period and party, readable by the
read-only staff role and by nobody without `hub.view_analytics`."""

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from hub.models import Platform
from tests.factories import CdrFactory, EvseStatusChangeFactory, LocationFactory, evse
from tests.hub.admin_pages import html

pytestmark = pytest.mark.django_db

PAGE = "/admin/hub/analytics/"
MARCH = {"date_from": "2025-03-01", "date_to": "2025-03-04"}


def staff_client(*groups: str) -> Client:
    user = User.objects.create_user("staff-" + "-".join(groups or ("none",)), is_staff=True)
    for name in groups:
        user.groups.add(Group.objects.get(name=name))
    client = Client()
    client.force_login(user)
    return client


def data_json(response: Any) -> dict[str, Any]:
    """The JSON the charts read, from the page itself."""
    match = re.search(
        r'<script id="analytics-data" type="application/json">(.*?)</script>', html(response), re.S
    )
    assert match, "no data JSON on the page"
    return dict(json.loads(match.group(1)))


@pytest.fixture
def seeded(cpo_platform: Platform, emsp_platform: Platform) -> None:
    start = datetime(2025, 3, 2, 9, tzinfo=UTC)
    CdrFactory(cdr_id="C1", party=("NL", "ABC"), emsp=("DE", "EMS"), kwh="12.5", start=start,
               location_id="LOC1")  # fmt: skip
    CdrFactory(cdr_id="C2", party=("NL", "ZZZ"), emsp=("DE", "EMS"), kwh="7", start=start)
    loc = LocationFactory(party=("NL", "ABC"), location_id="LOC1", evses=[evse("E1", "CHARGING")])
    EvseStatusChangeFactory(location=loc, evse_uid="E1", status="CHARGING",
                            changed_at=datetime(2025, 3, 1, 12, tzinfo=UTC))  # fmt: skip


def test_the_page_renders_the_local_chart_script_and_the_data(
    admin_client: Client, seeded: None
) -> None:
    assert reverse("admin:hub-analytics") == PAGE
    response = admin_client.get(PAGE, MARCH)
    assert response.status_code == 200
    page = html(response)
    assert '<script src="/static/hub/vendor/chart.umd.js"></script>' in page
    assert '<script src="/static/hub/analytics.js"></script>' in page
    # every script, stylesheet and image comes from the hub itself (no CDN): no absolute or
    # protocol-relative URL in a src or href
    assert not re.findall(r'(?:src|href)="(?:[a-z]+:)?//', page, flags=re.IGNORECASE)
    data = data_json(response)
    # the whole hub: C1 and C2, both on 2 March (their end day)
    assert data["days"] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert data["cdr_sessions"] == [0, 2, 0]
    assert data["cdr_kwh"] == [0.0, 19.5, 0.0]
    # E1: unknown until 1 March 12:00, then charging: 60 of 72 hours
    assert data["locations"] == ["NL*ABC LOC1"]
    assert data["location_shares"]["CHARGING"] == [round(60 / 72, 4)]
    # and the tables beside the charts
    assert "The whole hub" in page
    assert "19.5000" in page
    assert "NL*ABC → DE*EMS" in page


def test_filtered_by_party_shows_that_party_in_its_role(admin_client: Client, seeded: None) -> None:
    response = admin_client.get(PAGE, {**MARCH, "party": "NL-ABC"})
    report = response.context["report"]
    assert [(p["party_id"], p["role"]) for p in report["parties"]] == [("ABC", "CPO")]
    assert report["parties"][0]["cdrs"]["kwh"] == "12.5000"
    assert data_json(response)["cdr_sessions"] == [0, 1, 0]
    assert "NL*ABC as CPO" in html(response)


def test_a_bad_period_is_said_and_nothing_is_drawn(admin_client: Client) -> None:
    response = admin_client.get(PAGE, {"date_from": "2025-03-04", "date_to": "2025-03-01"})
    assert response.status_code == 200
    assert "date_to: must be later than date_from" in html(response)
    assert 'id="analytics-data"' not in html(response)
    too_long = admin_client.get(PAGE, {"date_from": "2020-01-01", "date_to": "2025-03-01"})
    assert "at most 366 days" in html(too_long)
    unknown = admin_client.get(PAGE, {"party": "XX-NOP"})  # not a choice
    assert "report" not in unknown.context
    assert "Select a valid choice" in html(unknown)


def test_the_read_only_role_may_read_it_and_finds_it_on_the_index(seeded: None) -> None:
    viewer = staff_client("viewer")
    assert viewer.get(PAGE, MARCH).status_code == 200
    index = viewer.get(reverse("admin:index"))
    groups = {app["name"]: app for app in index.context["app_list"]}
    assert [m["admin_url"] for m in groups["Analytics"]["models"]][0] == PAGE
    assert f'href="{PAGE}"' in html(index)


def test_staff_without_the_permission_may_not(seeded: None) -> None:
    nobody = staff_client()
    assert nobody.get(PAGE).status_code == 403
    index = nobody.get(reverse("admin:index"))
    assert PAGE not in html(index)
    anonymous = Client().get(PAGE)
    assert anonymous.status_code == 302
    assert "/admin/login/" in anonymous["Location"]


def test_chart_js_is_served_locally_with_its_license() -> None:
    path = finders.find("hub/vendor/chart.umd.js")
    assert path, "Chart.js is not among the static files"
    head = Path(str(path)).read_text()[:200]
    assert head.startswith("/*!\n * Chart.js v4.")
    assert "Released under the MIT License" in head
    assert finders.find("hub/vendor/chart.js-LICENSE.md")
