"""The suite's own arithmetic: an acknowledged update a receiver does not hold is lost, a
later state covers an earlier one, and a repeated acceptance is a duplicate."""

from collections import Counter
from types import SimpleNamespace
from typing import Any

from tests.faults.ledger import Ledger, Update, duplicates, pushed_evses, tally

LOC = "/ocpi/2.2.1/locations/NL/CP1/LOC1"


def accepted(method: str, path: str, body: Any) -> SimpleNamespace:
    return SimpleNamespace(
        method=method,
        path=path,
        json=body,
        response_status=200,
        response_body={"status_code": 1000},
    )


def acked(key: str, stamp: str, status: str, kind: str = "location") -> Update:
    return Update(kind, key, stamp, status, acked=True)


def test_tally_counts_what_a_receiver_lacks() -> None:
    ledger = Ledger()
    ledger.updates += [
        acked("LOC1", "2024-05-01T10:00:01Z", "AVAILABLE"),
        acked("LOC1", "2024-05-01T10:00:02Z", "CHARGING"),
        acked("LOC1", "2024-05-01T10:00:03Z", "BLOCKED"),
        Update("location", "LOC1", "2024-05-01T10:00:04Z", "RESERVED"),  # refused: not owed
        acked("CDR-1", "", "", kind="cdr"),
    ]
    put = {"id": "LOC1", "evses": [{"uid": "EVSE1", "status": "AVAILABLE",
                                    "last_updated": "2024-05-01T10:00:01Z"}]}  # fmt: skip
    patch = {"status": "CHARGING", "last_updated": "2024-05-01T10:00:02Z"}
    behind = SimpleNamespace(
        received=[accepted("PUT", LOC, put), accepted("PATCH", LOC + "/EVSE1", patch)]
    )
    result = tally(ledger, {"MS1": pushed_evses(behind)}, Counter(), [])
    # the receiver is at 10:00:02: the 10:00:03 update and the CDR are lost
    assert (result.acknowledged, result.delivered, result.lost) == (4, 2, 2)
    assert len(result.missing) == 2


def test_a_later_state_covers_earlier_updates_and_repeats_are_duplicates() -> None:
    ledger = Ledger()
    ledger.updates += [
        acked("LOC1", "2024-05-01T10:00:01Z", "AVAILABLE"),
        acked("LOC1", "2024-05-01T10:00:02Z", "CHARGING"),
    ]
    put = {"id": "LOC1", "evses": [{"uid": "EVSE1", "status": "CHARGING",
                                    "last_updated": "2024-05-01T10:00:02Z"}]}  # fmt: skip
    receiver = SimpleNamespace(received=[accepted("PUT", LOC, put), accepted("PUT", LOC, put)])
    result = tally(ledger, {"MS1": pushed_evses(receiver)}, Counter(), duplicates(receiver))
    assert (result.delivered, result.lost, result.duplicates) == (2, 0, 1)
