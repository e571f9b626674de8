"""`make demo` end to end (`manage.py hub_demo --quick --exit`): the hub on the embedded
default in a temporary folder, five simulated partners, the scripted day, then a clean exit.
The demo runs as a user runs it, in a subprocess; what it printed is checked against what its
database holds afterwards (the demo's own claims are not taken on trust)."""

import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

from partners.server import free_port

pytestmark = pytest.mark.integration

# A failure bound, not a timed assert: the quick day takes well under a minute here.
DEMO_TIMEOUT_S = 170


def run_demo(
    data_dir: Path, *args: str, timeout: float = DEMO_TIMEOUT_S
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL")
        and not k.startswith(("PYTEST_", "HUB_TEST_"))
    }
    command = [sys.executable, "manage.py", "hub_demo", "--data-dir", str(data_dir)]
    command += ["--port", str(free_port()), *args]
    return subprocess.run(  # noqa: S603 - our interpreter
        command,
        cwd=settings.BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def play_quick_day(data_dir: Path) -> tuple[str, sqlite3.Connection]:
    """One quick demo run: its output and its database (read-only)."""
    result = run_demo(data_dir, "--quick", "--exit")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return result.stdout, sqlite3.connect(f"file:{data_dir / 'db.sqlite3'}?mode=ro", uri=True)


def scalar(db: sqlite3.Connection, sql: str, *params: object) -> int:
    return int(db.execute(sql, params).fetchone()[0])


def delivered(db: sqlite3.Connection, module: str, party_id: str) -> int:
    return scalar(
        db,
        "SELECT count(*) FROM hub_pushdelivery d JOIN hub_platformrole r"
        " ON r.platform_id = d.receiver_id"
        " WHERE d.module = ? AND d.status = 'DELIVERED' AND r.party_id = ?",
        module,
        party_id,
    )


def check_five_partners_register_through_the_handshake(output: str, db: sqlite3.Connection) -> None:
    assert len(re.findall(r"registers with the hub", output)) == 5
    assert len(re.findall(r"POST credentials: platform #\d CONNECTED", output)) == 5
    assert scalar(db, "SELECT count(*) FROM hub_platform WHERE registered = 1") == 5
    roles = db.execute("SELECT role, party_id FROM hub_platformrole ORDER BY party_id").fetchall()
    assert sorted(roles) == sorted(
        [("CPO", "AMS"), ("CPO", "BRU"), ("CPO", "KLN"), ("EMSP", "EVA"), ("EMSP", "ROA")]
    )


def check_every_location_reaches_each_emsp(output: str, db: sqlite3.Connection) -> None:
    assert scalar(db, "SELECT count(*) FROM hub_location") == 30
    for name, party_id in (("Evadrive (NL*EVA)", "EVA"), ("Roamly (DE*ROA)", "ROA")):
        assert f"eMSP {name} received 30 locations" in output
        # each location once as a PUT (an EVSE PATCH is a delivery of its own)
        rows = db.execute(
            "SELECT count(DISTINCT d.object_key) FROM hub_pushdelivery d JOIN hub_platformrole r"
            " ON r.platform_id = d.receiver_id WHERE d.module = 'locations'"
            " AND d.status = 'DELIVERED' AND d.operation = 'PUT' AND r.party_id = ?",
            (party_id,),
        ).fetchone()
        assert rows[0] == 30
    assert delivered(db, "tokens", "AMS") == 7  # 4 + 3 tokens, to each CPO


def check_authorization_and_both_commands_complete(output: str, db: sqlite3.Connection) -> None:
    assert "routed it to eMSP Roamly (DE*ROA), which answered ALLOWED" in output
    assert len(re.findall(r"got result ACCEPTED at http://127\.0\.0\.1:\d+", output)) == 2
    states = db.execute("SELECT operation, state FROM hub_asyncrequest").fetchall()
    assert sorted(states) == [
        ("START_SESSION", "RESULT_RECEIVED"),
        ("STOP_SESSION", "RESULT_RECEIVED"),
    ]
    assert delivered(db, "commands", "EVA") == 2  # the two CommandResults relayed


def check_session_and_cdr_reach_the_token_owner(output: str, db: sqlite3.Connection) -> None:
    assert scalar(db, "SELECT count(*) FROM hub_session WHERE status = 'COMPLETED'") == 1
    assert re.search(r"eMSP Evadrive \(NL\*EVA\) received CDR CDR-\w+: 18\.5 kWh", output)
    assert delivered(db, "sessions", "EVA") >= 1
    assert delivered(db, "cdrs", "EVA") == 1
    assert delivered(db, "sessions", "ROA") == 0


def check_the_down_emsp_catches_up(output: str, db: sqlite3.Connection) -> None:
    assert re.search(r"hub: \d+ failed attempts to Roamly \(last: ConnectError\)", output)
    assert "all 8 missed statuses applied; circuit CLOSED, 0 deliveries waiting" in output
    waiting = scalar(
        db,
        "SELECT count(*) FROM hub_pushdelivery d JOIN hub_platformrole r"
        " ON r.platform_id = d.receiver_id"
        " WHERE d.status IN ('PENDING', 'IN_FLIGHT') AND r.party_id = 'ROA'",
    )
    assert waiting == 0
    failed_attempts = scalar(
        db,
        "SELECT count(*) FROM hub_pushattempt a JOIN hub_pushdelivery d ON d.id = a.delivery_id"
        " JOIN hub_platformrole r ON r.platform_id = d.receiver_id"
        " WHERE r.party_id = 'ROA' AND a.error LIKE '%ConnectError%'",
    )
    assert failed_attempts >= 5  # the circuit opened on them
    # 18 EVSE changes in all, each delivered to Roamly (8 of them after it came back)
    patches = db.execute(
        "SELECT count(*) FROM hub_pushdelivery d JOIN hub_platformrole r"
        " ON r.platform_id = d.receiver_id WHERE d.module = 'locations'"
        " AND d.status = 'DELIVERED' AND d.operation = 'PATCH' AND r.party_id = 'ROA'"
    ).fetchone()[0]
    assert patches == 18


def check_reconciliation_finds_the_missing_cdr(output: str, db: sqlite3.Connection) -> None:
    assert "Period " in output and "2 report(s)" in output
    reports = db.execute(
        "SELECT cpo_party_id, emsp_party_id, status, counts FROM hub_reconciliationreport"
        " ORDER BY cpo_party_id"
    ).fetchall()
    assert [r[:3] for r in reports] == [("AMS", "EVA", "DONE"), ("BRU", "ROA", "DONE")]
    assert '"MISSING": 1' in reports[1][3] and '"MISSING": 0' in reports[0][3]
    assert "eMSP Roamly (DE*ROA) received CDR-LOST-1" in output
    assert delivered(db, "cdrs", "ROA") == 1


def check_it_ends_with_the_admin_login(output: str, db: sqlite3.Connection) -> None:
    assert "The scripted day is over; everything keeps running." in output
    assert re.search(r"admin: +http://127\.0\.0\.1:\d+/admin/ +login demo / demo", output)
    assert scalar(db, "SELECT count(*) FROM auth_user WHERE username = 'demo'") == 1


# One test plays the day and checks every step: the demo runs once (xdist may spread the
# tests of a module over workers, and each would run its own demo).
def test_the_quick_day_plays_every_step(tmp_path: Path) -> None:
    output, db = play_quick_day(tmp_path / "var-demo")
    try:
        check_five_partners_register_through_the_handshake(output, db)
        check_every_location_reaches_each_emsp(output, db)
        check_authorization_and_both_commands_complete(output, db)
        check_session_and_cdr_reach_the_token_owner(output, db)
        check_the_down_emsp_catches_up(output, db)
        check_reconciliation_finds_the_missing_cdr(output, db)
        check_it_ends_with_the_admin_login(output, db)
    finally:
        db.close()


def test_a_step_past_its_timeout_fails_loudly(tmp_path: Path) -> None:
    # when: no step may take more than 0.1 s (the hub alone needs seconds to start)
    result = run_demo(tmp_path / "demo", "--quick", "--exit", "--timeout", "0.1", timeout=60)
    # then: a non-zero exit naming what did not happen, and the hub stopped
    assert result.returncode == 1
    assert "DEMO FAILED" in result.stdout
    assert "did not start within 0 s" in result.stdout
    assert "stopped (the hub exited with" in result.stdout


def test_a_folder_that_is_not_the_demos_is_never_wiped(tmp_path: Path) -> None:
    # given: a folder with someone's file in it
    (tmp_path / "thesis.txt").write_text("precious")
    # when
    result = run_demo(tmp_path, "--quick", "--exit", timeout=60)
    # then
    assert result.returncode == 1
    assert "is not empty and not a demo folder: not wiping it" in result.stderr
    assert (tmp_path / "thesis.txt").read_text() == "precious"
