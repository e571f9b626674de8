"""CDR reconciliation over the hub's store (DESIGN §6): a seeded period with every kind of
discrepancy, each found exactly once with the right totals; a rerun changes nothing; the
per-party price tolerance; the CSV export; the `reconcile_cdrs` command's output and errors.
The CPO's list pull (MISSING) is covered end to end in tests/integration/test_reconcile_pull.py.
"""

import copy
import csv
import io
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hub.models import (
    Cdr,
    Platform,
    PushDelivery,
    ReconciliationFinding,
    ReconciliationReport,
    Session,
)
from hub.models.deliveries import DeliveryStatus
from hub.ocpi.routing import PartyRef
from hub.services.reconciliation.export import reconciliation_findings_csv
from hub.services.reconciliation.findings import Kind, ReconciliationError, price_tolerance
from hub.services.reconciliation.report import reconcile
from tests.factories import CdrFactory, PushDeliveryFactory, SessionFactory, registered_party
from tests.fixtures import load_ocpi_fixture

pytestmark = pytest.mark.django_db

DAY = date(2024, 5, 1)
NEXT = date(2024, 5, 2)
CP1 = PartyRef.of("NL", "CP1")
MS1 = PartyRef.of("DE", "MS1")
MS2 = PartyRef.of("DE", "MS2")


def _t(hour: int, minute: int = 0, day: int = 1) -> datetime:
    return datetime(2024, 5, day, hour, minute, tzinfo=UTC)


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def fixture_cdr(
    cdr_id: str,
    start: datetime,
    *,
    cpo: PartyRef = CP1,
    emsp: PartyRef = MS1,
    session_id: str | None = None,
    excl: str = "4.25",
    incl: str = "5.0575",
    tariffs: bool = True,
    credit_of: Cdr | None = None,
    credit_reference_id: str = "",
    uid: str = "04A1B2C3D4",
    received_ago: timedelta = timedelta(days=1),
) -> Cdr:
    """A stored CDR like the fixture's (10 kWh, 1 h, priced 4.25/5.0575 by its tariff),
    starting at `start`."""
    data = copy.deepcopy(load_ocpi_fixture("cdrs", "cdr_delivery"))
    end = start + timedelta(hours=1)
    data.update(
        country_code=cpo.country_code,
        party_id=cpo.party_id,
        id=cdr_id,
        session_id=session_id or f"S-{cdr_id}",
        start_date_time=_iso(start),
        end_date_time=_iso(end),
        total_cost={"excl_vat": float(excl), "incl_vat": float(incl)},
        last_updated=_iso(end + timedelta(minutes=5)),
    )
    data["cdr_token"].update(country_code=emsp.country_code, party_id=emsp.party_id, uid=uid)
    data["charging_periods"][0]["start_date_time"] = _iso(start)
    data["charging_periods"][1]["start_date_time"] = _iso(start + timedelta(minutes=45))
    credit = credit_of is not None or bool(credit_reference_id)
    if credit:
        reference = credit_reference_id or (credit_of.cdr_id if credit_of else "")
        data.update(credit=True, credit_reference_id=reference)
    if not tariffs:
        del data["tariffs"]
        for period in data["charging_periods"]:
            period["tariff_id"] = "T-UNKNOWN"
    return CdrFactory(
        party=(cpo.country_code, cpo.party_id),
        emsp=(emsp.country_code, emsp.party_id),
        cdr_id=cdr_id,
        data=data,
        token_uid=uid,
        session_id=data["session_id"],
        excl=excl,
        incl=incl,
        kwh="10",
        start=start,
        last_updated=end + timedelta(minutes=5),
        credit=credit,
        credit_reference_id=data.get("credit_reference_id", ""),
        credit_of=credit_of,
        # the delivery grace counts from received_at
        received_at=timezone.now() - received_ago,
    )


def session_of(cdr: Cdr, *, kwh: str = "10", excl: str | None = None) -> Session:
    """The COMPLETED session `cdr` bills."""
    return SessionFactory(
        country_code=cdr.country_code,
        party_id=cdr.party_id,
        session_id=cdr.session_id,
        data={"total_cost": {"excl_vat": float(excl or cdr.total_cost_excl_vat)}},
        status="COMPLETED",
        token_country_code=cdr.token_country_code,
        token_party_id=cdr.token_party_id,
        location_id="",
        kwh=Decimal(kwh),
        start_date_time=cdr.start_date_time,
        end_date_time=cdr.end_date_time,
        last_updated=cdr.end_date_time,
    )


def deliver(cdr: Cdr, receiver: Platform, status: str = DeliveryStatus.DELIVERED) -> None:
    now = timezone.now()
    PushDeliveryFactory.of_cdr(
        cdr,
        receiver=receiver,
        status=status,
        attempts=3 if status == DeliveryStatus.DEAD else 1,
        next_attempt_at=now,
        expires_at=now,
        last_error="HTTP 503" if status == DeliveryStatus.DEAD else "",
        receipt="https://ms1.example/cdrs/x" if status == DeliveryStatus.DELIVERED else "",
    )


@pytest.fixture
def seeded() -> dict[str, Any]:
    """NL*CP1's CDRs of 2024-05-01: one of every discrepancy for DE*MS1, clean ones around."""
    registered_party("CPO", "NL", "CP1")  # no cdrs SENDER: the store-side checks only
    registered_party("CPO", "NL", "CP2")
    ms1, _ = registered_party("EMSP", "DE", "MS1")
    ms2, _ = registered_party("EMSP", "DE", "MS2")
    cdrs: dict[str, Cdr] = {}

    def add(name: str, hour: int, *, session: bool = True, delivered: bool = True, **kw: Any):
        cdr = fixture_cdr(name, _t(hour), **kw)
        cdrs[name] = cdr
        if session:
            session_of(cdr)
        if delivered:
            deliver(cdr, ms2 if cdr.token_party_id == "MS2" else ms1)
        return cdr

    add("CDR-OK", 1)
    add("CDR-UND", 2, delivered=False)
    deliver(cdrs["CDR-UND"], ms1, DeliveryStatus.PENDING)
    add("CDR-DEAD", 3, delivered=False)
    deliver(cdrs["CDR-DEAD"], ms1, DeliveryStatus.DEAD)
    # The same charge as CDR-OK under another id, received after it.
    dup = fixture_cdr("CDR-DUP", _t(1), session_id="S-CDR-OK", received_ago=timedelta(hours=20))
    cdrs["CDR-DUP"] = dup
    deliver(dup, ms1)
    add("CDR-MIS", 4, excl="5.00", incl="5.95")
    Session.objects.filter(session_id="S-CDR-MIS").update(data={"total_cost": {"excl_vat": 5.0}})
    add("CDR-NOTAR", 5, tariffs=False)
    add("CDR-NOSES", 6, session=False)
    add("CDR-SMIS", 7, session=False)
    session_of(cdrs["CDR-SMIS"], kwh="12.5")
    add("CDR-CRX", 8, session=False, credit_reference_id="CDR-NOPE", excl="-4.25", incl="-5.0575")
    # A correction done right: CDR-OK2 credited, CDR-OK2B re-issued for the same session.
    ok2 = add("CDR-OK2", 9)
    add("CDR-OK2-C", 9, session=False, credit_of=ok2, excl="-4.25", incl="-5.0575")
    ok2b = fixture_cdr("CDR-OK2B", _t(9), session_id="S-CDR-OK2", received_ago=timedelta(hours=2))
    cdrs["CDR-OK2B"] = ok2b
    deliver(ok2b, ms1)
    # Received a minute ago, delivery still pending: within the grace, no finding.
    add("CDR-FRESH", 10, delivered=False, received_ago=timedelta(minutes=1))
    deliver(cdrs["CDR-FRESH"], ms1, DeliveryStatus.PENDING)
    # Other eMSP, other CPO, other day: not in DE*MS1's report.
    add("CDR-MS2", 11, emsp=MS2, uid="OTHER")
    add("CDR-CP2", 12, cpo=PartyRef.of("NL", "CP2"))
    late = fixture_cdr("CDR-LATE", _t(23, 30), uid="LATE")  # ends 00:30 on the next day
    session_of(late)
    deliver(late, ms1)
    return cdrs


def findings_of(report: ReconciliationReport) -> list[tuple[str, str, str, Any]]:
    return [
        (f.kind, f.cdr_key, f.message, f.detail)
        for f in ReconciliationFinding.objects.filter(report=report).order_by("kind", "cdr_key")
    ]


def report_for(cpo: PartyRef, emsp: PartyRef) -> ReconciliationReport:
    return ReconciliationReport.objects.get(
        cpo_country_code=cpo.country_code,
        cpo_party_id=cpo.party_id,
        emsp_country_code=emsp.country_code,
        emsp_party_id=emsp.party_id,
    )


EXPECTED = {
    Kind.MISSING: [],
    Kind.UNDELIVERED: ["NL/CP1/CDR-UND"],
    Kind.DEAD_LETTER: ["NL/CP1/CDR-DEAD"],
    Kind.DUPLICATE: ["NL/CP1/CDR-DUP"],
    Kind.MISPRICED: ["NL/CP1/CDR-MIS"],
    Kind.UNPRICEABLE: ["NL/CP1/CDR-NOTAR"],
    Kind.NO_SESSION: ["NL/CP1/CDR-NOSES"],
    Kind.SESSION_MISMATCH: ["NL/CP1/CDR-SMIS"],
    Kind.CREDIT_WITHOUT_ORIGINAL: ["NL/CP1/CDR-CRX"],
}


def test_every_kind_of_discrepancy_is_found_exactly_once_with_totals(
    seeded: dict[str, Any],
) -> None:
    reports = reconcile(period_start=DAY, period_end=NEXT)

    assert sorted(str(r) for r in reports) == [
        "NL*CP1 → DE*MS1 2024-05-01..2024-05-02",
        "NL*CP1 → DE*MS2 2024-05-01..2024-05-02",
        "NL*CP2 → DE*MS1 2024-05-01..2024-05-02",
    ]
    report = report_for(CP1, MS1)
    found: dict[str, list[str]] = {kind: [] for kind in Kind.values}
    for finding in report.findings.all():
        found[finding.kind].append(finding.cdr_key)
    assert found == EXPECTED
    assert report.counts == {kind: len(keys) for kind, keys in EXPECTED.items()}
    # No SENDER endpoint: the list was not pulled, which the report says.
    assert report.status == "PARTIAL"
    assert "no cdrs SENDER" in report.error
    # 11 CDRs of 10 kWh (CDR-LATE bills the next day), 2 credits; costs net of the credits.
    excl = 10 * Decimal("4.25") + Decimal("5.00") - 2 * Decimal("4.25")
    incl = 10 * Decimal("5.0575") + Decimal("5.95") - 2 * Decimal("5.0575")
    assert report.totals == {
        "cdrs": 11,
        "credits": 2,
        "kwh": "110.0000",
        "cost": {"EUR": {"excl_vat": f"{excl:.4f}", "incl_vat": f"{incl:.4f}"}},
        "incl_vat_missing": 0,
    }
    mis = report.findings.get(kind=Kind.MISPRICED)
    assert mis.detail["computed"] == {"excl_vat": "4.2500", "incl_vat": "5.0575"}
    assert mis.detail["difference"] == {"excl_vat": "0.7500", "incl_vat": "0.8925"}
    assert report.findings.get(kind=Kind.DUPLICATE).detail == {
        "duplicate_of": "NL/CP1/CDR-OK",
        "same": "token",
    }
    smis = report.findings.get(kind=Kind.SESSION_MISMATCH)
    assert smis.detail["differences"] == {"kwh": {"session": "12.5000", "cdr": "10.0000"}}
    assert report.findings.get(kind=Kind.DEAD_LETTER).detail["last_error"] == "HTTP 503"
    # The clean reports: nothing found.
    for other in (report_for(CP1, MS2), report_for(PartyRef.of("NL", "CP2"), MS1)):
        assert not other.findings.exists()
        assert other.totals["cdrs"] == 1


def test_running_twice_changes_nothing(seeded: dict[str, Any]) -> None:
    first = {
        r.pk: (findings_of(r), r.totals, r.counts)
        for r in reconcile(period_start=DAY, period_end=NEXT)
    }
    deliveries = PushDelivery.objects.count()
    cdrs = Cdr.objects.count()

    second = reconcile(period_start=DAY, period_end=NEXT)

    assert {r.pk: (findings_of(r), r.totals, r.counts) for r in second} == first
    assert ReconciliationReport.objects.count() == 3
    assert (PushDelivery.objects.count(), Cdr.objects.count()) == (deliveries, cdrs)


def test_a_rerun_reflects_what_changed_meanwhile(seeded: dict[str, Any]) -> None:
    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    PushDelivery.objects.filter(object_key="NL/CP1/CDR-UND").update(status=DeliveryStatus.DELIVERED)

    (report,) = reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)

    assert report.counts[Kind.UNDELIVERED] == 0
    assert not report.findings.filter(kind=Kind.UNDELIVERED).exists()
    assert ReconciliationReport.objects.count() == 1


def test_per_party_price_tolerance(seeded: dict[str, Any], settings: Any) -> None:
    settings.OCPI_PRICE_TOLERANCE_BY_PARTY = {"nl-cp1": "1.00", "NL-CP2": "0.5"}

    assert price_tolerance(CP1) == Decimal("1.00")
    assert price_tolerance(PartyRef.of("DE", "XXX")) == Decimal("0.01")
    (report,) = reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    assert report.counts[Kind.MISPRICED] == 0

    settings.OCPI_PRICE_TOLERANCE_BY_PARTY = ["not", "a", "mapping"]
    with pytest.raises(ReconciliationError, match="OCPI_PRICE_TOLERANCE_BY_PARTY"):
        reconcile(period_start=DAY, period_end=NEXT)


def test_bad_arguments_are_refused_before_anything_runs(seeded: dict[str, Any]) -> None:
    with pytest.raises(ReconciliationError, match="period is empty"):
        reconcile(period_start=NEXT, period_end=DAY)
    with pytest.raises(ReconciliationError, match="No CPO FR\\*ZZZ"):
        reconcile(period_start=DAY, period_end=NEXT, cpo=PartyRef.of("FR", "ZZZ"))
    assert not ReconciliationReport.objects.exists()


def test_findings_csv(seeded: dict[str, Any]) -> None:
    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)

    rows = list(csv.DictReader(io.StringIO(reconciliation_findings_csv(report_for(CP1, MS1)))))

    assert len(rows) == 8
    assert {r["kind"] for r in rows} == {k for k, v in EXPECTED.items() if v}
    dup = next(r for r in rows if r["kind"] == Kind.DUPLICATE)
    assert dup == {
        "cpo": "NL-CP1",
        "emsp": "DE-MS1",
        "period_start": "2024-05-01",
        "period_end": "2024-05-02",
        "kind": "DUPLICATE",
        "cdr_key": "NL/CP1/CDR-DUP",
        "message": "Same token, start, end and energy as CDR-OK, received earlier",
        "detail": '{"duplicate_of": "NL/CP1/CDR-OK", "same": "token"}',
    }


def test_command_prints_a_summary_table(seeded: dict[str, Any]) -> None:
    out, err = io.StringIO(), io.StringIO()

    call_command(
        "reconcile_cdrs", "--from", "2024-05-01", "--to", "2024-05-02", stdout=out, stderr=err
    )

    lines = out.getvalue().splitlines()
    assert lines[0] == "Period 2024-05-01 .. 2024-05-02 (end exclusive): 3 report(s)"
    assert lines[1].split() == [
        "CPO", "eMSP", "status", "cdrs", "credits", "kWh", "cost", "excl/incl",
        "miss", "undeliv", "dead", "dup", "mispr", "unpric", "nosess", "sessmis", "orphcr",
    ]  # fmt: skip
    row = next(line for line in lines if line.startswith("NL-CP1  DE-MS1"))
    assert row.split() == [
        "NL-CP1", "DE-MS1", "PARTIAL", "11", "2", "110.0000", "EUR", "39.0000/46.4100",
        "0", "1", "1", "1", "1", "1", "1", "1", "1",
    ]  # fmt: skip
    assert any("no cdrs SENDER endpoint" in line for line in lines)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2024-13-01", "--to", "2024-05-02"], "--from must be a date YYYY-MM-DD"),
        (["--from", "2024-05-02", "--to", "2024-05-02"], "--to (2024-05-02) must be after"),
        (
            ["--from", "2024-05-01", "--to", "2024-05-02", "--cpo", "NLX"],
            "--cpo must be COUNTRY-PARTY",
        ),
        (["--from", "2024-05-01", "--to", "2024-05-02", "--cpo", "FR-ZZZ"], "No CPO FR*ZZZ"),
        (["--from", "2024-05-01", "--to", "2024-05-02", "--emsp", "D"], "--emsp must be"),
    ],
)
def test_command_errors(seeded: dict[str, Any], args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as error:
        call_command("reconcile_cdrs", *args, "--no-progress", stdout=io.StringIO())
    assert message in str(error.value)
    assert not ReconciliationReport.objects.exists()


def test_the_daily_task_reconciles_the_previous_utc_day() -> None:
    from hub.tasks import reconcile_cdrs_task

    registered_party("CPO", "NL", "CP1")
    ms1, _ = registered_party("EMSP", "DE", "MS1")
    today = timezone.now().astimezone(UTC).date()
    yesterday_noon = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC)
    cdr = fixture_cdr("CDR-Y", yesterday_noon + timedelta(hours=12))
    session_of(cdr)
    deliver(cdr, ms1)
    fixture_cdr("CDR-T", datetime.combine(today, datetime.min.time(), UTC), uid="TODAY")

    (report_id,) = reconcile_cdrs_task()

    report = ReconciliationReport.objects.get(pk=report_id)
    assert (report.period_start, report.period_end) == (today - timedelta(days=1), today)
    assert report.totals["cdrs"] == 1
    assert not report.findings.exists()
