"""`manage.py roaming_agreement`: add, list, suspend, resume, end; every bad input a
CommandError (non-zero exit) naming the field, nothing stored."""

import subprocess
import sys
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from hub.models import AgreementStatus, RoamingAgreement
from tests.factories import LocationFactory, RoamingAgreementFactory
from tests.worker import ROOT

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("roaming_agreement", *args, stdout=out)
    return out.getvalue()


def test_add_list_suspend_resume_end(pair: dict[str, Any]) -> None:
    LocationFactory(party=("NL", "CPO"), location_id="LOC1")
    out = run(
        "add", "--cpo", "NL-CPO", "--emsp", "de-ems", "--scopes", "locations,evse_status",
        "--locations", "loc1", "--to", "2099-12-31",
    )  # fmt: skip
    agreement = RoamingAgreement.objects.get()
    assert out.startswith(f"Added agreement {agreement.pk} (NL*CPO ↔ DE*EMS); started")
    assert agreement.valid_from == timezone.localdate()
    assert agreement.scopes == ["locations", "evse_status"]
    listed = run("list").splitlines()
    assert listed[0].split() == ["ID", "CPO", "EMSP", "PERIOD", "STATUS", "IN", "FORCE", "SCOPES"]
    assert listed[1].split() == [
        str(agreement.pk), "NL*CPO", "DE*EMS", f"{agreement.valid_from}..2099-12-31", "ACTIVE",
        "yes", "locations,evse_status", "(locations", "LOC1)",
    ]  # fmt: skip
    assert "is SUSPENDED; stopped" in run("suspend", str(agreement.pk))
    assert "is ACTIVE; started" in run("resume", str(agreement.pk))
    assert "is ENDED; stopped" in run("end", str(agreement.pk))
    agreement.refresh_from_db()
    assert (agreement.status, agreement.in_force) == (AgreementStatus.ENDED, False)


def test_add_defaults_to_every_scope(pair: dict[str, Any]) -> None:
    run("add", "--cpo", "NL*CPO", "--emsp", "DE*EMS", "--from", "2030-01-01")
    agreement = RoamingAgreement.objects.get()
    assert len(agreement.scopes) == 6
    assert not agreement.in_force  # starts in 2030


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--cpo", "NL-NOP", "--emsp", "DE-EMS"],
            "cpo: NL*NOP is not a party registered at the hub",
        ),
        (["--cpo", "NL-CPO", "--emsp", "NL-CPO"], "emsp: NL*CPO is registered as CPO, not as an"),
        (["--cpo", "NLCPOX", "--emsp", "DE-EMS"], "cpo: 'NLCPOX' is not a party"),
        (
            ["--cpo", "NL-CPO", "--emsp", "DE-EMS", "--scopes", "locations,wifi"],
            "scopes: unknown scope(s) wifi; the scopes are locations, evse_status",
        ),
        (
            ["--cpo", "NL-CPO", "--emsp", "DE-EMS", "--locations", "GHOST"],
            "location_ids: NL*CPO has no stored location GHOST",
        ),
        (["--cpo", "NL-CPO", "--emsp", "DE-EMS", "--from", "2026-13-01"], "--from '2026-13-01'"),
        (
            ["--cpo", "NL-CPO", "--emsp", "DE-EMS", "--from", "2026-05-02", "--to", "2026-05-01"],
            "valid_to: valid_to 2026-05-01 is before valid_from 2026-05-02",
        ),
    ],
)
def test_add_refusals(pair: dict[str, Any], args: list[str], message: str) -> None:
    with pytest.raises(CommandError) as raised:
        run("add", *args)
    assert message in str(raised.value)
    assert not RoamingAgreement.objects.exists()


def test_overlap_and_transition_refusals(pair: dict[str, Any]) -> None:
    agreement = RoamingAgreementFactory(status=AgreementStatus.ENDED)
    with pytest.raises(CommandError, match=r"status: agreement \d+ is ENDED; only SUSPENDED"):
        run("resume", str(agreement.pk))
    with pytest.raises(CommandError, match="agreement: there is no roaming agreement 4242"):
        run("end", "4242")
    active = RoamingAgreementFactory()
    with pytest.raises(CommandError, match=rf"valid_from: agreement {active.pk} between"):
        run("add", "--cpo", "NL-CPO", "--emsp", "DE-EMS")


def test_a_refusal_exits_non_zero() -> None:
    # the real entry point: CommandError becomes a message on stderr and exit status 1
    result = subprocess.run(  # noqa: S603 - our own interpreter and arguments
        [sys.executable, "manage.py", "roaming_agreement", "suspend", "notanumber"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert "invalid int value: 'notanumber'" in result.stderr
