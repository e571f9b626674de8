"""Pieces of OCPI 2.2.1 objects as partners send them, shared by the tests that build bodies."""

from typing import Any


def connector(last_updated: str, *, max_amperage: int = 32) -> dict[str, Any]:
    """Connector "1": a Type 2 socket, three-phase AC at 230 V (2.2.1 mod_locations)."""
    return {
        "id": "1",
        "standard": "IEC_62196_T2",
        "format": "SOCKET",
        "power_type": "AC_3_PHASE",
        "max_voltage": 230,
        "max_amperage": max_amperage,
        "last_updated": last_updated,
    }
