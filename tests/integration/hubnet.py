"""A small OCPI network around the live hub: simulated CPOs and eMSPs registered through the
real handshake, for end-to-end tests."""

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any

from hub.models import Platform
from hub.services.registry.credentials import hub_versions_url, platform_invite
from partners.ocpi import role
from partners.simulated import SimulatedPartner

__all__ = ["connect", "network", "role", "routing_headers"]

HUB = ("NL", "HUB")


def connect(partner: SimulatedPartner, name: str) -> Platform:
    """Register `partner` with the live hub (partner-initiated) and return its platform."""
    platform, token_a = platform_invite(name=name)
    partner.register_with(hub_versions_url(), token_a)
    platform.refresh_from_db()
    return platform


@contextmanager
def network(cpos: int = 1, emsps: int = 2, **partner_kwargs: Any) -> Iterator[dict[str, Any]]:
    """Start and register `cpos` CPOs (NL*CP1...) and `emsps` eMSPs (DE*MS1...)."""
    with ExitStack() as stack:
        parties: dict[str, Any] = {"cpos": [], "emsps": []}
        for i in range(1, cpos + 1):
            partner = stack.enter_context(
                SimulatedPartner(roles=[role("CPO", "NL", f"CP{i}")], **partner_kwargs)
            )
            parties["cpos"].append((partner, connect(partner, f"CPO {i}")))
        for i in range(1, emsps + 1):
            partner = stack.enter_context(
                SimulatedPartner(roles=[role("EMSP", "DE", f"MS{i}")], **partner_kwargs)
            )
            parties["emsps"].append((partner, connect(partner, f"eMSP {i}")))
        yield parties


def routing_headers(
    to: tuple[str, str] = HUB, frm: tuple[str, str] | None = None
) -> dict[str, str]:
    headers = {
        "OCPI-to-country-code": to[0],
        "OCPI-to-party-id": to[1],
        "X-Request-ID": str(uuid.uuid4()),
        "X-Correlation-ID": str(uuid.uuid4()),
    }
    if frm is not None:
        headers["OCPI-from-country-code"] = frm[0]
        headers["OCPI-from-party-id"] = frm[1]
    return headers
