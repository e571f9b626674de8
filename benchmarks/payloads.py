"""The OCPI objects the benchmark scenarios send: one builder, so every scenario measures the
same shape of location (2.2.1 mod_locations: EVSEs of one Type 2 connector each)."""

from __future__ import annotations

from typing import Any


def evse(uid: str, evse_id: str, stamp: str) -> dict[str, Any]:
    from tests.payloads import connector

    return {
        "uid": uid,
        "evse_id": evse_id,
        "status": "AVAILABLE",
        "capabilities": ["RFID_READER"],
        "connectors": [connector(stamp)],
        "last_updated": stamp,
    }


def location(
    party: tuple[str, str],
    location_id: str,
    stamp: str,
    evses: list[tuple[str, str]],
    name: str = "Stationsplein",
    address: str = "Stationsplein 1",
) -> dict[str, Any]:
    """Location `location_id` of `party` with `evses` as (uid, evse_id) pairs."""
    cc, pid = party
    return {
        "country_code": cc,
        "party_id": pid,
        "id": location_id,
        "publish": True,
        "name": name,
        "address": address,
        "city": "Utrecht",
        "postal_code": "3511ED",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "time_zone": "Europe/Amsterdam",
        "evses": [evse(uid, evse_id, stamp) for uid, evse_id in evses],
        "last_updated": stamp,
    }
