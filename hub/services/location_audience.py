"""Who may see an unpublished location: its `publish_allowed_to` entries (2.2.1 mod_locations
PublishTokenType) kept as `LocationAudience` rows, so that GET all decides visibility in the
same SQL statement as the page instead of resolving every restricted location's tokens in
Python on every request (issue 14: one query less per page, none per restricted location).

An entry names tokens by `uid` (and `type`), by `visual_number` + `issuer`, or by `group_id`;
the rows keep exactly what `hub.selectors.publish_allowed_parties` resolves, and the query
(`hub.selectors.locations_visible_to`) matches them against the caller's tokens and the
token-owner index at read time, so a token learnt after the location was stored counts at once.
"""

from typing import Any, NamedTuple

from hub.models import Location, LocationAudience

# The column widths; a longer value cannot name any token the hub accepts (the tokens module
# validates the same limits), so it is dropped rather than cut (a cut value could name one).
_WIDTH = {"uid": 36, "token_type": 12, "visual_number": 64, "issuer": 64, "group_id": 36}


class Entry(NamedTuple):
    uid: str | None
    token_type: str | None
    visual_number: str | None
    issuer: str | None
    group_id: str | None


def _text(value: Any, field: str) -> str | None:
    if value is None or value == "":
        return None
    text = str(value)
    return text if len(text) <= _WIDTH[field] else None


def audience_of(document: dict[str, Any] | None) -> list[Entry]:
    """The entries of a stored document; none when it is published (or absent)."""
    if not document or bool(document.get("publish", True)):
        return []
    entries = []
    for raw in document.get("publish_allowed_to") or []:
        if not isinstance(raw, dict):
            continue
        uid = _text(raw.get("uid"), "uid")
        uid = uid.upper() if uid else None
        token_type = _text(raw.get("type"), "token_type") if uid else None
        visual_number = _text(raw.get("visual_number"), "visual_number")
        issuer = _text(raw.get("issuer"), "issuer")
        if not (visual_number and issuer):
            visual_number = issuer = None
        group_id = None if visual_number else _text(raw.get("group_id"), "group_id")
        if uid or visual_number or group_id:
            entries.append(Entry(uid, token_type, visual_number, issuer, group_id))
    return entries


def sync_audience(location: Location, before: dict[str, Any] | None) -> None:
    """Rewrite the location's rows when its entries changed from `before`'s (no query when
    they did not: the EVSE status PATCH path pays nothing)."""
    old, new = audience_of(before), audience_of(location.data)
    if old == new:
        return
    if old:
        LocationAudience.objects.filter(location=location).delete()
    if new:
        LocationAudience.objects.bulk_create(
            LocationAudience(location=location, **entry._asdict()) for entry in new
        )
