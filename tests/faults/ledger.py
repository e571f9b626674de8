"""What the CPO was promised and what the receivers hold.

The CPO side keeps a ledger of every update it sent and whether the hub acknowledged it
(HTTP 2xx with OCPI 1000). The receiver side is rebuilt from the requests each simulated eMSP
accepted, in arrival order. An acknowledged update is *delivered* when every receiver that
should have it holds it or a later state of the same object (locations are state: the hub
folds updates and sends the current state, DESIGN §5), or, for a CDR, the owner eMSP accepted
a POST of it. Anything else acknowledged is *lost*. A *duplicate* is a request a receiver
accepted with the same method, path and body as one it accepted before.
"""

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from tests.cpo_gateway.api.test_cdrs import cdr
from tests.integration.hubnet import routing_headers
from tests.integration.test_location_broadcast import location

LOCATIONS_PATH = "/ocpi/2.2.1/locations/"
CDRS_PATH = "/ocpi/2.2.1/cdrs"
STATUSES = ("AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER", "RESERVED")
_EPOCH = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)


def parse(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp.replace("Z", "+00:00"))


@dataclass
class Update:
    kind: str  # "location" or "cdr"
    key: str  # location id or CDR id
    stamp: str = ""  # last_updated of the EVSE after this update (locations)
    status: str = ""  # the EVSE status it sets (locations)
    acked: bool = False
    answer: str = ""  # what the hub answered, for the report when it was not 1000


@dataclass
class Ledger:
    """Every update the CPO sent, in order, and the hub's verdict on each."""

    updates: list[Update] = field(default_factory=list)
    non_envelope: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _clock: int = 0

    def next_stamp(self) -> str:
        with self._lock:
            self._clock += 1
            return (_EPOCH + timedelta(seconds=self._clock)).strftime("%Y-%m-%dT%H:%M:%SZ")

    def record(self, update: Update, send: Callable[[], httpx.Response]) -> Update:
        try:
            response = send()
        except httpx.HTTPError as exc:
            update.answer = f"transport: {type(exc).__name__}"
        else:
            try:
                body: Any = response.json()
            except ValueError:
                body = None
            code = body.get("status_code") if isinstance(body, dict) else None
            if not isinstance(code, int) or "timestamp" not in body:
                self.non_envelope.append(f"HTTP {response.status_code}: {response.text[:200]}")
            update.acked = 200 <= response.status_code < 300 and code == 1000
            update.answer = f"HTTP {response.status_code} OCPI {code}"
        with self._lock:
            self.updates.append(update)
        return update

    @property
    def acked(self) -> list[Update]:
        return [u for u in self.updates if u.acked]

    @property
    def refused(self) -> list[Update]:
        return [u for u in self.updates if not u.acked]


class CpoDriver:
    """The CPO's side of the scenarios: location PUTs, EVSE status PATCHes and CDR POSTs."""

    def __init__(self, cpo: Any, ledger: Ledger) -> None:
        self.cpo = cpo
        self.ledger = ledger
        self._cdrs = 0
        self._lock = threading.Lock()

    def put_location(self, location_id: str, status: str = "AVAILABLE") -> Update:
        stamp = self.ledger.next_stamp()
        body = location(location_id, last_updated=stamp, status=status)
        return self.ledger.record(
            Update("location", location_id, stamp, status),
            lambda: self.cpo.request(
                "PUT", f"locations/NL/CP1/{location_id}", role="RECEIVER", json=body, timeout=15
            ),
        )

    def patch_status(self, location_id: str, status: str) -> Update:
        stamp = self.ledger.next_stamp()
        return self.ledger.record(
            Update("location", location_id, stamp, status),
            lambda: self.cpo.request(
                "PATCH",
                f"locations/NL/CP1/{location_id}/EVSE1",
                role="RECEIVER",
                json={"status": status, "last_updated": stamp},
                timeout=15,
            ),
        )

    def post_cdr(self) -> Update:
        with self._lock:
            self._cdrs += 1
            cdr_id = f"CDR-{self._cdrs:04d}"
        headers = routing_headers(to=("DE", "MS1"), frm=("NL", "CP1"))
        return self.ledger.record(
            Update("cdr", cdr_id),
            lambda: self.cpo.request(
                "POST", "cdrs", json=cdr(id=cdr_id), headers=headers, timeout=15
            ),
        )

    def burst(self, locations: int = 4, patches: int = 12, cdrs: int = 3) -> None:
        """A batch: each location PUT, then status changes round the locations, then CDRs."""
        ids = [f"LOC{i}" for i in range(1, locations + 1)]
        for location_id in ids:
            self.put_location(location_id)
        for n in range(patches):
            self.patch_status(ids[n % len(ids)], STATUSES[(n + 1) % len(STATUSES)])
        for _ in range(cdrs):
            self.post_cdr()


def accepted(partner: Any, prefix: str) -> list[Any]:
    """The requests under `prefix` the partner answered 2xx with OCPI 1000, in arrival order."""
    return [
        r
        for r in partner.received
        if r.path.startswith(prefix)
        and r.response_status
        and 200 <= r.response_status < 300
        and isinstance(r.response_body, dict)
        and r.response_body.get("status_code") == 1000
    ]


def pushed_evses(partner: Any) -> dict[str, dict[str, Any]]:
    """EVSE1 of each location as the partner holds it after applying what it accepted."""
    held: dict[str, dict[str, Any]] = {}
    for request in accepted(partner, LOCATIONS_PATH):
        parts = request.path[len(LOCATIONS_PATH) :].strip("/").split("/")
        if len(parts) < 3 or not isinstance(request.json, dict):
            continue
        location_id = parts[2]
        if request.method == "PUT" and len(parts) == 3:
            evses = request.json.get("evses") or [{}]
            held[location_id] = dict(evses[0])
        elif len(parts) == 4 and location_id in held:
            if request.method == "PUT":
                held[location_id] = dict(request.json)
            elif request.method == "PATCH":
                held[location_id].update(request.json)
    return held


def cdr_ids(partner: Any) -> Counter[str]:
    return Counter(
        r.json.get("id")
        for r in accepted(partner, CDRS_PATH)
        if r.method == "POST" and isinstance(r.json, dict)
    )


def duplicates(partner: Any) -> list[str]:
    """One entry per repeated acceptance: "METHOD path" of a request the partner accepted
    before with the same body."""
    seen: Counter[tuple[str, str, str]] = Counter()
    for prefix in (LOCATIONS_PATH, CDRS_PATH):
        for r in accepted(partner, prefix):
            seen[(r.method, r.path.rstrip("/"), json.dumps(r.json, sort_keys=True))] += 1
    return [f"{m} {p}" for (m, p, _), n in seen.items() for _ in range(n - 1)]


def holds(evse: dict[str, Any] | None, update: Update) -> bool:
    """The receiver's EVSE is at `update` or a later state of it."""
    if not evse or not isinstance(evse.get("last_updated"), str):
        return False
    held = parse(evse["last_updated"])
    mine = parse(update.stamp)
    return held > mine or (held == mine and evse.get("status") == update.status)


@dataclass
class Tally:
    acknowledged: int
    delivered: int
    lost: int
    duplicates: int
    missing: list[str]
    repeated: list[str] = field(default_factory=list)


def tally(
    ledger: Ledger,
    location_views: dict[str, dict[str, dict[str, Any]]],
    cdr_owner_ids: Counter[str],
    dupes: list[str],
) -> Tally:
    """Count the acknowledged updates every receiver holds. `location_views` maps each eMSP
    that should hold the locations to its EVSEs; `cdr_owner_ids` the CDR ids the owner has."""
    delivered, missing = 0, []
    for update in ledger.acked:
        if update.kind == "cdr":
            where = [] if cdr_owner_ids[update.key] else ["MS1"]
        else:
            where = [
                name
                for name, view in location_views.items()
                if not holds(view.get(update.key), update)
            ]
        if where:
            missing.append(f"{update.kind} {update.key}@{update.stamp or '-'} not at {where}")
        else:
            delivered += 1
    acked = len(ledger.acked)
    return Tally(acked, delivered, acked - delivered, len(dupes), missing, dupes)


def converge(
    measure: Callable[[], Tally], timeout: float = 90.0, interval: float = 0.5
) -> tuple[Tally, float | None]:
    """Poll until nothing acknowledged is missing; (the last tally, seconds taken or None)."""
    started = time.monotonic()
    while True:
        result = measure()
        if result.lost == 0:
            return result, time.monotonic() - started
        if time.monotonic() - started > timeout:
            return result, None
        time.sleep(interval)
