"""The `settlement` and `roaming_fee` commands: the seeded March printed and exported as CSV
(figures written out by hand in tests/hub/settlement_seed.py), and every bad input refused
with a clear CommandError that changes nothing."""

import csv
import io
from datetime import UTC, date
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hub.models import FeeTerm, SettlementStatement
from tests.factories import RoamingAgreementFactory
from tests.hub.settlement_seed import EXPECTED_LINES, EXPECTED_NET, Seed, seed_march

pytestmark = pytest.mark.django_db


@pytest.fixture
def march() -> Seed:
    return seed_march()


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


class TestSettlementCommand:
    def test_prints_a_readable_statement(self, march: Seed) -> None:
        # when
        out = run("settlement", "--period", "2026-03")
        # then
        assert out.startswith("Period 2026-03: 1 statement(s)\n")
        assert (
            f"Settlement 2026-03 · agreement #{march.agreement.pk} CPO NL*ABC ↔ eMSP DE*EMS · "
            "RECONCILED" in out
        )
        assert "Settled CDRs: 4 and 1 credit(s), 3 session(s) net, 94.9444 kWh" in out
        assert "Disputed CDRs (left out of the fees): 2" in out
        assert "NL/ABC/C6  EUR 30.0000" in out
        rows = [line.split() for line in out.splitlines()]
        assert rows[next(i for i, r in enumerate(rows) if r[:1] == ["PER_SESSION"])][:8] == [
            "PER_SESSION",
            "3",
            "0.4",
            "1.20",
            "EUR",
            "eMSP",
            "→",
            "hub",
        ]
        assert ["EUR", "CPO", "40.28", "eMSP", "-101.92", "hub", "61.64"] in rows
        assert ["CHF", "CPO", "-0.41", "eMSP", "0.00", "hub", "0.41"] in rows

    def test_csv_holds_lines_net_and_disputed(self, march: Seed, tmp_path: Path) -> None:
        # when
        target = tmp_path / "march.csv"
        out = run(
            "settlement",
            "--period",
            "2026-03",
            "--agreement",
            str(march.agreement.pk),
            "--csv",
            str(target),
        )
        # then
        assert f"CSV written to {target}" in out
        rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
        lines = [r for r in rows if r["section"] == "line"]
        assert [(r["kind"], r["amount"], r["currency"], r["payer"], r["payee"]) for r in lines] == [
            (row[1], row[4], row[5], row[6], row[7]) for row in EXPECTED_LINES
        ]
        net = {(r["currency"], r["payee"]): r["amount"] for r in rows if r["section"] == "net"}
        assert net == {
            (currency, party): amount
            for currency, parties in EXPECTED_NET.items()
            for party, amount in parties.items()
        }
        disputed = [r["detail"] for r in rows if r["section"] == "disputed"]
        assert [d.split(":")[0] for d in disputed] == ["NL/ABC/C6", "NL/ABC/C7"]
        assert {r["period"] for r in rows} == {"2026-03"}

    def test_twice_gives_the_same_output_and_rows(self, march: Seed, tmp_path: Path) -> None:
        first = run("settlement", "--period", "2026-03", "--csv", str(tmp_path / "a.csv"))
        statement = SettlementStatement.objects.values().get()
        second = run("settlement", "--period", "2026-03", "--csv", str(tmp_path / "b.csv"))
        assert first.replace("a.csv", "b.csv") == second
        assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
        assert SettlementStatement.objects.values().get() == statement

    @pytest.mark.parametrize(
        ("args", "message"),
        [
            (["--period", "2026-3"], "the period must be a month YYYY-MM (got '2026-3')"),
            (["--period", "2026-00"], "YYYY-MM"),
            (["--period", "next"], "YYYY-MM"),
            (["--period", "2026-03", "--agreement", "999"], "no roaming agreement with id 999"),
            (["--period", "2026-03", "--agreement", "abc"], "--agreement must be a number"),
            (["--period", "2026-03", "--agreement", "0"], "--agreement must be a positive"),
        ],
    )
    def test_bad_input(self, march: Seed, args: list[str], message: str) -> None:
        with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
            run("settlement", *args)
        assert not SettlementStatement.objects.exists()

    def test_a_future_period_is_refused(self, march: Seed) -> None:
        today = timezone.now().astimezone(UTC).date()
        nxt = date(today.year + (today.month == 12), today.month % 12 + 1, 1)
        with pytest.raises(CommandError, match=f"{nxt:%Y-%m} is in the future"):
            run("settlement", "--period", f"{nxt:%Y-%m}")

    def test_an_agreement_not_in_force_is_refused(self) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC", valid_from=date(2026, 4, 1))
        with pytest.raises(CommandError, match="was not in force in 2026-03"):
            run("settlement", "--period", "2026-03", "--agreement", str(agreement.pk))

    def test_an_unwritable_csv_is_an_error(self, march: Seed, tmp_path: Path) -> None:
        with pytest.raises(CommandError, match="--csv: cannot write"):
            run("settlement", "--period", "2026-03", "--csv", str(tmp_path / "no" / "x.csv"))


class TestRoamingFeeCommand:
    def test_add_list_remove(self) -> None:
        # given
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        # when
        out = run(
            "roaming_fee",
            "add",
            "--agreement",
            str(agreement.pk),
            "--kind",
            "PER_SESSION",
            "--amount",
            "0.40",
            "--currency",
            "EUR",
            "--payer",
            "EMSP",
            "--payee",
            "HUB",
            "--valid-from",
            "2026-01-01",
        )
        share = run(
            "roaming_fee",
            "add",
            "--agreement",
            str(agreement.pk),
            "--kind",
            "REVENUE_SHARE",
            "--amount",
            "2.5",
            "--payer",
            "CPO",
            "--payee",
            "EMSP",
        )
        # then
        term = FeeTerm.objects.get(kind="PER_SESSION")
        assert (
            out == f"Added fee term {term.pk} to agreement {agreement.pk}: "
            "PER_SESSION 0.4 EUR EMSP→HUB\n"
        )
        assert (term.amount, term.currency, term.valid_from) == (
            Decimal("0.40"),
            "EUR",
            date(2026, 1, 1),
        )
        assert "REVENUE_SHARE 2.5% CPO→EMSP" in share
        listing = run("roaming_fee", "list", "--agreement", str(agreement.pk)).splitlines()
        assert listing[0].split() == [
            "id",
            "agreement",
            "kind",
            "amount",
            "payer",
            "→",
            "payee",
            "valid",
        ]
        assert listing[1].split()[5:9] == ["PER_SESSION", "0.4", "EUR", "EMSP"]
        assert listing[2].split()[5:7] == ["REVENUE_SHARE", "2.5%"]
        assert run("roaming_fee", "remove", str(term.pk)).startswith(f"Removed fee term {term.pk}")
        assert list(FeeTerm.objects.values_list("kind", flat=True)) == ["REVENUE_SHARE"]

    def test_list_without_terms(self) -> None:
        assert run("roaming_fee", "list") == "No fee terms.\n"

    @pytest.mark.parametrize(
        ("changes", "message"),
        [
            ({"--amount": "-1"}, "amount: must not be negative"),
            ({"--amount": "abc"}, "amount: not a number"),
            ({"--amount": "NaN"}, "amount: not a number"),
            (
                {"--kind": "REVENUE_SHARE", "--currency": "", "--amount": "120"},
                "amount: a revenue share is a percent, 0..100",
            ),
            ({"--currency": "euro"}, "currency: .*must be an ISO 4217 currency code"),
            ({"--payee": "EMSP"}, "payee: must differ from the payer"),
            ({"--agreement": "999"}, "no roaming agreement with id 999"),
            ({"--kind": "PER_MINUTE"}, "argument --kind: invalid choice: 'PER_MINUTE'"),
            ({"--payer": "BANK"}, "argument --payer: invalid choice: 'BANK'"),
            ({"--valid-from": "2026-02-30"}, "--valid-from must be a date"),
            (
                {"--valid-from": "2026-03-02", "--valid-to": "2026-03-01"},
                "valid_to: must not be before valid_from",
            ),
        ],
    )
    def test_add_refused(self, changes: dict[str, str], message: str) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        options = {
            "--agreement": str(agreement.pk),
            "--kind": "PER_KWH",
            "--amount": "0.01",
            "--currency": "EUR",
            "--payer": "EMSP",
            "--payee": "CPO",
            **changes,
        }
        args = [item for pair in options.items() for item in pair]
        with pytest.raises(CommandError, match=message):
            run("roaming_fee", "add", *args)
        assert not FeeTerm.objects.exists()

    def test_remove_unknown(self) -> None:
        with pytest.raises(CommandError, match="no fee term with id 42"):
            run("roaming_fee", "remove", "42")
