"""Reconciliation against a real CPO (DESIGN §6; 2.2.1 mod_cdrs Sender GET list): the hub pulls
the CPO's CDR list for the period (paginated, following `Link`), ingests the CDR it never
received, which then reaches the eMSP through the outbox and a real worker, and reports it
MISSING exactly once; a rerun pulls again but ingests and delivers nothing twice."""

import copy
from datetime import date
from typing import Any

import pytest

from hub.models import Cdr, PushDelivery, ReconciliationReport
from hub.models.deliveries import DeliveryStatus
from hub.services.reconciliation.findings import Kind
from hub.services.reconciliation.report import reconcile
from tests.fixtures import load_ocpi_fixture
from tests.integration.hubnet import network, routing_headers
from tests.worker import wait_until

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

DAY, NEXT = date(2024, 5, 1), date(2024, 5, 2)


def cdr(cdr_id: str, hour: int) -> dict[str, Any]:
    """A consistent CDR of NL*CP1 for DE*MS1's token, 10:00+hour .. 11:00+hour on 2024-05-01
    (no session_id: this test is about the list, not the sessions)."""
    data = copy.deepcopy(load_ocpi_fixture("cdrs", "cdr_delivery"))
    data.pop("session_id")
    data["id"] = cdr_id
    data["start_date_time"] = f"2024-05-01T{10 + hour:02d}:00:00Z"
    data["end_date_time"] = f"2024-05-01T{11 + hour:02d}:00:00Z"
    data["last_updated"] = f"2024-05-01T{11 + hour:02d}:05:00Z"
    data["charging_periods"][0]["start_date_time"] = data["start_date_time"]
    data["charging_periods"][1]["start_date_time"] = f"2024-05-01T{10 + hour:02d}:45:00Z"
    return data


@pytest.fixture
def net(hub_url: str, celery_worker_process: Any) -> Any:
    with network(cpos=1, emsps=1) as parties:
        yield parties


def test_pull_ingests_and_reports_the_cdr_the_hub_never_received(net: Any, settings: Any) -> None:
    ((cpo, _),) = net["cpos"]
    ((emsp, _),) = net["emsps"]
    settings.OCPI_PULL_SYNC_PAGE_SIZE = 1  # one CDR a page: the Link header must be followed
    received, lost = cdr("CDR-A", 0), cdr("CDR-B", 2)
    # given: CDR-A was POSTed to the hub and delivered; CDR-B never reached the hub
    response = cpo.request(
        "POST", "cdrs", role="RECEIVER", json=received, headers=routing_headers(frm=("NL", "CP1"))
    )
    assert response.json()["status_code"] == 1000, response.json()
    assert wait_until(
        lambda: (
            PushDelivery.objects.filter(module="cdrs", status=DeliveryStatus.DELIVERED).count() == 1
        )
    ), list(PushDelivery.objects.values("module", "status", "last_error"))
    # and CDR-BAD, which the hub never received either, fails validation (no total_cost)
    bad = cdr("CDR-BAD", 4)
    del bad["total_cost"]
    cpo.set_objects("cdrs", [received, lost, bad])

    # when
    (report,) = reconcile(period_start=DAY, period_end=NEXT)

    # then: the list was pulled for the period, page by page
    pulls = [r for r in cpo.received if r.method == "GET" and "/cdrs" in r.path]
    assert len(pulls) == 3
    assert pulls[0].param("date_from") == "2024-05-01T00:00:00Z"
    assert pulls[0].param("date_to") == "2024-05-03T00:00:00Z"
    assert pulls[0].param("limit") == "1"
    # CDR-B was stored and reported MISSING, once; CDR-BAD reported with the reason it was
    # refused (and not stored); nothing else is wrong
    assert report.status == "DONE", report.error
    first = [(f.kind, f.cdr_key, f.cdr_id, f.message, f.detail) for f in report.findings.all()]
    assert [row[:2] for row in first] == [
        (Kind.MISSING, "NL/CP1/CDR-B"),
        (Kind.MISSING, "NL/CP1/CDR-BAD"),
    ]
    assert first[0][2] == Cdr.objects.get(cdr_id="CDR-B").pk
    assert first[0][4] == {"ingested": True}
    assert first[1][2] is None and first[1][4]["ingested"] is False
    assert "total_cost" in first[1][4]["error"]
    assert report.counts == {kind: 2 * int(kind == Kind.MISSING) for kind in Kind.values}
    assert report.totals == {
        "cdrs": 2,
        "credits": 0,
        "kwh": "20.0000",
        "cost": {"EUR": {"excl_vat": "8.5000", "incl_vat": "10.1150"}},
        "incl_vat_missing": 0,
    }
    # and delivered to the eMSP like a push
    delivered = emsp.wait_for(
        lambda r: r.method == "POST" and r.json and r.json.get("id") == "CDR-B", timeout=20
    )
    assert delivered.json == lost
    assert wait_until(
        lambda: (
            PushDelivery.objects.filter(module="cdrs", status=DeliveryStatus.DELIVERED).count() == 2
        )
    )

    # when: run again
    (again,) = reconcile(period_start=DAY, period_end=NEXT)

    # then: the same report, the same content; nothing ingested or delivered twice
    assert again.pk == report.pk and ReconciliationReport.objects.count() == 1
    assert [
        (f.kind, f.cdr_key, f.cdr_id, f.message, f.detail) for f in again.findings.all()
    ] == first
    assert (again.totals, again.counts) == (report.totals, report.counts)
    assert Cdr.objects.count() == 2 and PushDelivery.objects.filter(module="cdrs").count() == 2
    assert len([r for r in emsp.received if r.method == "POST" and "/cdrs" in r.path]) == 2
    assert len([r for r in cpo.received if r.method == "GET" and "/cdrs" in r.path]) == 6

    # when: the CPO's list cannot be pulled
    cpo.set_behaviour("/ocpi/2.2.1/cdrs", status=500)
    (failed,) = reconcile(period_start=DAY, period_end=NEXT)

    # then: the store-side checks still ran and the report says the list is unchecked
    assert failed.pk == report.pk
    assert failed.status == "PARTIAL"
    assert "pulling NL*CP1's CDRs failed" in failed.error
    assert failed.counts == report.counts and failed.totals == report.totals
    assert [
        (f.kind, f.cdr_key, f.cdr_id, f.message, f.detail) for f in failed.findings.all()
    ] == first
