"""The admin as staff use it, in headless Chromium (tests/browser/conftest.py): logging in,
the operations dashboard with its charts and links, the partner list, resending a dead
delivery, the correlation trail, and a CDR export downloaded as a file. Each test takes a
screenshot into reports/screenshots/."""

import csv
from datetime import timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import Group, User
from django.utils import timezone
from selenium.webdriver.support.ui import Select

from hub.models import DeliveryStatus, PushDelivery, StaffExport
from hub.services.staff import OPERATOR, VIEWER
from tests.browser.conftest import PASSWORD, Page
from tests.factories import (
    CdrFactory,
    OcpiExchangeFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
    registered_party,
)


def staff_user(username: str, group: str) -> User:
    user = User.objects.create_user(username, password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=group))
    return user


def test_login_then_the_dashboard_with_its_charts_and_links(page: Page) -> None:
    cpo, _ = registered_party("CPO", "NL", "ABC", name="Acme CPO Platform")
    emsp, _ = registered_party("EMSP", "DE", "EMS", name="Blue eMSP Platform")
    PushDeliveryFactory(receiver=emsp, status=DeliveryStatus.FAILED, object_key="NL/ABC/F1")
    PushDeliveryFactory(
        receiver=emsp,
        status=DeliveryStatus.DELIVERED,
        object_key="NL/ABC/OK",
        created_at=timezone.now() - timedelta(seconds=3),
        delivered_at=timezone.now(),
    )
    OcpiExchangeFactory(platform=cpo, module="locations")
    OcpiExchangeFactory(platform=cpo, module="sessions", http_status=500)
    staff_user("viewer-1", VIEWER)

    page.open("/admin/")
    page.wait_for("#id_username")
    assert page.path().startswith("/admin/login/")  # anonymous: the login page
    page.log_in("viewer-1")
    page.wait_for("#dashboard-partners")
    assert "Partners in the last hour" in page.text()
    # both charts drawn by the vendored Chart.js
    drawn = page.driver.execute_script(
        "return ['chart-exchanges', 'chart-latency'].map(function (id) {"
        " return !!Chart.getChart(document.getElementById(id)); });"
    )
    assert drawn == [True, True]
    # the grouped model list is still there (group captions are upper-cased by the CSS)
    assert "exchange log" in page.text().lower()
    page.screenshot("dashboard")
    # the eMSP's failed figure opens the outbox filtered to that delivery
    row = page.find(f'#dashboard-partners tr[data-platform="{emsp.pk}"]')
    failed = row.find_element("css selector", "a.figure-failed")
    assert failed.text == "1"
    failed.click()
    page.wait_for("#result_list")
    assert page.path().startswith("/admin/hub/pushdelivery/")
    assert len(page.find_all("#result_list tbody tr")) == 1
    assert "NL/ABC/F1" in page.find("#result_list").text


def test_the_partner_list(page: Page) -> None:
    registered_party("CPO", "NL", "ABC", name="Acme CPO Platform")
    registered_party("EMSP", "DE", "EMS", name="Blue eMSP Platform")
    staff_user("viewer-2", VIEWER)
    page.log_in("viewer-2")
    page.open("/admin/hub/platform/")
    table = page.wait_for("#result_list")
    assert "Acme CPO Platform" in table.text and "Blue eMSP Platform" in table.text
    page.screenshot("partners")


def test_an_operator_resends_a_dead_delivery(page: Page) -> None:
    emsp, _ = registered_party("EMSP", "DE", "EMS", name="Blue eMSP Platform")
    dead = PushDeliveryFactory(
        receiver=emsp, status=DeliveryStatus.DEAD, module="cdrs", object_key="NL/ABC/CDR1",
        operation="POST", attempts=9, last_error="HTTP 503",
    )  # fmt: skip
    staff_user("operator-1", OPERATOR)
    page.log_in("operator-1")
    page.open(f"/admin/hub/pushdelivery/?status__exact={DeliveryStatus.DEAD}")
    page.wait_for("#result_list")
    page.click(f'input.action-select[value="{dead.pk}"]')
    Select(page.find("select[name=action]")).select_by_value("resend_action")
    page.click("button[name=index]")
    message = page.wait_for("ul.messagelist li")
    page.screenshot("resend")
    assert "1" in message.text
    dead.refresh_from_db()
    assert dead.status == DeliveryStatus.PENDING
    assert PushDelivery.objects.filter(status=DeliveryStatus.DEAD).count() == 0


def test_the_correlation_trail_from_a_delivery(page: Page) -> None:
    emsp, _ = registered_party("EMSP", "DE", "EMS", name="Blue eMSP Platform")
    OcpiExchangeFactory(
        platform=emsp, correlation_id="flow-browser-1", method="POST", module="commands",
        created_at=timezone.now() - timedelta(seconds=5),
    )  # fmt: skip
    delivery = PushDeliveryFactory(
        receiver=emsp, correlation_id="flow-browser-1", status=DeliveryStatus.FAILED
    )
    PushAttemptFactory(delivery=delivery)
    staff_user("viewer-3", VIEWER)
    page.log_in("viewer-3")
    page.open(f"/admin/hub/pushdelivery/{delivery.pk}/change/")
    page.wait_for('a[href="/admin/hub/correlation/?id=flow-browser-1"]').click()
    page.wait_for("#correlation-trail")
    kinds = [row.text for row in page.find_all("#correlation-trail tbody td:nth-child(2)")]
    assert kinds == ["exchange Partner → hub", "delivery", "attempt"]
    page.screenshot("correlation")


def test_an_operator_exports_cdrs_as_csv(page: Page, downloads: Path) -> None:
    for name in downloads.iterdir():
        name.unlink()
    CdrFactory(cdr_id="CDR-B1", party=("NL", "ABC"), emsp=("DE", "EMS"))
    CdrFactory(cdr_id="CDR-B2", party=("NL", "ABC"), emsp=("DE", "EMS"))
    staff_user("operator-2", OPERATOR)
    page.log_in("operator-2")
    page.open("/admin/hub/cdr/")
    page.wait_for("#result_list")
    page.click("#action-toggle")  # every CDR on the page
    Select(page.find("select[name=action]")).select_by_value("export_csv_action")
    page.screenshot("export")
    page.click("button[name=index]")

    def finished(_: Any) -> Path | None:
        done = list(downloads.glob("cdrs-*.csv"))
        return done[0] if done else None

    path = page.wait_until(finished)
    with path.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0][:3] == ["country_code", "party_id", "cdr_id"]
    assert sorted(row[2] for row in rows[1:]) == ["CDR-B1", "CDR-B2"]
    export = StaffExport.objects.get()
    assert (export.username, export.what, export.rows) == ("operator-2", "cdrs", 2)
