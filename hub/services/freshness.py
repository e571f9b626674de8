"""The one rule for replayed and out-of-order updates of client-owned objects.

The hub never changes `last_updated` (2.2.1 transport_and_format), so it is the order: an
older update changes nothing, and so does a replay of the current one; an equal timestamp
with different content applies (partners with second-precision clocks send several updates
a second).
"""

from collections.abc import Mapping
from typing import Any

from hub.ocpi.datetimes import parse_datetime


def supersedes(
    incoming: Mapping[str, Any], stored: Mapping[str, Any] | None, *, whole: bool = False
) -> bool:
    """Should `incoming` be applied over `stored`?

    `incoming` may be a PATCH (only the fields it carries are compared at equal timestamps);
    with `whole`, both are complete objects and compared entirely.
    """
    if stored is None:
        return True
    new_at = parse_datetime(incoming["last_updated"])
    old_at = parse_datetime(stored["last_updated"])
    if new_at != old_at:
        return new_at > old_at
    if whole:
        return dict(incoming) != dict(stored)
    return any(stored.get(name) != value for name, value in incoming.items())
