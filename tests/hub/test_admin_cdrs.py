"""The CDR and reconciliation admin: pages render with data, filters answer "which of NL*ABC's
CDRs to DE*EMS were mispriced or never arrived?", the CSV exports carry the right rows, the
dead-letter resend goes through the outbox service, and everything stays read-only."""

from datetime import date
from typing import Any
from unittest import mock

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hub.admin.cdrs import INLINE_FINDINGS_LIMIT
from hub.admin.exports import CDR_CSV_COLUMNS
from hub.models import (
    Cdr,
    DeliveryStatus,
    Platform,
    PriceCheck,
    PushDelivery,
    ReconciliationFinding,
    ReconciliationReport,
)
from hub.tasks import deliver_money_task
from tests.factories import (
    CdrFactory,
    PushDeliveryFactory,
    ReconciliationFindingFactory,
    ReconciliationReportFactory,
    registered_party,
)
from tests.hub.admin_pages import change, changelist, csv_rows, html, results

pytestmark = pytest.mark.django_db


def run_action(client: Client, model: str, action: str, *objs: Model, follow: bool = True) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [o.pk for o in objs]}
    return client.post(changelist(model), data, follow=follow)


@pytest.fixture
def cdrs(cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Cdr]:
    """A matched and delivered CDR, a mispriced dead-lettered one with findings, an unpriced
    one never delivered for another eMSP, and a credit of the first."""
    other_emsp, _ = registered_party(role="EMSP", country_code="FR", party_id="OTH")
    ok = CdrFactory(
        owner=cpo_platform,
        cdr_id="Cdr-ok",
        price_check=PriceCheck.MATCH,
        computed={"total_cost": {"excl_vat": "10.0000", "incl_vat": "12.1000"}},
    )
    bad = CdrFactory(
        owner=cpo_platform,
        cdr_id="Cdr-bad",
        uid="uid-2",
        session_id="Sess2",
        excl="99.00",
        incl="119.79",
        price_check=PriceCheck.MISMATCH,
        computed={"total_cost": {"excl_vat": "10.0000", "incl_vat": "12.1000"}},
        findings=[
            {"code": "COST_SUM", "message": "sub-costs (excl_vat) sum to 10, total is 99"},
            {"code": "ENERGY_SUM", "message": "dimensions sum to 19 kWh, total_energy is 20.5"},
        ],
    )
    other = CdrFactory(
        owner=cpo_platform,
        cdr_id="Cdr-other",
        emsp=("FR", "OTH"),
        uid="uid-3",
        session_id="Sess3",
        findings=[{"code": "TARIFF_MISSING", "message": 'no tariff (not "COST_SUM")'}],
    )
    credit = CdrFactory(
        owner=cpo_platform,
        cdr_id="Cdr-credit",
        excl="-10.00",
        incl="-12.10",
        credit=True,
        credit_of=ok,
        session_id="Sess1",
    )
    PushDeliveryFactory.of_cdr(
        ok, receiver=emsp_platform, status=DeliveryStatus.DELIVERED, expired=True
    )
    PushDeliveryFactory.of_cdr(
        bad,
        receiver=emsp_platform,
        status=DeliveryStatus.DEAD,
        expired=True,
        last_error="retry window passed: HTTP 503",
    )
    PushDeliveryFactory.of_cdr(
        credit, receiver=emsp_platform, status=DeliveryStatus.PENDING, expired=True
    )
    assert other_emsp
    return {"ok": ok, "bad": bad, "other": other, "credit": credit}


@pytest.fixture
def report(cdrs: dict[str, Cdr]) -> ReconciliationReport:
    created = ReconciliationReportFactory(
        finished_at=timezone.now(),
        totals={
            "cdrs": 2,
            "credits": 1,
            "kwh": "41.0000",
            "cost": {"EUR": {"excl_vat": "99.0000", "incl_vat": "119.7900"}},
            "incl_vat_missing": 0,
        },
        counts={"DEAD_LETTER": 1, "MISPRICED": 1, "MISSING": 0},
    )
    ReconciliationFindingFactory(
        report=created,
        kind="DEAD_LETTER",
        cdr=cdrs["bad"],
        cdr_key="NL/ABC/CDR-BAD",
        message="Delivery to DE*EMS is dead-lettered",
    )
    ReconciliationFindingFactory(
        report=created,
        kind="MISPRICED",
        cdr=cdrs["bad"],
        cdr_key="NL/ABC/CDR-BAD",
        message="Reported 99.0000, computed 10.0000",
        detail={"reported": "99.0000", "computed": "10.0000"},
    )
    return created


class TestCdrPages:
    def test_changelist_renders_the_columns(
        self, admin_client: Client, cdrs: dict[str, Cdr]
    ) -> None:
        response = admin_client.get(changelist("cdr"))
        assert response.status_code == 200
        page = html(response)
        for text in ("Cdr-bad", "NL*ABC", "DE*EMS", "FR*OTH", "99.0000", "10.0000 / 12.1000"):
            assert text in page
        assert "background:#c62828" in page  # MISMATCH
        assert "background:#2e7d32" in page  # MATCH / DELIVERED
        assert "background:#4e342e" in page  # DEAD
        assert 'title="COST_SUM, ENERGY_SUM"' in page

    def test_change_page_shows_findings_costs_and_links(
        self, admin_client: Client, cdrs: dict[str, Cdr]
    ) -> None:
        response = admin_client.get(change("cdr", cdrs["bad"].pk))
        assert response.status_code == 200
        page = html(response)
        assert "<code>COST_SUM</code>: sub-costs (excl_vat) sum to 10, total is 99" in page
        assert "reported (CPO)" in page and "computed (hub)" in page
        assert "&quot;session_id&quot;: &quot;Sess2&quot;" in page  # the document, pretty
        deliveries = response.context["deliveries_url"]
        assert [d.status for d in admin_client.get(deliveries).context["cl"].result_list] == [
            DeliveryStatus.DEAD
        ]

    def test_change_page_shows_the_reconciliation_proofs(
        self, admin_client: Client, cdrs: dict[str, Cdr]
    ) -> None:
        Cdr.objects.filter(pk=cdrs["ok"].pk).update(session_agreed="0.01|0.01", no_copy=True)
        page = html(admin_client.get(change("cdr", cdrs["ok"].pk)))
        assert "Reconciliation proofs" in page
        assert "0.01|0.01" in page
        for label in ("Delivered at", "No copy", "Session agreed"):
            assert label in page

    def test_credit_links_both_ways(self, admin_client: Client, cdrs: dict[str, Cdr]) -> None:
        page = html(admin_client.get(change("cdr", cdrs["credit"].pk)))
        assert change("cdr", cdrs["ok"].pk) in page
        assert results(admin_client, "cdr", {"credit_of": str(cdrs["ok"].pk)}) == [cdrs["credit"]]

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({}, {"ok", "bad", "other", "credit"}),
            ({"price_check__exact": "MISMATCH"}, {"bad"}),
            ({"price_check__exact": "MATCH"}, {"ok"}),
            ({"price_check__exact": "UNCHECKED"}, {"other", "credit"}),
            ({"credit__exact": "1"}, {"credit"}),
            ({"has_findings": "yes"}, {"bad", "other"}),
            ({"has_findings": "no"}, {"ok", "credit"}),
            ({"finding_code": "COST_SUM"}, {"bad"}),
            ({"finding_code": "TARIFF_MISSING"}, {"other"}),
            ({"finding_code": "TOTAL_TIME"}, set()),
            ({"delivery_state": "DEAD"}, {"bad"}),
            ({"delivery_state": "DELIVERED"}, {"ok"}),
            ({"delivery_state": "PENDING"}, {"credit"}),
            ({"delivery_state": "NONE"}, {"other"}),
            ({"emsp": "DE*EMS"}, {"ok", "bad", "credit"}),
            ({"emsp": "FR*OTH"}, {"other"}),
            ({"party": "NL*ABC"}, {"ok", "bad", "other", "credit"}),
            ({"party": "BE*XYZ"}, set()),
            ({"end_date_time__year": "2025"}, {"ok", "bad", "other", "credit"}),
            ({"q": "cdr-BAD"}, {"bad"}),
            ({"q": "sess3"}, {"other"}),
            ({"q": "UID-2"}, {"bad"}),
            ({"q": "fr*oth"}, {"other"}),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        cdrs: dict[str, Cdr],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        assert set(results(admin_client, "cdr", query)) == {cdrs[name] for name in expected}

    def test_changelist_queries_do_not_grow_with_rows(
        self,
        admin_client: Client,
        cpo_platform: Platform,
        emsp_platform: Platform,
        django_assert_max_num_queries: Any,
    ) -> None:
        for n in range(50):
            cdr = CdrFactory(
                owner=cpo_platform,
                cdr_id=f"C{n}",
                findings=[{"code": "COST_SUM", "message": "x"}],
                computed={"total_cost": {"excl_vat": "1", "incl_vat": "2"}},
            )
            PushDeliveryFactory.of_cdr(
                cdr, receiver=emsp_platform, status=DeliveryStatus.DEAD, expired=True
            )
        admin_client.get(changelist("cdr"))  # warm the session
        with django_assert_max_num_queries(10):
            response = admin_client.get(changelist("cdr"), {"delivery_state": "DEAD"})
        assert len(response.context["cl"].result_list) == 50
        assert html(response).count("background:#4e342e") == 50


class TestCdrActions:
    def test_export_csv(self, admin_client: Client, cdrs: dict[str, Cdr]) -> None:
        response = run_action(admin_client, "cdr", "export_csv_action", cdrs["bad"], cdrs["ok"])
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert 'filename="cdrs-' in response["Content-Disposition"]
        rows = csv_rows(response)
        assert rows[0] == list(CDR_CSV_COLUMNS)
        assert len(rows) == 3
        by_id = {row[2]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
        bad = by_id["Cdr-bad"]
        assert (bad["country_code"], bad["party_id"]) == ("NL", "ABC")
        assert (bad["token_country_code"], bad["token_party_id"], bad["token_uid"]) == (
            "DE",
            "EMS",
            "UID-2",
        )
        assert bad["total_energy_kwh"] == "20.5000"
        assert bad["total_cost_excl_vat"] == "99.0000"
        assert bad["computed_excl_vat"] == "10.0000"
        assert bad["price_check"] == "MISMATCH"
        assert bad["finding_codes"] == "COST_SUM;ENERGY_SUM"
        assert bad["delivery_state"] == "DEAD"
        assert bad["start_date_time"].startswith("2025-03-01T10:00:00")
        assert by_id["Cdr-ok"]["finding_codes"] == ""

    def test_resend_dead_letter_makes_it_pending_after_commit(
        self,
        admin_client: Client,
        cdrs: dict[str, Cdr],
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        dead = PushDelivery.objects.get(module="cdrs", object_key="NL/ABC/CDR-BAD")
        delivered = PushDelivery.objects.get(module="cdrs", object_key="NL/ABC/CDR-OK")
        before = timezone.now()
        with (
            mock.patch.object(deliver_money_task, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            response = run_action(
                admin_client, "cdr", "resend_dead_action", cdrs["bad"], cdrs["ok"]
            )
        assert response.status_code == 200
        page = html(response)
        assert "1 dead-lettered deliveries queued to send now" in page
        assert "1 selected CDRs had no dead-lettered delivery" in page
        dead.refresh_from_db()
        delivered.refresh_from_db()
        assert dead.status == DeliveryStatus.PENDING
        assert dead.next_attempt_at >= before
        assert dead.expires_at > before
        assert dead.last_error == ""
        assert delivered.status == DeliveryStatus.DELIVERED
        assert callbacks
        # handed out within the receiver's free slots, with any older delivery still waiting
        assert mock.call(dead.pk) in delay.call_args_list
        assert LogEntry.objects.filter(object_id=str(cdrs["bad"].pk)).exists()


class TestReconciliationPages:
    def test_report_changelist(self, admin_client: Client, report: ReconciliationReport) -> None:
        response = admin_client.get(changelist("reconciliationreport"))
        assert response.status_code == 200
        page = html(response)
        for text in (
            "NL*ABC → DE*EMS",
            "2025-03-01 .. 2025-03-02",
            "2 (+1)",
            "41.0000",
            "EUR 99.0000 / 119.7900",
            "DEAD_LETTER&nbsp;1",
            "MISPRICED&nbsp;1",
        ):
            assert text in page
        assert "MISSING&nbsp;0" not in page

    def test_report_change_page_with_inline_findings(
        self, admin_client: Client, report: ReconciliationReport
    ) -> None:
        response = admin_client.get(change("reconciliationreport", report.pk))
        assert response.status_code == 200
        page = html(response)
        assert "Reported 99.0000, computed 10.0000" in page
        assert "NL/ABC/CDR-BAD" in page
        assert response.context["findings_csv_url"] in page
        assert "Download findings CSV" in page

    def test_inline_findings_are_bounded(
        self, admin_client: Client, report: ReconciliationReport
    ) -> None:
        ReconciliationFinding.objects.bulk_create(
            ReconciliationFinding(
                report=report, kind="MISSING", cdr_key=f"NL/ABC/M{n}", message=f"missing {n}"
            )
            for n in range(INLINE_FINDINGS_LIMIT + 5)
        )
        response = admin_client.get(change("reconciliationreport", report.pk))
        assert response.status_code == 200
        formset = response.context["inline_admin_formsets"][0].formset
        assert len(formset.forms) == INLINE_FINDINGS_LIMIT

    @pytest.mark.parametrize(
        ("query", "found"),
        [
            ({"status": "DONE"}, True),
            ({"status": "PARTIAL"}, False),
            ({"cpo": "NL*ABC"}, True),
            ({"cpo": "BE*XYZ"}, False),
            ({"emsp": "DE*EMS"}, True),
            ({"emsp": "FR*OTH"}, False),
            ({"period_start__year": "2025"}, True),
        ],
    )
    def test_report_filters(
        self,
        admin_client: Client,
        report: ReconciliationReport,
        query: dict[str, str],
        found: bool,
    ) -> None:
        assert results(admin_client, "reconciliationreport", query) == ([report] if found else [])

    def test_findings_csv_button(self, admin_client: Client, report: ReconciliationReport) -> None:
        url = reverse("admin:hub_reconciliationreport_findings_csv", args=[report.pk])
        response = admin_client.get(url)
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert (
            f'filename="reconciliation-NL-ABC-DE-EMS-2025-03-01-{report.pk}.csv"'
            in response["Content-Disposition"]
        )
        rows = csv_rows(response)
        assert rows[0] == [
            "cpo",
            "emsp",
            "period_start",
            "period_end",
            "kind",
            "cdr_key",
            "message",
            "detail",
        ]
        assert [row[4:6] for row in rows[1:]] == [
            ["DEAD_LETTER", "NL/ABC/CDR-BAD"],
            ["MISPRICED", "NL/ABC/CDR-BAD"],
        ]
        assert (
            admin_client.get(
                reverse("admin:hub_reconciliationreport_findings_csv", args=[report.pk + 999])
            ).status_code
            == 404
        )

    def test_findings_csv_action(self, admin_client: Client, report: ReconciliationReport) -> None:
        second = ReconciliationReportFactory(
            period_start=date(2025, 3, 2), period_end=date(2025, 3, 3)
        )
        ReconciliationFindingFactory(
            report=second, kind="MISSING", cdr_key="NL/ABC/CDR-9", message="not in the store"
        )
        response = run_action(
            admin_client, "reconciliationreport", "findings_csv_action", report, second
        )
        assert response["Content-Type"].startswith("text/csv")
        rows = csv_rows(response)
        assert rows[0][0] == "cpo"
        assert [row[0] for row in rows].count("cpo") == 1  # one header
        assert [(row[2], row[4]) for row in rows[1:]] == [
            ("2025-03-01", "DEAD_LETTER"),
            ("2025-03-01", "MISPRICED"),
            ("2025-03-02", "MISSING"),
        ]

    @pytest.mark.parametrize(
        ("query", "kinds"),
        [
            ({}, {"DEAD_LETTER", "MISPRICED"}),
            ({"kind": "MISPRICED"}, {"MISPRICED"}),
            ({"kind": "MISSING"}, set()),
            ({"q": "nl/abc/cdr-bad"}, {"DEAD_LETTER", "MISPRICED"}),
        ],
    )
    def test_finding_list_filters(
        self,
        admin_client: Client,
        report: ReconciliationReport,
        query: dict[str, str],
        kinds: set[str],
    ) -> None:
        assert {f.kind for f in results(admin_client, "reconciliationfinding", query)} == kinds

    def test_finding_report_filter(
        self, admin_client: Client, report: ReconciliationReport
    ) -> None:
        assert len(results(admin_client, "reconciliationfinding", {"report": str(report.pk)})) == 2
        assert results(admin_client, "reconciliationfinding", {"report": str(report.pk + 9)}) == []
        finding = ReconciliationFinding.objects.filter(report=report).first()
        assert finding is not None
        page = html(admin_client.get(change("reconciliationfinding", finding.pk)))
        assert change("cdr", finding.cdr_id) in page


class TestReadOnly:
    @pytest.mark.parametrize("model", ["cdr", "reconciliationreport", "reconciliationfinding"])
    def test_no_add_change_or_delete(
        self, admin_client: Client, report: ReconciliationReport, model: str
    ) -> None:
        obj: Model = {
            "cdr": Cdr.objects.get(cdr_id="CDR-BAD"),
            "reconciliationreport": report,
            "reconciliationfinding": ReconciliationFinding.objects.filter(report=report).first(),
        }[model]
        before = type(obj)._default_manager.filter(pk=obj.pk).values().get()
        assert admin_client.get(reverse(f"admin:hub_{model}_add")).status_code == 403
        assert admin_client.post(reverse(f"admin:hub_{model}_add"), {}).status_code == 403
        response = admin_client.post(change(model, obj.pk), {"status": "X", "kind": "X"})
        assert response.status_code == 403
        delete = reverse(f"admin:hub_{model}_delete", args=[obj.pk])
        assert admin_client.get(delete).status_code == 403
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert type(obj)._default_manager.filter(pk=obj.pk).values().get() == before
        assert "delete_selected" not in html(admin_client.get(changelist(model)))
        assert 'name="_save"' not in html(admin_client.get(change(model, obj.pk)))
