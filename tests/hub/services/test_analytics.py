"""The analytics figures (hub.services.analytics) against data seeded here, each expected
figure worked out by hand beside it (docs/analytics.md has the definitions)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from hub.models import AuthorizationOutcome, DeliveryStatus, PushDelivery, Role
from hub.ocpi.exceptions import InvalidParametersError
from hub.ocpi.routing import PartyRef
from hub.services.analytics.authorizations import authorization_figures
from hub.services.analytics.charging import cdr_figures, session_figures
from hub.services.analytics.deliveries import delivery_figures
from hub.services.analytics.period import Period, Perspective, period_of
from hub.services.analytics.utilisation import evse_intervals, utilisation, utilisation_json
from tests.factories import (
    AuthorizationRecordFactory,
    CdrFactory,
    EvseStatusChangeFactory,
    LocationFactory,
    PlatformFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
    SessionFactory,
    evse,
)

pytestmark = pytest.mark.django_db

CPA, CPB = PartyRef("NL", "CPA"), PartyRef("NL", "CPB")
MS1, MS2 = PartyRef("DE", "MS1"), PartyRef("DE", "MS2")


def at(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2025, month, day, hour, minute, tzinfo=UTC)


MARCH_1_TO_4 = Period(at(1), at(4))  # [1 March, 4 March): three days
AS_CPA = Perspective(CPA, Role.CPO)
AS_MS1 = Perspective(MS1, Role.EMSP)
HUB = Perspective(None)


def cdr(cdr_id: str, start: datetime, kwh: str, emsp: PartyRef, location: str, **kw: Any) -> Any:
    party = kw.pop("party", CPA)
    return CdrFactory(
        cdr_id=cdr_id,
        start=start,
        kwh=kwh,
        party=(party.country_code, party.party_id),
        emsp=(emsp.country_code, emsp.party_id),
        location_id=location,
        **kw,
    )


@pytest.fixture
def cdrs() -> None:
    """CDRs last one hour; a CDR counts on the day its end_date_time falls in."""
    cdr("C1", at(1, 10), "10", MS1, "LOC1")  # ends 1 March 11:00
    cdr("C2", at(1, 23, 30), "5", MS2, "LOC1")  # ends 2 March 00:30: counts on 2 March
    cdr("C3", at(3, 8), "7.5", MS1, "LOC2")  # 3 March
    cdr("C4", at(3, 9), "10", MS1, "LOC2", credit=True)  # a credit: counted apart, no kWh
    cdr("C5", at(3, 23), "99", MS1, "LOC1")  # ends 4 March 00:00: the end is exclusive
    cdr("C6", at(28, 22, month=2), "99", MS1, "LOC1")  # ends 28 February 23:00: before
    cdr("B1", at(2, 12), "100", MS1, "LOCB", party=CPB)  # another CPO


def test_cdr_figures_of_a_cpo_per_day_location_and_counterpart(cdrs: None) -> None:
    figures = cdr_figures(MARCH_1_TO_4, AS_CPA).as_json()
    # C1 + C2 + C3 = 10 + 5 + 7.5 kWh; C4 is a credit; C5, C6 and B1 are out
    assert (figures["sessions"], figures["credits"], figures["kwh"]) == (3, 1, "22.5000")
    assert figures["per_day"] == [
        {"date": "2025-03-01", "sessions": 1, "kwh": "10.0000"},
        {"date": "2025-03-02", "sessions": 1, "kwh": "5.0000"},
        {"date": "2025-03-03", "sessions": 1, "kwh": "7.5000"},
    ]
    assert figures["per_location"] == [
        {"country_code": "NL", "party_id": "CPA", "location_id": "LOC1", "sessions": 2,
         "kwh": "15.0000"},
        {"country_code": "NL", "party_id": "CPA", "location_id": "LOC2", "sessions": 1,
         "kwh": "7.5000"},
    ]  # fmt: skip
    # the CPO's counterpart is the eMSP owning the cdr_token
    assert figures["per_counterpart"] == [
        {"country_code": "DE", "party_id": "MS1", "sessions": 2, "kwh": "17.5000"},
        {"country_code": "DE", "party_id": "MS2", "sessions": 1, "kwh": "5.0000"},
    ]


def test_cdr_figures_of_an_emsp_name_the_cpos(cdrs: None) -> None:
    figures = cdr_figures(MARCH_1_TO_4, AS_MS1).as_json()
    # MS1's tokens: C1 (10), C3 (7.5) and B1 (100), plus the credit C4
    assert (figures["sessions"], figures["credits"], figures["kwh"]) == (3, 1, "117.5000")
    assert [d["sessions"] for d in figures["per_day"]] == [1, 1, 1]
    assert figures["per_day"][1]["kwh"] == "100.0000"
    assert figures["per_counterpart"] == [
        {"country_code": "NL", "party_id": "CPA", "sessions": 2, "kwh": "17.5000"},
        {"country_code": "NL", "party_id": "CPB", "sessions": 1, "kwh": "100.0000"},
    ]


def test_cdr_figures_of_the_hub_per_pair(cdrs: None) -> None:
    figures = cdr_figures(MARCH_1_TO_4, HUB).as_json()
    assert (figures["sessions"], figures["kwh"]) == (4, "122.5000")
    assert [(r["cpo"], r["emsp"], r["sessions"]) for r in figures["per_counterpart"]] == [
        ("NL*CPA", "DE*MS1", 2),
        ("NL*CPA", "DE*MS2", 1),
        ("NL*CPB", "DE*MS1", 1),
    ]


def test_every_day_of_the_period_is_listed_even_without_data() -> None:
    figures = cdr_figures(Period(at(1), at(3, 12)), AS_CPA).as_json()
    assert [d["date"] for d in figures["per_day"]] == ["2025-03-01", "2025-03-02", "2025-03-03"]
    assert figures["sessions"] == 0
    assert figures["kwh"] == "0.0000"


def test_session_figures_count_by_start_and_include_running_sessions() -> None:
    SessionFactory(session_id="S1", party=("NL", "CPA"), emsp=("DE", "MS1"),
                   start_date_time=at(1, 10), kwh="10", status="COMPLETED")  # fmt: skip
    SessionFactory(session_id="S2", party=("NL", "CPA"), emsp=("DE", "MS2"),
                   start_date_time=at(2, 5), kwh="3.25", location_id="LOC2")  # fmt: skip
    SessionFactory(session_id="S3", party=("NL", "CPA"), start_date_time=at(28, 23, month=2))
    figures = session_figures(MARCH_1_TO_4, AS_CPA).as_json()
    assert (figures["sessions"], figures["kwh"]) == (2, "13.2500")
    assert "credits" not in figures
    assert [(d["sessions"], d["kwh"]) for d in figures["per_day"]] == [
        (1, "10.0000"),
        (1, "3.2500"),
        (0, "0.0000"),
    ]
    assert [(r["location_id"], r["sessions"]) for r in figures["per_location"]] == [
        ("LOC1", 1),
        ("LOC2", 1),
    ]
    assert [(r["party_id"], r["kwh"]) for r in figures["per_counterpart"]] == [
        ("MS1", "10.0000"),
        ("MS2", "3.2500"),
    ]


# -- utilisation -------------------------------------------------------------------------

MARCH_1 = Period(at(1), at(2))
HOURS = 3600.0


@pytest.fixture
def history() -> dict[str, Any]:
    """Two locations of NL*CPA and one of NL*CPB, with status histories around 1 March."""
    loc1 = LocationFactory(party=("NL", "CPA"), location_id="LOC1",
                           evses=[evse("E1", "AVAILABLE"), evse("E2", "CHARGING")])  # fmt: skip
    loc2 = LocationFactory(party=("NL", "CPA"), location_id="LOC2",
                           evses=[evse("E3", "CHARGING"), evse("E4", "AVAILABLE")])  # fmt: skip
    other = LocationFactory(party=("NL", "CPB"), location_id="LOCB", evses=[evse("X", "AVAILABLE")])

    def change(location: Any, uid: str, status: str, when: datetime) -> None:
        EvseStatusChangeFactory(location=location, evse_uid=uid, status=status, changed_at=when)

    # E1: CHARGING since 28 February (the last change before the period is the start status)
    change(loc1, "E1", "AVAILABLE", at(27, 12, month=2))
    change(loc1, "E1", "CHARGING", at(28, 20, month=2))
    change(loc1, "E1", "AVAILABLE", at(1, 6))
    change(loc1, "E1", "BLOCKED", at(1, 12))
    change(loc1, "E1", "OUTOFORDER", at(1, 18))
    change(loc1, "E1", "AVAILABLE", at(2, 6))  # after the period: clipped away
    # E2: first known at 18:00 (unknown before)
    change(loc1, "E2", "CHARGING", at(1, 18))
    # E3: a change exactly at the start is the start status; E4 has no history at all
    change(loc2, "E3", "AVAILABLE", at(28, 1, month=2))
    change(loc2, "E3", "CHARGING", at(1))
    change(other, "X", "CHARGING", at(1, 1))
    return {"loc1": loc1, "loc2": loc2}


def shares(rows: list[dict[str, Any]], key: str, value: str) -> dict[str, Any]:
    return next(row["shares"] for row in rows if row[key] == value)


def test_utilisation_per_evse_from_the_history(history: dict[str, Any]) -> None:
    rows = utilisation(MARCH_1, AS_CPA, now=at(10))
    seconds = {row.evse_uid: row.seconds for row in rows}
    assert set(seconds) == {"E1", "E2", "E3", "E4"}  # NL*CPB's X is not NL*CPA's
    # E1: CHARGING 00-06, AVAILABLE (OTHER) 06-12, BLOCKED 12-18, OUTOFORDER 18-24
    assert seconds["E1"] == {
        "CHARGING": 6 * HOURS,
        "BLOCKED": 6 * HOURS,
        "OUTOFORDER": 6 * HOURS,
        "OTHER": 6 * HOURS,
        "UNKNOWN": 0.0,
    }
    # E2: UNKNOWN 00-18 (no record yet), CHARGING 18-24
    assert (seconds["E2"]["UNKNOWN"], seconds["E2"]["CHARGING"]) == (18 * HOURS, 6 * HOURS)
    # E3: CHARGING the whole day; E4: never recorded, UNKNOWN the whole day
    assert seconds["E3"]["CHARGING"] == 24 * HOURS
    assert seconds["E4"]["UNKNOWN"] == 24 * HOURS
    figures = utilisation_json(rows)
    assert shares(figures["evses"], "evse_uid", "E1") == {
        "CHARGING": 0.25,
        "BLOCKED": 0.25,
        "OUTOFORDER": 0.25,
        "OTHER": 0.25,
        "UNKNOWN": 0.0,
    }
    assert shares(figures["evses"], "evse_uid", "E2")["UNKNOWN"] == 0.75


def test_utilisation_per_location_over_the_summed_evse_time(history: dict[str, Any]) -> None:
    figures = utilisation_json(utilisation(MARCH_1, AS_CPA, now=at(10)))
    # LOC1: 48 EVSE-hours; CHARGING 6 + 6, BLOCKED 6, OUTOFORDER 6, OTHER 6, UNKNOWN 18
    assert shares(figures["locations"], "location_id", "LOC1") == {
        "CHARGING": 0.25,
        "BLOCKED": 0.125,
        "OUTOFORDER": 0.125,
        "OTHER": 0.125,
        "UNKNOWN": 0.375,
    }
    # LOC2: E3 CHARGING 24 h, E4 UNKNOWN 24 h
    loc2 = shares(figures["locations"], "location_id", "LOC2")
    assert (loc2["CHARGING"], loc2["UNKNOWN"]) == (0.5, 0.5)
    assert [r["evses"] for r in figures["locations"]] == [2, 2]


def test_utilisation_inside_a_longer_period_and_of_the_whole_hub(history: dict[str, Any]) -> None:
    # [28 Feb 18:00, 1 Mar 12:00): E1 AVAILABLE 2 h, CHARGING 20-06 (10 h), AVAILABLE 6 h
    rows = utilisation(Period(at(28, 18, month=2), at(1, 12)), AS_CPA, now=at(10))
    e1 = next(row.seconds for row in rows if row.evse_uid == "E1")
    assert (e1["OTHER"], e1["CHARGING"], e1["UNKNOWN"]) == (8 * HOURS, 10 * HOURS, 0.0)
    assert {row.evse_uid for row in utilisation(MARCH_1, HUB, now=at(10))} == {
        "E1", "E2", "E3", "E4", "X"
    }  # fmt: skip
    # an eMSP operates no EVSEs
    assert utilisation(MARCH_1, AS_MS1, now=at(10)) == []


def test_utilisation_counts_only_what_has_happened(history: dict[str, Any]) -> None:
    # "now" is 1 March 12:00: E1 was CHARGING 6 h and AVAILABLE 6 h of the 12 observed
    figures = utilisation_json(utilisation(MARCH_1, AS_CPA, now=at(1, 12)))
    e1 = next(row for row in figures["evses"] if row["evse_uid"] == "E1")
    assert e1["seconds"]["CHARGING"] + e1["seconds"]["OTHER"] == 12 * HOURS
    assert (e1["shares"]["CHARGING"], e1["shares"]["OTHER"]) == (0.5, 0.5)
    # a period entirely in the future has no observed time: shares are null
    future = utilisation_json(utilisation(MARCH_1, AS_CPA, now=at(1, month=2)))
    assert all(share is None for share in future["evses"][0]["shares"].values())


def test_evse_intervals_clip_and_order() -> None:
    seconds = evse_intervals(
        "CHARGING",
        [(at(1, 1), "UNKNOWN"), (at(1, 2), "RESERVED"), (at(1, 5), "CHARGING")],
        at(1),
        at(1, 4),
    )
    # CHARGING 00-01, UNKNOWN (reported) 01-02, RESERVED (OTHER) 02-04; 05:00 is past the end
    assert seconds == {
        "CHARGING": HOURS,
        "BLOCKED": 0.0,
        "OUTOFORDER": 0.0,
        "OTHER": 2 * HOURS,
        "UNKNOWN": HOURS,
    }


# -- authorizations --------------------------------------------------------------------


@pytest.fixture
def authorizations() -> None:
    def record(cpo: PartyRef, emsp: PartyRef, outcome: str, allowed: str = "", **kw: Any) -> None:
        AuthorizationRecordFactory(
            cpo_country_code=cpo.country_code,
            cpo_party_id=cpo.party_id,
            emsp_country_code=emsp.country_code,
            emsp_party_id=emsp.party_id,
            outcome=outcome,
            allowed=allowed,
            created_at=kw.get("created_at", at(2, 10)),
        )

    answered = AuthorizationOutcome.ANSWERED
    for _ in range(3):
        record(CPA, MS1, answered, "ALLOWED")
    record(CPA, MS1, answered, "BLOCKED")
    record(CPA, MS1, AuthorizationOutcome.UNKNOWN_TOKEN)
    record(CPA, MS1, AuthorizationOutcome.TIMEOUT)
    record(CPA, MS2, answered, "NO_CREDIT")
    record(CPA, MS2, AuthorizationOutcome.FAILED)
    record(CPA, MS1, answered, "ALLOWED", created_at=at(28, month=2))  # before the period
    record(CPB, MS1, answered, "ALLOWED")


def test_authorization_rates_of_a_cpo(authorizations: None) -> None:
    figures = authorization_figures(MARCH_1_TO_4, AS_CPA)
    # 8 routed: 5 answered (3 ALLOWED, BLOCKED, NO_CREDIT), 1 unknown token, 2 failures
    assert {k: figures[k] for k in ("total", "answered", "allowed", "denied")} == {
        "total": 8,
        "answered": 5,
        "allowed": 3,
        "denied": 2,
    }
    assert figures["by_allowed"] == {
        "ALLOWED": 3,
        "BLOCKED": 1,
        "EXPIRED": 0,
        "NO_CREDIT": 1,
        "NOT_ALLOWED": 0,
    }
    assert (figures["unknown_token"], figures["timeout"], figures["failed"]) == (1, 1, 1)
    # decisions = 5 answered + 1 unknown = 6: allow 3/6, deny (2 + 1)/6; failures 2/8
    assert (figures["allow_rate"], figures["deny_rate"], figures["failure_rate"]) == (
        0.5,
        0.5,
        0.25,
    )
    ms1 = figures["per_counterpart"][0]
    assert (ms1["party_id"], ms1["total"], ms1["allow_rate"], ms1["deny_rate"]) == (
        "MS1",
        6,
        0.6,  # 3 of 5 decisions
        0.4,
    )
    assert ms1["failure_rate"] == round(1 / 6, 4)


def test_authorization_rates_of_an_emsp_and_of_the_hub(authorizations: None) -> None:
    figures = authorization_figures(MARCH_1_TO_4, AS_MS1)
    assert figures["total"] == 7  # CPA's 6 and CPB's 1
    assert [(r["party_id"], r["total"]) for r in figures["per_counterpart"]] == [
        ("CPA", 6),
        ("CPB", 1),
    ]
    hub = authorization_figures(MARCH_1_TO_4, HUB)
    assert hub["total"] == 9
    assert [(r["cpo"], r["emsp"]) for r in hub["per_counterpart"]] == [
        ("NL*CPA", "DE*MS1"),
        ("NL*CPA", "DE*MS2"),
        ("NL*CPB", "DE*MS1"),
    ]
    empty = authorization_figures(Period(at(10), at(11)), AS_CPA)
    assert (empty["total"], empty["allow_rate"], empty["failure_rate"]) == (0, None, None)


# -- delivery health -------------------------------------------------------------------


def test_delivery_latency_and_failures_per_receiver() -> None:
    r1, r2 = PlatformFactory(name="A receiver"), PlatformFactory(name="B receiver")
    t = at(2, 12)

    def delivery(receiver: Any, status: str, delivered_after: float | None) -> PushDelivery:
        made = PushDeliveryFactory(
            receiver=receiver,
            status=status,
            created_at=t,
            delivered_at=t + timedelta(seconds=delivered_after) if delivered_after else None,
        )
        PushDelivery.objects.filter(pk=made.pk).update(updated_at=t + timedelta(minutes=1))
        return made

    d1 = delivery(r1, DeliveryStatus.DELIVERED, 2)
    d2 = delivery(r1, DeliveryStatus.DELIVERED, 4)
    delivery(r1, DeliveryStatus.DEAD, None)
    d4 = delivery(r2, DeliveryStatus.FAILED, None)
    PushAttemptFactory(delivery=d1, started_at=t, duration_ms=100)  # 503: failed
    PushAttemptFactory(delivery=d1, started_at=t, duration_ms=300, http_status=200, error="")
    PushAttemptFactory(delivery=d2, started_at=t, duration_ms=200, http_status=200, error="")
    PushAttemptFactory(delivery=d4, started_at=t, duration_ms=50)
    PushAttemptFactory(delivery=d4, started_at=at(10), duration_ms=9999)  # after the period
    rows = delivery_figures(MARCH_1_TO_4)
    assert [row["receiver"] for row in rows] == ["A receiver", "B receiver"]
    a, b = rows
    assert (a["attempts"], a["failed_attempts"], a["delivered"], a["dead"], a["failed"]) == (
        3,
        1,
        2,
        1,
        0,
    )
    # attempts 100, 200, 300 ms: p95 at position 0.95 * 2 = 1.9 -> 200 + 0.9 * 100
    assert a["attempt_ms"] == {"avg": 200.0, "p50": 200.0, "p95": 290.0, "max": 300.0}
    # created to delivered: 2 s and 4 s
    assert a["latency_ms"] == {"avg": 3000.0, "p50": 3000.0, "p95": 3900.0, "max": 4000.0}
    assert (b["attempts"], b["failed_attempts"], b["delivered"], b["failed"]) == (1, 1, 0, 1)
    assert b["attempt_ms"]["p95"] == 50.0
    assert b["latency_ms"] == {"avg": None, "p50": None, "p95": None, "max": None}
    # one receiver only (a partner's own view)
    assert [row["receiver"] for row in delivery_figures(MARCH_1_TO_4, [r2.pk])] == ["B receiver"]


# -- the period ------------------------------------------------------------------------


def test_period_bounds_dates_and_datetimes() -> None:
    assert period_of("2025-03-01", "2025-03-04T12:00:00Z") == Period(at(1), at(4, 12))
    default = period_of(None, "2025-03-31")
    assert default.end - default.start == timedelta(days=30)


@pytest.mark.parametrize(
    ("date_from", "date_to", "named"),
    [
        ("yesterday", "2025-03-04", "date_from"),
        ("2025-03-01", "2025-02-30", "date_to"),
        ("2025-03-01T10:00:00+02:00", None, "date_from"),
        ("2025-03-04", "2025-03-01", "date_to"),  # empty
        ("2024-01-01", "2025-03-01", "date_to"),  # longer than 366 days
        (None, "0001-01-02", "date_to"),  # no default start before year 1
    ],
)
def test_bad_periods_are_2001_naming_the_parameter(
    date_from: str | None, date_to: str | None, named: str
) -> None:
    with pytest.raises(InvalidParametersError) as raised:
        period_of(date_from, date_to)
    assert raised.value.message.startswith(f"{named}:")


def test_kwh_are_summed_in_decimal_and_written_as_strings() -> None:
    cdr("D1", at(1), "0.1", MS1, "LOC1")
    cdr("D2", at(1, 5), "0.2", MS1, "LOC1")
    figures = cdr_figures(MARCH_1_TO_4, AS_CPA)
    assert figures.kwh == Decimal("0.3")  # 0.1 + 0.2 in binary floats is 0.30000000000000004
    assert figures.as_json()["kwh"] == "0.3000"
