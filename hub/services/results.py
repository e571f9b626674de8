"""What a write of an OCPI object did: the one answer every object service gives.

Locations, tariffs, tokens, sessions and CDRs are written the same way (a PUT/PATCH/POST of a
client-owned object, stale and replayed versions changing nothing), so they say the same
things back: the views turn `created` into 201 vs 200, pull sync counts `changed`, and the
CDR views and reconciliation read the `stored` row (the `Location` header, the report).
"""

from dataclasses import dataclass
from typing import Generic, TypeVar

from django.db import models

StoredT = TypeVar("StoredT", bound=models.Model)


@dataclass(frozen=True)
class WriteResult(Generic[StoredT]):
    """The stored row after the write, whether the write created the addressed object (201
    vs 200) and whether it changed anything (False: a stale version or a replay)."""

    stored: StoredT
    created: bool
    changed: bool
