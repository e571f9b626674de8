"""`python -m tests.fuzz`: fuzz every /ocpi/ operation of the hub's OpenAPI schema.

The hub is driven through schemathesis' WSGI transport, in this process: requests run one at
a time, so the state fingerprint taken after each one shows exactly what that request changed,
and no port or server thread sits between the fuzzer and the hub. The simulated partners are
real HTTP servers on 127.0.0.1, so routed requests are really forwarded.
"""

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path
from typing import Any

TOTAL_MIN = 5000
ROOT = Path(__file__).resolve().parents[2]


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.fuzz", description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every example count")
    parser.add_argument("--seed", type=int, default=int(os.environ.get("FUZZ_SEED", "6")))
    parser.add_argument("--only", default="", help="fuzz only operations whose path contains this")
    parser.add_argument("--min-requests", type=int, default=TOTAL_MIN)
    parser.add_argument("--report", type=Path, default=ROOT / "reports" / "fuzz.json")
    return parser.parse_args()


def main() -> int:
    args = _arguments()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "settings.test")
    os.environ.setdefault("HUB_TEST_RUN_ID", f"fuzz-{os.getpid()}")
    import django

    django.setup()
    from django.conf import settings

    # Thousands of requests with unknown tokens are the point here: each must reach the
    # authentication of its operation, not the per-address flood limit that would answer 429
    # after the first minute's worth (the limit has its own tests in tests/security).
    settings.OCPI_UNAUTH_LIMIT = 0
    # Refusals are the point of the run: only errors reach the console (all is in the report).
    logging.disable(logging.WARNING)
    import schemathesis
    from django.core.wsgi import get_wsgi_application

    from tests.fuzz.loopback import loopback_only, refused
    from tests.fuzz.plan import runs_for
    from tests.fuzz.runner import Fuzzer
    from tests.fuzz.world import fuzz_world

    started = time.monotonic()
    with loopback_only(), fuzz_world() as world:
        config = schemathesis.Config.from_dict({"generation": {"with-security-parameters": False}})
        schema = schemathesis.openapi.from_wsgi(
            "/api/schema/", get_wsgi_application(), config=config
        )
        fuzzer = Fuzzer(world, args.seed)
        operations = [r.ok() for r in schema.get_all_operations()]
        operations = [o for o in operations if o.path.startswith("/ocpi/") and args.only in o.path]
        print(_HEADER, flush=True)
        for operation in operations:
            for run in runs_for(operation, world, args.scale):
                fuzzer.fuzz(operation, run)
            name = f"{operation.method.upper()} {operation.path}"
            print(_line(name, fuzzer.stats[name].as_json()), flush=True)
    elapsed = time.monotonic() - started
    report = _report(fuzzer, len(refused), elapsed, args)
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _print(report, args.report)
    return 0 if report["passed"] else 1


def _report(fuzzer: Any, outbound_refused: int, elapsed: float, args: Any) -> dict[str, Any]:
    import schemathesis
    from django.conf import settings

    operations = {name: stats.as_json() for name, stats in sorted(fuzzer.stats.items())}
    totals = {
        key: sum(op[key] for op in operations.values())
        for key in (
            "requests",
            "unsendable",
            "server_errors",
            "non_envelope",
            "state_changes",
            "schema_mismatches",
            "id_echo",
            "errors_logged",
            "recorded_routing_failures",
            "forwarded_refusals_recorded",
            "authorization_outcomes_recorded",
            "escaped",
        )
    }
    passed = (
        totals["server_errors"] == 0
        and totals["non_envelope"] == 0
        and totals["state_changes"] == 0
        and totals["id_echo"] == 0
        and totals["errors_logged"] == 0
        and totals["escaped"] == 0
        and totals["requests"] >= args.min_requests
    )
    return {
        "passed": passed,
        "seed": args.seed,
        "database": settings.DATABASES["default"]["ENGINE"].rsplit(".", 1)[-1],
        "schemathesis": schemathesis.__version__,
        "seconds": round(elapsed, 1),
        "fingerprint_seconds": round(fuzzer.fingerprint_seconds, 1),
        "min_requests": args.min_requests,
        "operations_fuzzed": len(operations),
        "totals": totals,
        "outbound_lookups_refused": outbound_refused,
        "operations": operations,
    }


_HEADER = (
    f"{'operation':<78} {'requests':>8} {'5xx':>4} {'no-env':>6} {'state':>5} {'ids':>4}"
    f" {'errors':>6} {'schema':>6}"
)


def _line(name: str, op: dict[str, Any]) -> str:
    return (
        f"{name:<78} {op['requests']:>8} {op['server_errors']:>4} {op['non_envelope']:>6}"
        f" {op['state_changes']:>5} {op['id_echo']:>4} {op['errors_logged']:>6}"
        f" {op['schema_mismatches']:>6}"
    )


def _print(report: dict[str, Any], path: Path) -> None:
    t = report["totals"]
    print("-" * len(_HEADER))
    print(_line("TOTAL", t))
    print(
        f"\n{t['requests']} requests over {report['operations_fuzzed']} operations in "
        f"{report['seconds']} s (seed {report['seed']}): {t['server_errors']} HTTP 5xx, "
        f"{t['non_envelope']} without an OCPI envelope, {t['state_changes']} state changes "
        f"from refused requests, {t['id_echo']} ids not echoed, "
        f"{t['errors_logged']} with errors logged, "
        f"{t['schema_mismatches']} schema mismatches; "
        f"{report['outbound_lookups_refused']} non-loopback look-ups refused; allowed records: "
        f"{t['recorded_routing_failures']} unroutable requests kept FAILED, "
        f"{t['forwarded_refusals_recorded']} forwarded requests the receiver refused, "
        f"{t['authorization_outcomes_recorded']} authorization outcomes recorded. "
        f"Report: {path}"
    )
    if t["requests"] < report["min_requests"]:
        print(f"FAILED: fewer than {report['min_requests']} requests")
    print("PASSED" if report["passed"] else "FAILED")


if __name__ == "__main__":
    sys.exit(main())
