"""Staff roles: each group sees and does exactly what it may; exports are logged and safe to
open in a spreadsheet; logins lock out after repeated failures (django-axes)."""

from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import reverse

from hub.models import (
    ConnectionStatus,
    DeliveryStatus,
    Platform,
    PushDelivery,
    ReconciliationReport,
    StaffExport,
)
from hub.services.staff import csv_safe
from tests.factories import (
    CdrFactory,
    PushDeliveryFactory,
    ReconciliationFindingFactory,
    ReconciliationReportFactory,
    registered_party,
)
from tests.hub.admin_pages import change, changelist, csv_rows

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery staple"  # noqa: S105 - test credentials


def staff(role: str) -> User:
    user = User.objects.create_user(f"{role}-user", password=PASSWORD, is_staff=True)
    user.groups.add(Group.objects.get(name=role))
    return user


def client_for(role: str) -> Client:
    client = Client()
    client.force_login(staff(role))
    return client


def actions_of(client: Client, model: str) -> set[str]:
    response = client.get(changelist(model))
    assert response.status_code == 200
    form = response.context["action_form"]
    if form is None:
        return set()
    return {name for name, _ in form.fields["action"].choices if name}


def post_action(client: Client, model: str, action: str, *objs: Any) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objs]}
    return client.post(changelist(model), data)


def operation(client: Client, platform: Platform, op: str) -> Any:
    url = reverse("admin:hub_platform_operation", args=[platform.pk, op])
    return client.post(url)


@pytest.fixture
def cpo_platform() -> Platform:
    return registered_party(role="CPO", country_code="NL", party_id="ABC", name="Acme CPO")[0]


@pytest.fixture
def emsp_platform() -> Platform:
    return registered_party(role="EMSP", country_code="DE", party_id="EMS", name="Blue eMSP")[0]


@pytest.fixture
def report(cpo_platform: Platform, emsp_platform: Platform) -> ReconciliationReport:

    created = ReconciliationReportFactory()
    ReconciliationFindingFactory(
        report=created, kind="MISSING", cdr_key="NL/ABC/=1+1", message="=HYPERLINK(x)"
    )
    return created


class TestGroups:
    def test_the_migration_ships_three_groups_with_dedicated_permissions(self) -> None:
        perms = {
            group.name: set(group.permissions.values_list("codename", flat=True))
            for group in Group.objects.filter(name__in=["viewer", "operator", "administrator"])
        }
        assert set(perms) == {"viewer", "operator", "administrator"}
        assert perms["viewer"] and all(p.startswith("view_") for p in perms["viewer"])
        assert perms["operator"] - perms["viewer"] == {
            "suspend_platform",
            "resend_pushdelivery",
            "cancel_pushdelivery",
            "export_cdr",
            "export_reconciliationreport",
        }
        assert {"rotate_platform", "unregister_platform", "add_user", "change_user"} <= perms[
            "administrator"
        ]


class TestViewer:
    def test_sees_everything_and_may_do_nothing(
        self, cpo_platform: Platform, emsp_platform: Platform, report: ReconciliationReport
    ) -> None:
        client = client_for("viewer")
        delivery = PushDeliveryFactory(receiver=emsp_platform, status=DeliveryStatus.FAILED)
        cdr = CdrFactory(owner=cpo_platform)
        for model in ("platform", "pushdelivery", "cdr", "ocpiexchange", "reconciliationreport"):
            assert client.get(changelist(model)).status_code == 200
        assert actions_of(client, "platform") == set()
        assert actions_of(client, "pushdelivery") == set()
        assert actions_of(client, "cdr") == set()
        # Posting an action anyway changes nothing and exports nothing.
        post_action(client, "pushdelivery", "resend_action", delivery)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.FAILED
        response = post_action(client, "cdr", "export_csv_action", cdr)
        assert response.get("Content-Type", "").startswith("text/csv") is False
        assert operation(client, cpo_platform, "suspend").status_code == 403
        cpo_platform.refresh_from_db()
        assert cpo_platform.status == ConnectionStatus.CONNECTED
        csv_url = reverse("admin:hub_reconciliationreport_findings_csv", args=[report.pk])
        assert client.get(csv_url).status_code == 403
        assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
        assert StaffExport.objects.count() == 0

    def test_platform_page_offers_no_operation(self, cpo_platform: Platform) -> None:
        response = client_for("viewer").get(change("platform", cpo_platform.pk))
        assert response.status_code == 200
        assert response.context.get("platform_operations") == []


class TestOperator:
    def test_resends_cancels_suspends_and_exports(
        self, cpo_platform: Platform, emsp_platform: Platform
    ) -> None:
        client = client_for("operator")
        assert actions_of(client, "pushdelivery") == {"resend_action", "cancel_action"}
        assert actions_of(client, "platform") == {"suspend_action", "reactivate_action"}
        assert actions_of(client, "cdr") == {"export_csv_action", "resend_dead_action"}
        pending = PushDeliveryFactory(receiver=emsp_platform, object_key="NL/ABC/P1")
        post_action(client, "pushdelivery", "cancel_action", pending)
        pending.refresh_from_db()
        assert pending.status == DeliveryStatus.CANCELLED
        failed = PushDeliveryFactory(
            receiver=emsp_platform, object_key="NL/ABC/F1", status=DeliveryStatus.FAILED
        )
        post_action(client, "pushdelivery", "resend_action", failed)
        failed.refresh_from_db()
        assert failed.status == DeliveryStatus.PENDING
        assert operation(client, cpo_platform, "suspend").status_code == 302
        cpo_platform.refresh_from_db()
        assert cpo_platform.status == ConnectionStatus.SUSPENDED

    def test_may_not_rotate_unregister_invite_or_manage_users(self, cpo_platform: Platform) -> None:
        client = client_for("operator")
        assert operation(client, cpo_platform, "rotate").status_code == 403
        assert operation(client, cpo_platform, "unregister").status_code == 403
        before = cpo_platform.outbound_token
        post_action(client, "platform", "unregister_action", cpo_platform)
        cpo_platform.refresh_from_db()
        assert cpo_platform.registered and cpo_platform.outbound_token == before
        assert client.get(reverse("admin:hub_platform_invite")).status_code == 403
        assert client.get(reverse("admin:auth_user_changelist")).status_code == 403
        page = client.get(change("platform", cpo_platform.pk)).context["platform_operations"]
        assert [op["label"] for op in page] == ["Suspend"]


class TestAdministrator:
    def test_everything_including_rotate_unregister_and_users(self, cpo_platform: Platform) -> None:
        client = client_for("administrator")
        assert {"rotate_action", "unregister_action", "invite_action"} <= actions_of(
            client, "platform"
        )
        labels = [
            op["label"]
            for op in client.get(change("platform", cpo_platform.pk)).context["platform_operations"]
        ]
        assert {"Rotate credentials", "Unregister", "Suspend"} <= set(labels)
        assert client.get(reverse("admin:auth_user_changelist")).status_code == 200
        assert client.get(reverse("admin:auth_user_add")).status_code == 200
        assert client.get(changelist("staffexport")).status_code == 200


class TestExports:
    def test_cdr_export_is_logged_and_formula_safe(self, cpo_platform: Platform) -> None:
        client = client_for("operator")
        evil = CdrFactory(
            owner=cpo_platform, cdr_id="=HYPERLINK(1)", session_id="@SUM(A1)", uid="+cmd|calc"
        )
        plain = CdrFactory(owner=cpo_platform, cdr_id="Cdr2", excl="-5.00")
        response = post_action(client, "cdr", "export_csv_action", evil, plain)
        assert response["Content-Type"].startswith("text/csv")
        rows = csv_rows(response)
        cells = [cell for row in rows[1:] for cell in row]
        assert not [cell for cell in cells if cell[:1] in "=+@\t\r" and cell]
        assert "'=HYPERLINK(1)" in cells or "'=HYPERLINK(1)".upper() in cells
        assert "'@SUM(A1)".upper() in {c.upper() for c in cells}
        assert "-5.0000" in cells or "-5.00" in cells  # a negative amount stays a number
        record = StaffExport.objects.get()
        assert record.username == "operator-user"
        assert record.what == "cdrs"
        assert record.rows == 2
        assert "2 ticked" in record.detail

    def test_findings_export_is_logged_and_formula_safe(self, report: ReconciliationReport) -> None:
        client = client_for("operator")
        url = reverse("admin:hub_reconciliationreport_findings_csv", args=[report.pk])
        response = client.get(url)
        assert response.status_code == 200
        rows = csv_rows(response)
        assert "'=HYPERLINK(x)" in rows[1]
        record = StaffExport.objects.get()
        assert (record.what, record.rows) == ("reconciliation findings", 1)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("=1+1", "'=1+1"),
            ("+1", "'+1"),
            ("-1+2", "'-1+2"),
            ("@A1", "'@A1"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("-12.50", "-12.50"),
            ("plain", "plain"),
            (-3, -3),
        ],
    )
    def test_csv_safe(self, value: Any, expected: Any) -> None:
        assert csv_safe(value) == expected


class TestLoginThrottling:
    def login(self, client: Client, password: str, ip: str = "198.51.100.7") -> Any:
        return client.post(
            reverse("admin:login"),
            {"username": "viewer-user", "password": password, "next": "/admin/"},
            REMOTE_ADDR=ip,
        )

    def test_locks_out_after_failures_per_username_and_address(self, settings: Any) -> None:
        staff("viewer")
        client = Client()
        for _ in range(settings.AXES_FAILURE_LIMIT):
            self.login(client, "wrong")
        locked = self.login(client, PASSWORD)
        assert locked.status_code in (403, 429)
        assert "_auth_user_id" not in client.session
        # The same username from another address is not locked out.
        other = Client()
        ok = self.login(other, PASSWORD, ip="203.0.113.9")
        assert ok.status_code == 302
        assert "_auth_user_id" in other.session

    def test_admin_session_is_short_and_ends_with_the_browser(self, settings: Any) -> None:
        assert settings.SESSION_COOKIE_AGE <= 8 * 3600
        assert settings.SESSION_EXPIRE_AT_BROWSER_CLOSE is True
        assert settings.AXES_LOCKOUT_PARAMETERS == [["username", "ip_address"]]


class TestDeliveriesUnchangedForViewers:
    def test_cancel_refused_leaves_pending(self, emsp_platform: Platform) -> None:
        delivery = PushDeliveryFactory(receiver=emsp_platform)
        post_action(client_for("viewer"), "pushdelivery", "cancel_action", delivery)
        assert PushDelivery.objects.get(pk=delivery.pk).status == DeliveryStatus.PENDING


def test_groups_command_restores_the_roles() -> None:
    from io import StringIO

    from django.core.management import call_command

    Group.objects.get(name="operator").permissions.clear()
    out = StringIO()
    call_command("hub_staff_groups", stdout=out)
    assert "operator:" in out.getvalue()
    assert Group.objects.get(name="operator").permissions.filter(codename="export_cdr").exists()
