"""`make faults`: start a private PostgreSQL cluster and Redis, run the fault scenarios
(tests/faults) against them, print one table and write reports/faults.json.

Exit status: non-zero if any scenario lost an acknowledged update, failed, or wrote no row.
The servers are stopped whatever happens.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.faults.servers import PgCluster, RedisServer, free_port, private_cluster_root

ROOT = Path(__file__).resolve().parent.parent.parent
COLUMNS = (
    ("scenario", "scenario", 40),
    ("acknowledged", "acknowledged", 12),
    ("delivered", "delivered", 9),
    ("lost", "lost", 4),
    ("duplicates", "duplicates", 10),
    ("converge_s", "converge (s)", 12),
    ("refused", "refused", 7),
)


def table(rows: list[dict[str, object]]) -> str:
    def cell(value: object, width: int, left: bool) -> str:
        text = "-" if value is None else str(value)
        return text.ljust(width) if left else text.rjust(width)

    widths = [max([w] + [len(str(r.get(key))) for r in rows]) for key, _, w in COLUMNS]
    columns = [(key, title, width) for (key, title, _), width in zip(COLUMNS, widths, strict=True)]
    lines = ["  ".join(cell(title, w, i == 0) for i, (_, title, w) in enumerate(columns))]
    lines.append("  ".join("-" * w for _, _, w in columns))
    for row in rows:
        lines.append(
            "  ".join(cell(row.get(key), w, i == 0) for i, (key, _, w) in enumerate(columns))
        )
    return "\n".join(lines)


def main(argv: list[str]) -> int:
    run_dir = ROOT / ".run" / "faults"
    run_dir.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=run_dir))
    results = work / "results.jsonl"
    # The cluster lives outside the checkout, which may sit in a folder only its owner can
    # enter (a home folder, mktemp -d): initdb and postgres run as the `postgres` user.
    pg_root = private_cluster_root()
    pg = PgCluster(pg_root / "pg", free_port())
    redis = RedisServer(work / "redis", free_port())
    started = time.monotonic()
    status = 1
    try:
        pg.init()
        pg.start()
        redis.start()
        env = dict(os.environ)
        env.update(
            HUB_FAULTS_RUN="1",
            DATABASE_URL=pg.url,
            REDIS_URL=redis.url,
            FAULTS_PG_DIR=str(pg.directory),
            FAULTS_PG_PORT=str(pg.port),
            FAULTS_REDIS_DIR=str(redis.directory),
            FAULTS_REDIS_PORT=str(redis.port),
            FAULTS_RESULTS=str(results),
        )
        env.pop("PYTEST_XDIST_WORKER", None)
        command = [
            sys.executable, "-m", "pytest", "tests/faults", "-p", "no:randomly",
            "-p", "no:cacheprovider", "-q", "--basetemp", str(work / "pytest"), *argv,
        ]  # fmt: skip
        pytest_status = subprocess.call(command, cwd=ROOT, env=env)  # noqa: S603
        rows = (
            [json.loads(line) for line in results.read_text().splitlines()]
            if results.exists()
            else []
        )
        print()
        print(table(rows))
        elapsed = time.monotonic() - started
        print(f"\n{len(rows)} scenarios in {elapsed:.0f} s; pytest exit status {pytest_status}")
        reports = ROOT / "reports"
        reports.mkdir(exist_ok=True)
        report = {"scenarios": rows, "elapsed_s": round(elapsed, 1), "pytest_status": pytest_status}
        (reports / "faults.json").write_text(json.dumps(report, indent=2) + "\n")
        print(f"written {reports / 'faults.json'}")
        lost = sum(int(r["lost"]) for r in rows)
        status = 0 if pytest_status == 0 and rows and lost == 0 else 1
    finally:
        redis.kill()
        pg.stop("immediate")
        if status == 0:
            shutil.rmtree(work, ignore_errors=True)
            shutil.rmtree(pg_root, ignore_errors=True)
        else:
            print(f"logs and data kept in {work} and {pg_root}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
