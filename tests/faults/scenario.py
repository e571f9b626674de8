"""Ending a scenario: wait for convergence, check, and record the row for the table."""

import json
import os
import time
from typing import Any

from tests.faults.ledger import Tally, cdr_ids, converge, duplicates, pushed_evses, tally


def settle(
    stack: Any,
    scenario: str,
    *,
    note: str = "",
    views: Any = None,
    timeout: float = 90.0,
) -> Tally:
    """From the end of the fault, poll until every acknowledged update is at every receiver
    (or `timeout`); record the row; fail on anything lost or any answer without envelope."""

    def measure() -> Tally:
        location_views = (
            views() if views else {"MS1": pushed_evses(stack.ms1), "MS2": pushed_evses(stack.ms2)}
        )
        dupes = duplicates(stack.ms1) + duplicates(stack.ms2)
        return tally(stack.ledger, location_views, cdr_ids(stack.ms1), dupes)

    result, seconds = converge(measure, timeout=timeout)
    report_row(scenario, result, seconds, stack.ledger, note)
    assert not stack.ledger.non_envelope, stack.ledger.non_envelope[:5]
    assert result.lost == 0, result.missing
    # and the hub's processes all came through: none crashed or gave up reconnecting
    for name, process in (("web", stack.web), ("beat", stack.beat), ("worker", stack.worker)):
        assert process.process is not None and process.process.poll() is None, (
            f"{name} exited:\n{process.log_tail()}"
        )
    return result


def report_row(
    scenario: str, result: Tally, seconds: float | None, ledger: Any, note: str = ""
) -> None:
    """Append this scenario's row for the launcher's table and reports/faults.json."""
    row = {
        "scenario": scenario,
        "acknowledged": result.acknowledged,
        "delivered": result.delivered,
        "lost": result.lost,
        "duplicates": result.duplicates,
        "converge_s": None if seconds is None else round(seconds, 2),
        "refused": len(ledger.refused),
        "non_envelope": len(ledger.non_envelope),
        "missing": result.missing[:20],
        "duplicate_requests": result.repeated[:20],
        "note": note,
        "finished_at": time.time(),
    }
    path = os.environ.get("FAULTS_RESULTS")
    if path:
        with open(path, "a") as out:
            out.write(json.dumps(row) + "\n")
