"""`python -m benchmarks` (`make bench`): every scenario, each in its own process, then
reports/bench.json and a table of every ratio side by side.

    .venv/bin/python -m benchmarks                 # all scenarios, full sizes
    .venv/bin/python -m benchmarks --only S3,S4    # some of them
    .venv/bin/python -m benchmarks --quick         # small sizes: checks the harness runs

Runs on PostgreSQL and Redis (DATABASE_URL / REDIS_URL; `make bench` defaults them to the CI
services). Exit status 1 when a scenario failed to run; a goal not met is reported in the
table, not an error (`--strict` makes it one).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.harness import table

ROOT = Path(__file__).resolve().parent.parent
REPORT = ROOT / "reports" / "bench.json"

# In the order they run: the cheap ones first, so a broken setup shows early.
SCENARIOS: list[tuple[str, str]] = [
    ("S3", "benchmarks.s3_inbound_patch"),
    ("S4", "benchmarks.s4_get_all_pages"),
    ("S1", "benchmarks.s1_routed"),
    ("S2", "benchmarks.s2_fanout"),
    ("S0", "benchmarks.s0_peer"),
    ("S5", "benchmarks.s5_reconciliation"),
]
# A scenario that runs longer than this is stopped and reported as failed (the whole run must
# stay under 15 minutes on a 2-core machine).
SCENARIO_TIMEOUT = 480


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="", help="comma-separated scenario names (S0..S5)")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--pairs", type=int, default=5)
    parser.add_argument("--strict", action="store_true", help="fail when a goal is not met")
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args()
    if args.pairs < 5 and not args.quick:
        parser.error("--pairs must be at least 5 (median and spread need them)")
    wanted = {name.strip().upper() for name in args.only.split(",") if name.strip()}
    unknown = wanted - {name for name, _ in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenario(s): {', '.join(sorted(unknown))}")

    results: list[dict] = []
    failed: list[str] = []
    timings: dict[str, float] = {}
    started = time.monotonic()
    for name, module in SCENARIOS:
        if wanted and name not in wanted:
            continue
        print(f"\n=== {name}: {module}", flush=True)
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
            out_path = Path(out.name)
        command = [
            sys.executable,
            "-m",
            module,
            "--json",
            str(out_path),
            "--pairs",
            str(args.pairs),
        ]
        if args.quick:
            command.append("--quick")
        t0 = time.monotonic()
        try:
            code = subprocess.run(
                command, cwd=ROOT, timeout=SCENARIO_TIMEOUT, env=os.environ
            ).returncode
        except subprocess.TimeoutExpired:
            code = -1
            print(f"{name}: stopped after {SCENARIO_TIMEOUT} s", file=sys.stderr)
        timings[name] = round(time.monotonic() - t0, 1)
        try:
            produced = json.loads(out_path.read_text() or "[]")
        except (OSError, ValueError):
            produced = []
        out_path.unlink(missing_ok=True)
        if code != 0 or not produced:
            failed.append(name)
            print(f"{name}: FAILED (exit {code}, {len(produced)} results)", file=sys.stderr)
        results.extend(produced)

    total = round(time.monotonic() - started, 1)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{table(results)}\n")
    print(f"seconds per scenario: {timings}; total {total} s; written to {args.report}")
    unmet = [r["scenario"] for r in results if r.get("met") is False]
    if unmet:
        print(f"goals not met: {', '.join(unmet)}")
    if failed:
        print(f"scenarios that failed to run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if (args.strict and unmet) else 0


if __name__ == "__main__":
    sys.exit(main())
