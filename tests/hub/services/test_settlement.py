"""Monthly settlement (docs/settlement.md): the seeded March against its statement worked out
by hand; a rerun changes nothing; disputed CDRs kept apart (and a credit follows its
original); proration, scopes and validity; the fee term rules; properties of the pure
computation (net amounts sum to zero per currency, CDR order does not matter)."""

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from celery.schedules import crontab
from django.conf import settings as django_settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from hub.models import (
    AgreementScope,
    FeeTerm,
    PriceCheck,
    SettlementLine,
    SettlementStatement,
    StatementStatus,
)
from hub.services.settlement.compute import (
    CdrFacts,
    TermFacts,
    Window,
    compute_month,
    minor_unit,
    round_money,
)
from hub.services.settlement.fees import FeeTermError, fee_term_add
from hub.services.settlement.statement import (
    SettlementError,
    agreements_in_force,
    parse_period,
    settle_agreement,
    settle_month,
    settle_previous_month,
)
from hub.tasks import settlement_monthly_task
from tests.factories import (
    FeeTermFactory,
    ReconciliationFindingFactory,
    ReconciliationReportFactory,
    RoamingAgreementFactory,
)
from tests.hub.settlement_seed import (
    AFTER_MARCH,
    EXPECTED_LINES,
    EXPECTED_NET,
    EXPECTED_TOTALS,
    MARCH,
    Seed,
    make_cdr,
    seed_march,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def march() -> Seed:
    return seed_march()


def _lines(statement: SettlementStatement, seed: Seed) -> list[tuple[str, ...]]:
    names = {term.pk: name for name, term in seed.terms.items()}
    return [
        (
            names[line.fee_term_id],
            line.kind,
            format(line.quantity.normalize(), "f"),
            format(line.unit_amount.normalize(), "f"),
            format(line.amount.normalize(), "f"),
            line.currency,
            line.payer,
            line.payee,
        )
        for line in statement.lines.order_by("position")
    ]


def _normalised(lines: list[tuple[str, ...]]) -> list[tuple[str, ...]]:
    """Expected figures spelled as written, compared as numbers."""
    return [
        (*row[:2], *(format(Decimal(v).normalize(), "f") for v in row[2:5]), *row[5:])
        for row in lines
    ]


class TestSeededMonth:
    def test_statement_equals_the_hand_computed_one(self, march: Seed) -> None:
        # when
        statement = settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        # then
        assert _lines(statement, march) == _normalised(EXPECTED_LINES)
        assert [line.amount for line in statement.lines.order_by("position")] == [
            Decimal(row[4]) for row in EXPECTED_LINES
        ]
        assert statement.net == EXPECTED_NET
        assert statement.totals == EXPECTED_TOTALS
        assert statement.status == StatementStatus.RECONCILED
        assert statement.period == MARCH

    def test_disputed_cdrs_are_listed_apart_with_their_reasons(self, march: Seed) -> None:
        statement = settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        assert [
            (d["key"], d["cdr"], d["currency"], d["total_cost_excl_vat"])
            for d in statement.disputed
        ] == [
            ("NL/ABC/C6", march.cdrs["C6"].pk, "EUR", "30.0000"),
            ("NL/ABC/C7", march.cdrs["C7"].pk, "EUR", "10.0000"),
        ]
        assert statement.disputed[0]["reasons"] == [
            "price check MISMATCH: the tariff engine's price differs"
        ]
        assert statement.disputed[1]["reasons"] == [
            f"reconciliation DUPLICATE (report #{march.report_id}): Same session_id as C1"
        ]

    def test_running_twice_changes_nothing(self, march: Seed) -> None:
        # given
        first = settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        lines = list(SettlementLine.objects.order_by("pk").values())
        row = SettlementStatement.objects.values().get(pk=first.pk)
        # when
        second = settle_agreement(
            agreement=march.agreement, month=MARCH, now=datetime(2026, 5, 1, tzinfo=UTC)
        )
        # then: the same row, the same lines (ids included), computed_at kept
        assert second.pk == first.pk
        assert SettlementStatement.objects.count() == 1
        assert SettlementStatement.objects.values().get(pk=first.pk) == row
        assert list(SettlementLine.objects.order_by("pk").values()) == lines

    def test_a_changed_fee_is_written_over_the_same_rows(self, march: Seed) -> None:
        # given
        first = settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        ids = list(first.lines.order_by("position").values_list("pk", flat=True))
        FeeTerm.objects.filter(pk=march.terms["hub_emsp"].pk).update(amount=Decimal("0.50"))
        later = datetime(2026, 5, 1, tzinfo=UTC)
        # when
        second = settle_agreement(agreement=march.agreement, month=MARCH, now=later)
        # then
        assert second.pk == first.pk
        assert list(second.lines.order_by("position").values_list("pk", flat=True)) == ids
        assert second.lines.get(position=0).amount == Decimal("1.50")
        assert second.net["EUR"] == {"CPO": "40.28", "EMSP": "-102.22", "HUB": "61.94"}
        assert second.computed_at == later

    def test_a_removed_term_removes_its_line(self, march: Seed) -> None:
        settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        march.terms["analytics"].delete()
        statement = settle_agreement(agreement=march.agreement, month=MARCH, now=AFTER_MARCH)
        assert statement.lines.count() == len(EXPECTED_LINES) - 1
        assert statement.net["EUR"]["HUB"] == "51.96"

    def test_settle_month_covers_every_agreement_in_force(self, march: Seed) -> None:
        other = RoamingAgreementFactory(
            cpo_party_id="ABC", emsp_party_id="OTH", emsp_country_code="FR"
        )
        FeeTermFactory(agreement=other)
        RoamingAgreementFactory(cpo_party_id="ABC", emsp_party_id="OLD", valid_to=date(2026, 2, 28))
        statements = settle_month(month=MARCH, now=AFTER_MARCH)
        assert [s.agreement_id for s in statements] == [march.agreement.pk, other.pk]
        # FR*OTH's only March CDR is C9: one session at the hub's 0.40.
        assert statements[1].net == {"EUR": {"CPO": "0.00", "EMSP": "-0.40", "HUB": "0.40"}}

    def test_the_beat_job_settles_the_previous_month(self, march: Seed) -> None:
        ids = settle_previous_month(now=datetime(2026, 4, 2, 5, 0, tzinfo=UTC))
        assert ids == [SettlementStatement.objects.get(period=MARCH).pk]

    def test_the_february_statement_counts_the_original(self, march: Seed) -> None:
        # C0 is not covered by any reconciliation report: settled, but provisional.
        statement = settle_agreement(
            agreement=march.agreement, month=date(2026, 2, 1), now=AFTER_MARCH
        )
        assert statement.totals["sessions"] == 1
        assert statement.totals["unreconciled"] == 1
        assert statement.status == StatementStatus.PROVISIONAL


class TestDisputes:
    def test_a_credit_of_a_disputed_original_is_left_out_too(self) -> None:
        # given: a mis-priced CDR credited in the next month, then re-issued correctly
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        FeeTermFactory(agreement=agreement)
        wrong = make_cdr(
            "W1",
            end=datetime(2026, 3, 30, tzinfo=UTC),
            kwh="10",
            excl="9.00",
            incl=None,
            price_check=PriceCheck.MISMATCH,
        )
        make_cdr(
            "W1-C",
            end=datetime(2026, 4, 2, tzinfo=UTC),
            kwh="10",
            excl="-9.00",
            incl=None,
            credit_of=wrong,
        )
        make_cdr("W2", end=datetime(2026, 4, 2, tzinfo=UTC), kwh="10", excl="5.00", incl=None)
        # when
        april = settle_agreement(
            agreement=agreement, month=date(2026, 4, 1), now=datetime(2026, 5, 3, tzinfo=UTC)
        )
        # then: one session is billed in April, not zero
        assert april.totals["sessions"] == 1
        assert [d["key"] for d in april.disputed] == ["NL/ABC/W1-C"]
        assert april.disputed[0]["reasons"][0].startswith("credits W1, which is disputed")

    def test_a_credit_without_original_is_disputed(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        orphan = make_cdr(
            "X1-C", end=datetime(2026, 3, 5, tzinfo=UTC), kwh="1", excl="-1.00", incl=None
        )
        orphan.credit, orphan.credit_reference_id = True, "X1"
        orphan.save()
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        assert statement.disputed[0]["reasons"] == ["credit of X1, which the hub does not have"]
        assert statement.totals["credits"] == 0

    def test_ingest_findings_that_put_figures_in_doubt_dispute(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        doubtful = make_cdr(
            "F1", end=datetime(2026, 3, 5, tzinfo=UTC), kwh="1", excl="1", incl=None
        )
        doubtful.findings = [
            {"code": "ENERGY_SUM", "message": "periods sum to 2 kWh"},
            {"code": "TARIFF_MISSING", "message": "no tariff"},
        ]
        doubtful.save()
        fine = make_cdr("F2", end=datetime(2026, 3, 6, tzinfo=UTC), kwh="1", excl="1", incl=None)
        fine.findings = [{"code": "TARIFF_MISSING", "message": "no tariff"}]
        fine.save()
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        assert [(d["key"], d["reasons"]) for d in statement.disputed] == [
            ("NL/ABC/F1", ["ingest finding ENERGY_SUM: periods sum to 2 kWh"])
        ]

    @pytest.mark.parametrize(
        ("kind", "disputed"),
        [
            ("MISPRICED", True),
            ("UNDELIVERED", True),
            ("DEAD_LETTER", True),
            ("SESSION_MISMATCH", True),
            ("MISSING", False),
            ("UNPRICEABLE", False),
            ("NO_SESSION", False),
        ],
    )
    def test_reconciliation_kinds(self, kind: str, disputed: bool) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        cdr = make_cdr("R1", end=datetime(2026, 3, 5, tzinfo=UTC), kwh="1", excl="1", incl=None)
        report = ReconciliationReportFactory(
            period_start=date(2026, 3, 5),
            period_end=date(2026, 3, 6),
            finished_at=datetime(2026, 3, 6, tzinfo=UTC),
        )
        # The CDR link may be gone (SET_NULL): the key still names it.
        ReconciliationFindingFactory(
            report=report, kind=kind, cdr=None, cdr_key="NL/ABC/R1", message="m"
        )
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        assert [d["cdr"] for d in statement.disputed] == ([cdr.pk] if disputed else [])
        assert statement.totals["sessions"] == (0 if disputed else 1)


class TestValidityAndProration:
    def test_an_agreement_starting_mid_month(self) -> None:
        # given: in force from 11 March (21 of 31 days)
        agreement = RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2026, 3, 11))
        FeeTermFactory(agreement=agreement)
        FeeTermFactory(agreement=agreement, kind="MONTHLY_FIXED", amount=Decimal(100), payer="CPO")
        make_cdr("B1", end=datetime(2026, 3, 10, 23, 59, tzinfo=UTC), kwh="1", excl="1", incl=None)
        make_cdr("B2", end=datetime(2026, 3, 11, 0, 1, tzinfo=UTC), kwh="1", excl="1", incl=None)
        # when
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        # then: 100 × 21 / 31 = 67.741… → 67.74; only B2 is within the agreement
        assert [(line.kind, line.quantity, line.amount) for line in statement.lines.all()] == [
            ("PER_SESSION", Decimal(1), Decimal("0.40")),
            ("MONTHLY_FIXED", Decimal(21), Decimal("67.74")),
        ]
        assert statement.totals["outside_agreement"] == 1
        assert statement.totals["days_in_force"] == 21

    def test_real_time_status_fee_needs_the_evse_status_scope(self) -> None:
        scopes = [s for s in AgreementScope.values if s != AgreementScope.EVSE_STATUS]
        agreement = RoamingAgreementFactory(cpo_party_id="ABC", scopes=scopes)
        FeeTermFactory(
            agreement=agreement, kind="REALTIME_STATUS_MONTHLY", amount=Decimal(99), payee="CPO"
        )
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        assert statement.lines.count() == 0
        assert statement.net == {}

    def test_a_term_valid_for_part_of_the_month_counts_its_cdrs_only(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        FeeTermFactory(agreement=agreement, valid_to=date(2026, 3, 15))
        make_cdr("P1", end=datetime(2026, 3, 15, 23, 0, tzinfo=UTC), kwh="1", excl="1", incl=None)
        make_cdr("P2", end=datetime(2026, 3, 16, 1, 0, tzinfo=UTC), kwh="1", excl="1", incl=None)
        statement = settle_agreement(agreement=agreement, month=MARCH, now=AFTER_MARCH)
        assert statement.lines.get().quantity == 1
        assert statement.totals["sessions"] == 2

    def test_the_running_month_is_provisional_and_the_next_refused(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        now = datetime(2026, 3, 20, tzinfo=UTC)
        assert settle_agreement(agreement=agreement, month=MARCH, now=now).status == (
            StatementStatus.PROVISIONAL
        )
        with pytest.raises(SettlementError, match="2026-04 is in the future"):
            settle_agreement(agreement=agreement, month=date(2026, 4, 1), now=now)

    def test_agreements_in_force_reads_the_dates(self) -> None:
        inside = RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2026, 3, 31))
        RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2026, 4, 1))
        RoamingAgreementFactory(
            cpo_party_id="ABC", valid_from=date(2025, 1, 1), valid_to=date(2026, 2, 28)
        )
        ending = RoamingAgreementFactory(
            cpo_party_id="ABC",
            valid_from=date(2025, 1, 1),
            valid_to=date(2026, 3, 1),
            status="ENDED",
        )
        assert set(agreements_in_force(MARCH)) == {inside, ending}


class TestBadInput:
    @pytest.mark.parametrize("text", ["2026-3", "2026/03", "26-03", "2026-13", "march", ""])
    def test_bad_periods(self, text: str) -> None:
        with pytest.raises(SettlementError, match="YYYY-MM"):
            parse_period(text)

    def test_unknown_agreement(self) -> None:
        with pytest.raises(SettlementError, match="no roaming agreement with id 999"):
            settle_month(month=MARCH, agreement_id=999, now=AFTER_MARCH)

    def test_agreement_not_in_force(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2026, 4, 1))
        with pytest.raises(SettlementError, match="was not in force in 2026-03"):
            settle_month(month=MARCH, agreement_id=agreement.pk, now=AFTER_MARCH)

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"amount": Decimal("-0.01")}, "amount", "must not be negative"),
            (
                {"kind": "REVENUE_SHARE", "currency": "", "amount": Decimal("100.01")},
                "amount",
                "0..100",
            ),
            ({"currency": "eur"}, "currency", "ISO 4217"),
            ({"currency": "EURO"}, "currency", "ISO 4217"),
            ({"currency": ""}, "currency", "ISO 4217"),
            ({"kind": "REVENUE_SHARE", "amount": Decimal(2)}, "currency", "must be empty"),
            ({"payer": "HUB", "payee": "HUB"}, "payee", "must differ from the payer"),
            (
                {"valid_from": date(2026, 3, 2), "valid_to": date(2026, 3, 1)},
                "valid_to",
                "before valid_from",
            ),
            ({"kind": "PER_MINUTE"}, "kind", "not a valid choice"),
        ],
    )
    def test_fee_terms_refused(self, changes: dict[str, object], field: str, message: str) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        values: dict[str, object] = {
            "kind": "PER_SESSION",
            "amount": Decimal("0.40"),
            "currency": "EUR",
            "payer": "EMSP",
            "payee": "HUB",
            **changes,
        }
        with pytest.raises(FeeTermError, match=f"{field}: .*{message}"):
            fee_term_add(agreement=agreement, **values)  # type: ignore[arg-type]
        assert FeeTerm.objects.count() == 0

    def test_full_clean_names_the_field(self) -> None:
        term = FeeTerm(
            agreement=RoamingAgreementFactory(cpo_party_id="ABC"),
            kind="PER_KWH",
            amount=Decimal(-1),
            currency="EUR",
            payer="CPO",
            payee="EMSP",
        )
        with pytest.raises(ValidationError) as caught:
            term.full_clean()
        assert set(caught.value.error_dict) == {"amount"}

    @pytest.mark.parametrize(
        "values",
        [
            {"amount": Decimal(-1)},
            {"payer": "CPO", "payee": "CPO"},
            {"kind": "REVENUE_SHARE", "amount": Decimal(101), "currency": ""},
        ],
    )
    def test_the_database_refuses_what_validation_would(self, values: dict[str, object]) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            FeeTermFactory(**values)

    def test_a_statement_period_is_a_first_of_month(self) -> None:
        with pytest.raises(IntegrityError), transaction.atomic():
            SettlementStatement.objects.create(
                agreement=RoamingAgreementFactory(cpo_party_id="ABC"),
                period=date(2026, 3, 2),
                computed_at=AFTER_MARCH,
            )


class TestRounding:
    @pytest.mark.parametrize(
        ("value", "currency", "expected"),
        [
            ("0.525", "EUR", "0.53"),
            ("0.515", "EUR", "0.52"),
            ("-0.525", "EUR", "-0.53"),
            ("2.5", "JPY", "3"),
            ("1.0005", "KWD", "1.001"),
        ],
    )
    def test_half_up_to_the_minor_unit(self, value: str, currency: str, expected: str) -> None:
        assert format(round_money(Decimal(value), currency), "f") == expected

    def test_minor_units(self) -> None:
        assert minor_unit("EUR") == Decimal("0.01")
        assert minor_unit("JPY") == Decimal(1)
        assert minor_unit("BHD") == Decimal("0.001")


# -- properties of the pure computation -------------------------------------------------------

amounts = st.decimals(min_value=0, max_value=1000, places=4, allow_nan=False, allow_infinity=False)
cdr_facts = st.builds(
    CdrFacts,
    key=st.text("ABC123", min_size=1, max_size=6),
    day=st.dates(min_value=date(2026, 3, 1), max_value=date(2026, 3, 31)),
    currency=st.sampled_from(["EUR", "CHF", "JPY"]),
    credit=st.booleans(),
    kwh=amounts,
    charging_hours=st.decimals(min_value=0, max_value=24, places=4),
    cost_excl_vat=amounts,
    cost_incl_vat=st.none() | amounts,
)
term_facts = st.builds(
    TermFacts,
    id=st.integers(min_value=1, max_value=10**6),
    kind=st.sampled_from(
        [
            "PER_SESSION",
            "PER_KWH",
            "PER_HOUR",
            "REVENUE_SHARE",
            "MONTHLY_FIXED",
            "REALTIME_STATUS_MONTHLY",
            "ANALYTICS_MONTHLY",
        ]
    ),
    payer=st.sampled_from(["CPO", "EMSP"]),
    payee=st.just("HUB"),
    amount=st.decimals(min_value=0, max_value=100, places=4),
    currency=st.sampled_from(["EUR", "GBP", "JPY"]),
    window=st.builds(
        Window,
        start=st.none() | st.dates(min_value=date(2026, 2, 20), max_value=date(2026, 3, 31)),
    ),
)


@settings(max_examples=60, deadline=None)
@given(
    cdrs=st.lists(cdr_facts, max_size=12), terms=st.lists(term_facts, max_size=6), data=st.data()
)
def test_net_amounts_sum_to_zero_and_cdr_order_does_not_matter(
    cdrs: list[CdrFacts], terms: list[TermFacts], data: st.DataObject
) -> None:
    def run(facts: list[CdrFacts]) -> object:
        return compute_month(
            month=MARCH,
            agreement=Window(date(2026, 3, 5), None),
            has_status_scope=True,
            terms=terms,
            cdrs=facts,
        )

    computed = run(cdrs)
    for currency, parties in computed.net.items():  # type: ignore[attr-defined]
        assert sum(Decimal(v) for v in parties.values()) == 0, currency
    for line in computed.lines:  # type: ignore[attr-defined]
        assert line.amount == round_money(line.amount, line.currency)
    shuffled = data.draw(st.permutations(cdrs))
    assert run(list(shuffled)) == computed


def test_the_monthly_task_is_scheduled_and_settles_the_previous_utc_month() -> None:
    # given: the beat entry, and an agreement with one CDR last month
    entry = django_settings.CELERY_BEAT_SCHEDULE["settlement-monthly"]
    assert entry["task"] == settlement_monthly_task.name == "hub.settlement_monthly"
    schedule = entry["schedule"]
    assert isinstance(schedule, crontab)
    assert (schedule.day_of_month, schedule.hour, schedule.minute) == ({2}, {5}, {0})
    agreement = RoamingAgreementFactory(cpo_party_id="ABC")
    FeeTermFactory(agreement=agreement)
    first = timezone.now().astimezone(UTC).date().replace(day=1)
    last_month = date(first.year - (first.month == 1), (first.month - 2) % 12 + 1, 1)
    make_cdr(
        "M1",
        end=datetime.combine(last_month, datetime.min.time(), UTC),
        kwh="1",
        excl="1",
        incl=None,
    )
    # when
    (statement_id,) = settlement_monthly_task()
    # then
    statement = SettlementStatement.objects.get(pk=statement_id)
    assert (statement.agreement_id, statement.period) == (agreement.pk, last_month)
    assert statement.net["EUR"]["HUB"] == "0.40"
