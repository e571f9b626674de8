"""Who a request speaks for, as the domain sees it: a platform and the party roles it
registered. No DRF and no token: selectors and services take a `Caller`, the wire makes one
(`hub.ocpi.authentication.caller_of`), and code without a request can build one with
`Caller.of(platform)`.
"""

import copy
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import models

from hub.models import Platform, PlatformRole
from hub.ocpi.routing import PartyRef

# Plain column values of a directory row and back (`hub.ocpi.directory_cache` keeps only plain
# values; every request gets instances of its own).
_PLATFORM_COLUMNS = tuple(f.attname for f in Platform._meta.concrete_fields)
_ROLE_COLUMNS = tuple(f.attname for f in PlatformRole._meta.concrete_fields)


def row_values(row: models.Model) -> tuple[object, ...]:
    """The concrete column values of a Platform or PlatformRole, in field order."""
    return tuple(getattr(row, f.attname) for f in row._meta.concrete_fields)


def platform_from_values(values: tuple[object, ...]) -> Platform:
    """A fresh Platform instance from `row_values`, as if read from the database."""
    return Platform.from_db("default", _PLATFORM_COLUMNS, values)


def roles_from_values(
    values: Iterable[tuple[object, ...]], platform: Platform
) -> tuple[PlatformRole, ...]:
    """Fresh PlatformRole instances of `platform` from `row_values`."""
    roles = []
    for row in values:
        # business_details is a dict: each request gets a copy of its own.
        role = PlatformRole.from_db("default", _ROLE_COLUMNS, copy.deepcopy(row))
        role.platform = platform
        roles.append(role)
    return tuple(roles)


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
