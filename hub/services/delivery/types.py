"""The outbox's value types: whom a delivery goes to, and what a builder says to send."""

from dataclasses import dataclass, field
from typing import Any

from hub.models import Platform
from hub.ocpi.routing import PartyRef


@dataclass(frozen=True)
class Receiver:
    """A platform to deliver to, and the party named in the TO header."""

    platform: Platform
    party: PartyRef


@dataclass
class PushRequest:
    """What a module's builder says to send for a delivery, built at send time."""

    method: str
    path: str
    body: Any = None
    routed: bool = True
    # Sent instead when the receiver does not know the object a PATCH addresses (2.2.1: "if a
    # PATCH fails, the client is expected to ... PUT it").
    fallback: "PushRequest | None" = None
    query: dict[str, str] = field(default_factory=dict)
    # An absolute URL instead of `endpoint + path`: results relayed to an eMSP's response_url.
    url: str | None = None
