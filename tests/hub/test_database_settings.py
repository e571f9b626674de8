"""PostgreSQL runs the hub's statements without JIT (issue 14): on statistics that lag a bulk
load its cost estimate crosses jit_above_cost and it compiles for longer than the query
runs. `DJANGO_DB_JIT=true` keeps the server's own setting."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection

ROOT = Path(__file__).resolve().parents[2]


def database_options(url: str, **env: str) -> dict[str, object]:
    """settings.local's DATABASES["default"]["OPTIONS"] for a DATABASE_URL (no connection)."""
    script = (
        "import json, django; django.setup(); from django.conf import settings; "
        "print(json.dumps(settings.DATABASES['default'].get('OPTIONS', {})))"
    )
    answer = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env={
            # The caller's own choice must not decide what the default is.
            **{k: v for k, v in os.environ.items() if k != "DJANGO_DB_JIT"},
            "DJANGO_SETTINGS_MODULE": "settings.local",
            "DATABASE_URL": url,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    options: dict[str, object] = json.loads(answer.stdout.strip().splitlines()[-1])
    return options


def test_postgresql_connections_turn_jit_off() -> None:
    assert database_options("postgres://u@127.0.0.1:5432/db")["options"] == "-c jit=off"


def test_jit_can_be_left_to_the_server() -> None:
    options = database_options("postgres://u@127.0.0.1:5432/db", DJANGO_DB_JIT="true")
    assert "options" not in options


def test_sqlite_is_left_as_it_was(tmp_path: Path) -> None:
    options = database_options(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert "options" not in options
    assert options["transaction_mode"] == "IMMEDIATE"


@pytest.mark.django_db
def test_the_connection_runs_without_jit_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("JIT is PostgreSQL's (CI runs this on PostgreSQL)")
    with connection.cursor() as cursor:
        cursor.execute("SHOW jit")
        assert cursor.fetchone() == ("off",)
