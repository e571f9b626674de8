"""The SQL pre-filter of reconciliation (`reconciliation.suspects`): it may send a CDR that is
fine to the checks, never keep back one a check would find something in.

- A quiet CDR (delivered, priced MATCH at ingest, its Session agreeing, no copy) is left out.
- Each single deviation from quiet makes the CDR a suspect, and `reconcile` reports it.
- On a store mixing deviations at random, `reconcile` finds exactly what the checks find when
  they read every CDR of the period (the path before the pre-filter).
Run on SQLite and on PostgreSQL (the JSON functions differ per engine).
"""

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from hub.models import Cdr, Platform, PushDelivery, ReconciliationFinding, Session
from hub.models.cdrs import PriceCheck
from hub.models.deliveries import DeliveryStatus
from hub.services.reconciliation.findings import (
    Kind,
    ZoneLookup,
    credit_findings,
    credited_ids,
    delivery_findings,
    duplicate_findings,
    kwh_tolerance_setting,
    price_findings,
    price_tolerance,
    session_findings,
)
from hub.services.reconciliation.report import reconcile
from hub.services.reconciliation.suspects import needing_checks
from hub.services.reconciliation.verdict import ingest_verdict
from tests.factories import registered_party
from tests.hub.services.test_reconciliation import (
    CP1,
    DAY,
    MS1,
    MS2,
    NEXT,
    _t,
    deliver,
    fixture_cdr,
    session_of,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def parties() -> dict[str, Platform]:
    registered_party("CPO", "NL", "CP1")  # no cdrs SENDER: the store-side checks only
    ms1, _ = registered_party("EMSP", "DE", "MS1")
    ms2, _ = registered_party("EMSP", "DE", "MS2")
    return {"MS1": ms1, "MS2": ms2}


def with_verdict(cdr: Cdr) -> Cdr:
    """The verdict the hub's ingest takes (`services.cdrs._store`), written on a factory CDR."""
    cdr.price_check, cdr.computed = ingest_verdict(
        CP1, cdr.data, cdr.total_cost_excl_vat, cdr.total_cost_incl_vat
    )
    cdr.save(update_fields=["price_check", "computed"])
    return cdr


def quiet(name: str, hour: int, parties: dict[str, Platform], minute: int = 0, **kw: Any) -> Cdr:
    cdr = with_verdict(fixture_cdr(name, _t(hour, minute), **kw))
    session_of(cdr)
    deliver(cdr, parties["MS1"])
    return cdr


def suspects_of_ms1() -> set[str]:
    rows = Cdr.objects.filter(
        country_code=CP1.country_code,
        party_id=CP1.party_id,
        token_country_code=MS1.country_code,
        token_party_id=MS1.party_id,
    )
    chosen = needing_checks(
        rows,
        cpo=CP1,
        emsp=MS1,
        tolerance=price_tolerance(CP1),
        kwh_tolerance=kwh_tolerance_setting(),
    )
    return set(chosen.values_list("cdr_id", flat=True))


def found(kind: str | None = None) -> set[tuple[str, str]]:
    rows = ReconciliationFinding.objects.filter(
        report__emsp_country_code=MS1.country_code, report__emsp_party_id=MS1.party_id
    )
    if kind is not None:
        rows = rows.filter(kind=kind)
    return {(f.kind, f.cdr_key) for f in rows}


def test_a_quiet_cdr_is_left_out_and_found_clean(parties: dict[str, Platform]) -> None:
    cdr = quiet("CDR-Q", 1, parties)
    assert cdr.price_check == PriceCheck.MATCH  # the ingest judged it
    assert cdr.computed["tolerance"] == "0.01"

    assert suspects_of_ms1() == set()
    (report,) = reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    assert found() == set()
    assert report.totals["cdrs"] == 1  # counted though not read


def _undelivered(cdr: Cdr, parties: dict[str, Platform]) -> None:
    PushDelivery.objects.filter(object_key__endswith=cdr.cdr_id).delete()


def _pending(cdr: Cdr, parties: dict[str, Platform]) -> None:
    PushDelivery.objects.filter(object_key__endswith=cdr.cdr_id).update(
        status=DeliveryStatus.PENDING
    )


def _dead(cdr: Cdr, parties: dict[str, Platform]) -> None:
    PushDelivery.objects.filter(object_key__endswith=cdr.cdr_id).update(
        status=DeliveryStatus.DEAD, last_error="HTTP 503"
    )


def _delivered_to_another_emsp(cdr: Cdr, parties: dict[str, Platform]) -> None:
    PushDelivery.objects.filter(object_key__endswith=cdr.cdr_id).update(
        receiver=parties["MS2"], to_country_code=MS2.country_code, to_party_id=MS2.party_id
    )


def _copy_received_later(cdr: Cdr, parties: dict[str, Platform]) -> None:
    # The same charge under another id and session id: its copy is the suspect here.
    copy = fixture_cdr(
        "CDR-COPY", cdr.start_date_time, session_id="S-OTHER", received_ago=timedelta(hours=1)
    )
    with_verdict(copy)
    session_of(copy)
    deliver(copy, parties["MS1"])


def _same_session_other_charge(cdr: Cdr, parties: dict[str, Platform]) -> None:
    later = fixture_cdr(
        "CDR-LATER", _t(20), session_id=cdr.session_id, received_ago=timedelta(hours=1)
    )
    with_verdict(later)
    deliver(later, parties["MS1"])


def _priced_differently(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Cdr.objects.filter(pk=cdr.pk).update(total_cost_excl_vat=Decimal("5.00"))
    cdr.refresh_from_db()
    with_verdict(cdr)
    Session.objects.filter(session_id=cdr.session_id).update(data={})


def _never_judged(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Cdr.objects.filter(pk=cdr.pk).update(
        price_check=PriceCheck.UNCHECKED, computed=None, total_cost_excl_vat=Decimal("5.00")
    )
    Session.objects.filter(session_id=cdr.session_id).update(data={})


def _judged_under_another_tolerance(cdr: Cdr, parties: dict[str, Platform]) -> None:
    # MATCH within 1.00 at ingest; reconciled under 0.01 it is MISPRICED.
    computed = dict(cdr.computed or {}, tolerance="1.00")
    Cdr.objects.filter(pk=cdr.pk).update(total_cost_excl_vat=Decimal("4.75"), computed=computed)
    Session.objects.filter(session_id=cdr.session_id).update(data={})


def _unpriceable(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Cdr.objects.filter(pk=cdr.pk).update(
        price_check=PriceCheck.UNPRICEABLE, computed={"reason": "no tariff"}
    )


def _no_session(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Session.objects.filter(session_id=cdr.session_id).delete()


def _session_kwh_off(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Session.objects.filter(session_id=cdr.session_id).update(kwh=Decimal("12.5"))


def _session_cost_off(cdr: Cdr, parties: dict[str, Platform]) -> None:
    Session.objects.filter(session_id=cdr.session_id).update(
        data={"total_cost": {"excl_vat": 9.99}}
    )


def _session_cost_as_text(cdr: Cdr, parties: dict[str, Platform]) -> None:
    # Not a JSON number: the SQL cannot judge it, so the check reads it (and finds it off).
    Session.objects.filter(session_id=cdr.session_id).update(
        data={"total_cost": {"excl_vat": "9.99"}}
    )


def _credit_without_original(cdr: Cdr, parties: dict[str, Platform]) -> None:
    credit = fixture_cdr(
        "CDR-CRX",
        _t(8),
        credit_reference_id="CDR-NOPE",
        excl="-4.25",
        incl="-5.0575",
        received_ago=timedelta(hours=1),
    )
    deliver(credit, parties["MS1"])


DEVIATIONS: list[tuple[Callable[[Cdr, dict[str, Platform]], None], str, set[str]]] = [
    (_undelivered, Kind.UNDELIVERED, {"CDR-X"}),
    (_pending, Kind.UNDELIVERED, {"CDR-X"}),
    (_dead, Kind.DEAD_LETTER, {"CDR-X"}),
    (_delivered_to_another_emsp, Kind.UNDELIVERED, {"CDR-X"}),
    (_copy_received_later, Kind.DUPLICATE, {"CDR-COPY"}),
    (_same_session_other_charge, Kind.DUPLICATE, {"CDR-LATER"}),
    (_priced_differently, Kind.MISPRICED, {"CDR-X"}),
    (_never_judged, Kind.MISPRICED, {"CDR-X"}),
    (_judged_under_another_tolerance, Kind.MISPRICED, {"CDR-X"}),
    (_unpriceable, Kind.UNPRICEABLE, {"CDR-X"}),
    (_no_session, Kind.NO_SESSION, {"CDR-X"}),
    (_session_kwh_off, Kind.SESSION_MISMATCH, {"CDR-X"}),
    (_session_cost_off, Kind.SESSION_MISMATCH, {"CDR-X"}),
    (_session_cost_as_text, Kind.SESSION_MISMATCH, {"CDR-X"}),
    (_credit_without_original, Kind.CREDIT_WITHOUT_ORIGINAL, {"CDR-CRX"}),
]


@pytest.mark.parametrize(
    ("deviate", "kind", "flagged"), DEVIATIONS, ids=[d[0].__name__[1:] for d in DEVIATIONS]
)
def test_each_deviation_makes_a_suspect_and_a_finding(
    parties: dict[str, Platform],
    deviate: Callable[[Cdr, dict[str, Platform]], None],
    kind: str,
    flagged: set[str],
) -> None:
    quiet("CDR-QUIET", 2, parties)
    cdr = quiet("CDR-X", 1, parties)

    deviate(cdr, parties)

    assert flagged <= suspects_of_ms1()
    assert "CDR-QUIET" not in suspects_of_ms1()
    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    assert {key for _, key in found(kind)} == {f"NL/CP1/{name}" for name in flagged}


def test_a_credit_linked_to_its_original_is_left_out(parties: dict[str, Platform]) -> None:
    original = quiet("CDR-O", 1, parties)
    credit = fixture_cdr("CDR-O-C", _t(1), credit_of=original, excl="-4.25", incl="-5.0575")
    deliver(credit, parties["MS1"])

    assert suspects_of_ms1() == set()
    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    assert found() == set()


def every_cdr_checked() -> set[tuple[str, str]]:
    """The findings of the checks run over every CDR of DE*MS1's period (no pre-filter)."""
    rows = list(
        Cdr.objects.filter(
            country_code=CP1.country_code,
            party_id=CP1.party_id,
            token_party_id=MS1.party_id,
            end_date_time__gte=_t(0),
            end_date_time__lt=_t(0, day=2),
        ).order_by("received_at", "pk")
    )
    tolerance = price_tolerance(CP1)
    findings = (
        delivery_findings(rows, MS1, timezone.now())
        + duplicate_findings(rows, CP1, credited_ids(CP1))
        + price_findings(rows, tolerance, ZoneLookup())
        + session_findings(rows, CP1, tolerance)
        + credit_findings(rows, CP1)
    )
    return {(f.kind, f.cdr_key) for f in findings}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_on_a_mixed_store_nothing_is_kept_back(parties: dict[str, Platform], seed: int) -> None:
    rng = random.Random(seed)
    # Deviations that touch only the CDR they are given (the copies add CDRs of their own).
    single = [d for d in DEVIATIONS if d[2] == {"CDR-X"}]
    for n in range(40):
        name = f"CDR-{n:02d}"
        # CDR-35..39 start as CDR-00..04 do, with other tokens: suspects (same start, end and
        # energy), but no DUPLICATE.
        start = n % 35
        cdr = quiet(
            name, start // 2, parties, 30 * (start % 2), uid=f"U{n:02d}", session_id=f"S-{n:02d}"
        )
        if rng.random() < 0.5:
            continue
        for deviate, _, _ in rng.sample(single, rng.randint(1, 3)):
            cdr.refresh_from_db()
            deviate(cdr, parties)
    # A few copies: same charge as another CDR (token and times), and a reused session id.
    for n in rng.sample(range(40), 3):
        original = Cdr.objects.get(cdr_id=f"CDR-{n:02d}")
        copy = fixture_cdr(
            f"CDR-{n:02d}-COPY",
            original.start_date_time,
            uid=original.token_uid,
            received_ago=timedelta(hours=2),
        )
        deliver(with_verdict(copy), parties["MS1"])
    reused = fixture_cdr("CDR-REUSED", _t(21), session_id="S-07", received_ago=timedelta(hours=2))
    deliver(with_verdict(reused), parties["MS1"])
    expected = every_cdr_checked()
    assert len(expected) >= 10  # the store is not quiet: the comparison has findings to lose

    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)

    assert found() == expected
    quiet_ones = Cdr.objects.filter(token_party_id=MS1.party_id).count() - len(suspects_of_ms1())
    assert quiet_ones > 0  # some were left out, so the comparison tested the pre-filter
