"""PostgreSQL prepared statements (issue 14): planning the same statements on every request
cost more than running them; `DJANGO_DB_PREPARED_STATEMENTS=false` turns them off for a
transaction-pooling PgBouncer that cannot carry them."""

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
            # The caller's own choice must not decide what the defaults are.
            **{k: v for k, v in os.environ.items() if k != "DJANGO_DB_PREPARED_STATEMENTS"},
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


def test_postgresql_binds_on_the_server_and_prepares() -> None:
    options = database_options("postgres://u@127.0.0.1:5432/db")
    assert options["server_side_binding"] is True
    assert options["prepare_threshold"] == 5


def test_prepared_statements_can_be_turned_off() -> None:
    options = database_options(
        "postgres://u@127.0.0.1:5432/db", DJANGO_DB_PREPARED_STATEMENTS="false"
    )
    assert "server_side_binding" not in options
    assert "prepare_threshold" not in options


def test_sqlite_is_left_as_it_was(tmp_path: Path) -> None:
    options = database_options(f"sqlite:///{tmp_path / 'db.sqlite3'}")
    assert "server_side_binding" not in options
    assert options["transaction_mode"] == "IMMEDIATE"


@pytest.mark.django_db
def test_a_repeated_statement_is_prepared_on_postgresql() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's (CI runs this on PostgreSQL)")
    from hub.models import Location

    for _ in range(6):
        list(Location.objects.filter(location_id="NOPE"))
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any('FROM "hub_location"' in statement for statement in prepared), prepared
