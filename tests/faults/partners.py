"""The scenarios' eMSPs: simulated partners that hold a location as one tree, as a real
receiver does, so a PATCH of an EVSE they got in a location PUT succeeds.

The plain SimulatedPartner stores objects by URL, answers such a PATCH with 404 and makes the
hub fall back to a full PUT; both the hub's location row and its EVSE row then send the same
full state, and the table would count that artefact of the simulator as duplicates.
"""

import copy
from typing import Any

from tests.partners.hostile import HostilePartner


# A HostilePartner (a SimulatedPartner that can also answer gzip bombs and slow drips when a
# scenario asks: tests/faults/test_hostile_reads.py); otherwise it behaves as the plain one.
class TreeReceiver(HostilePartner):
    def _functional(self, record: Any, version: str, module: str, rest: list[str]) -> Any:
        if (
            module == "locations"
            and record.method == "PATCH"
            and len(rest) == 4
            and isinstance(record.json, dict)
            and record.token is not None
            and record.token == self.own_token
        ):
            parent = record.path.rsplit("/", 1)[0]
            with self._lock:
                location = self._stored.get(parent)
                evses = location.get("evses", []) if isinstance(location, dict) else []
                evse = next((e for e in evses if e.get("uid") == rest[3]), None)
                if evse is not None:
                    evse.update(copy.deepcopy(record.json))
                    return self._ok(record, None)
        return super()._functional(record, version, module, rest)
