"""Who a request speaks for, as the domain sees it: a platform and the party roles it
registered. No DRF and no token: selectors and services take a `Caller`, the wire makes one
(`hub.ocpi.authentication.caller_of`), and code without a request can build one with
`Caller.of(platform)`.
"""

from dataclasses import dataclass

from hub.models import Platform, PlatformRole
from hub.ocpi.routing import PartyRef


@dataclass(frozen=True)
class Caller:
    """A platform and its party roles, read once (a registration later in the same request
    does not change what this caller speaks for)."""

    platform: Platform
    roles: tuple[PlatformRole, ...]

    @classmethod
    def of(cls, platform: Platform) -> "Caller":
        """The caller behind `platform`, with its roles as they are now."""
        return cls(platform=platform, roles=tuple(platform.roles.all()))

    def parties(self, *roles: str) -> set[PartyRef]:
        """The caller's party addresses, optionally only those with one of `roles`."""
        return {
            PartyRef.of(r.country_code, r.party_id)
            for r in self.roles
            if not roles or r.role in roles
        }
