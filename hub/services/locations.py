"""Locations written by CPOs, stored and broadcast (2.2.1 mod_locations, Receiver interface).

PUT replaces the object at its level (location, EVSE, connector); PATCH merges the fields it
carries and must carry `last_updated`. A write of a child sets the parents' `last_updated` to
the child's (spec: the receiver SHALL bump parents); the hub never invents a timestamp. An
update older than what is stored changes nothing, and so does a replay of the same update, so
replays and out-of-order deliveries converge on the newest state.
"""

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.models import DeliveryStatus, Evse, EvseStatusChange, Location, Platform, PushDelivery
from hub.modules import ModuleID
from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.exceptions import NotFoundError, UnknownLocationError
from hub.ocpi.routing import PartyRef
from hub.selectors import evse_status_allowed, publish_allowed_parties, receivers_for
from hub.services.concurrency import retry_on_unique_race
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest, Receiver
from hub.services.freshness import supersedes
from hub.services.location_audience import sync_audience
from hub.services.results import WriteResult

MODULE = ModuleID.LOCATIONS

# What an EVSE PATCH carrying only these fields changes: the real-time status, which only
# receivers with the `evse_status` agreement scope get (DESIGN §6b).
EVSE_STATUS_FIELDS = frozenset({"status", "status_schedule", "last_updated"})
# The status served instead of the real one to a receiver without `evse_status`.
UNKNOWN_STATUS = "UNKNOWN"


@dataclass(frozen=True)
class LocationAddress:
    """Where a write lands: the location and, optionally, one EVSE and one connector."""

    party: PartyRef
    location_id: str
    evse_uid: str | None = None
    connector_id: str | None = None

    @property
    def key(self) -> str:
        parts = [self.party.country_code, self.party.party_id, self.location_id]
        parts += [p for p in (self.evse_uid, self.connector_id) if p is not None]
        return "/".join(part.upper() for part in parts)

    @property
    def level(self) -> str:
        if self.connector_id is not None:
            return "connector"
        return "evse" if self.evse_uid is not None else "location"


class UnknownObjectError(UnknownLocationError):
    """A PATCH (or a child PUT) addressed an object the hub does not have: HTTP 404 + 2003."""

    http_status = 404


def _find(items: list[dict[str, Any]] | None, key: str, value: str) -> int | None:
    for index, item in enumerate(items or []):
        if str(item.get(key, "")).upper() == value.upper():
            return index
    return None


def _bump(parent: dict[str, Any], child_last_updated: str) -> None:
    if parse_datetime(child_last_updated) > parse_datetime(parent["last_updated"]):
        parent["last_updated"] = child_last_updated


def _apply(
    document: dict[str, Any] | None, address: LocationAddress, method: str, data: dict[str, Any]
) -> tuple[dict[str, Any], bool]:
    """The new location document after the write, and whether anything changed."""
    if address.level == "location":
        if method == "PUT":
            return (
                (copy.deepcopy(data), True)
                if supersedes(data, document)
                else (document or {}, False)
            )
        if document is None:
            raise UnknownObjectError(f"Unknown location {address.location_id}")
        if not supersedes(data, document):
            return document, False
        return {**document, **copy.deepcopy(data)}, True

    if document is None:
        raise UnknownObjectError(f"Unknown location {address.location_id}")
    document = copy.deepcopy(document)
    evses = document.setdefault("evses", []) or []
    document["evses"] = evses
    evse_index = _find(evses, "uid", address.evse_uid or "")
    if address.level == "evse":
        current = evses[evse_index] if evse_index is not None else None
        if method == "PATCH" and current is None:
            raise UnknownObjectError(f"Unknown EVSE {address.evse_uid}")
        if not supersedes(data, current):
            return document, False
        new = copy.deepcopy(data) if method == "PUT" else {**(current or {}), **data}
        if evse_index is None:
            evses.append(new)
        else:
            evses[evse_index] = new
        _bump(document, data["last_updated"])
        return document, True

    if evse_index is None:
        raise UnknownObjectError(f"Unknown EVSE {address.evse_uid}")
    evse = evses[evse_index]
    connectors = evse.setdefault("connectors", []) or []
    evse["connectors"] = connectors
    connector_index = _find(connectors, "id", address.connector_id or "")
    current = connectors[connector_index] if connector_index is not None else None
    if method == "PATCH" and current is None:
        raise UnknownObjectError(f"Unknown connector {address.connector_id}")
    if not supersedes(data, current):
        return document, False
    new = copy.deepcopy(data) if method == "PUT" else {**(current or {}), **data}
    if connector_index is None:
        connectors.append(new)
    else:
        connectors[connector_index] = new
    _bump(evse, data["last_updated"])
    _bump(document, data["last_updated"])
    return document, True


def _last_updated_or(evse: dict[str, Any], fallback: datetime) -> datetime:
    """The EVSE's `last_updated`, or `fallback` (receipt time) when it is missing or unreadable:
    the schemas require it, but a document stored before they did may lack it."""
    try:
        return parse_datetime(evse["last_updated"])
    except (KeyError, ValueError):
        return fallback


def _sync_evse_rows(location: Location) -> None:
    """Rewrite the EVSE read model from the stored document, and record every EVSE whose
    status differs from the one the read model held (a new EVSE too) in the status history."""
    wanted = {str(evse.get("uid", "")).upper(): evse for evse in location.data.get("evses") or []}
    # One read of the rows, then only the writes needed, each batched: an EVSE PATCH costs
    # this read and one UPDATE (issue 14), a PUT of N EVSEs no more than one of each kind.
    existing = {row.uid: row for row in location.evse_rows.all()}
    gone = [row.pk for uid, row in existing.items() if uid not in wanted]
    if gone:
        Evse.objects.filter(pk__in=gone).delete()
    created: list[Evse] = []
    updated: list[Evse] = []
    changes: list[EvseStatusChange] = []
    received_at = timezone.now()
    for uid, evse in wanted.items():
        status = str(evse.get("status", ""))[:12]
        last_updated = _last_updated_or(evse, received_at)
        fields = {
            "evse_id": str(evse.get("evse_id") or "")[:48],
            "status": status,
            "last_updated": last_updated,
        }
        row = existing.get(uid)
        held = row.status if row is not None else None
        if row is None:
            created.append(Evse(location=location, uid=uid, **fields))
        elif any(getattr(row, k) != v for k, v in fields.items()):
            for name, value in fields.items():
                setattr(row, name, value)
            updated.append(row)
        if row is None or held != status:
            changes.append(
                EvseStatusChange(
                    location=location,
                    country_code=location.country_code,
                    party_id=location.party_id,
                    evse_uid=uid,
                    status=status,
                    # The EVSE's last_updated is when it last changed (mod_locations): the
                    # moment its new status began (receipt time when it cannot be read).
                    changed_at=last_updated,
                    recorded_at=received_at,
                )
            )
    if created:
        Evse.objects.bulk_create(created)
    if len(updated) == 1:  # a plain UPDATE: cheaper to build than bulk_update's CASE
        (row,) = updated
        Evse.objects.filter(pk=row.pk).update(
            evse_id=row.evse_id, status=row.status, last_updated=row.last_updated
        )
    elif updated:
        Evse.objects.bulk_update(updated, ["evse_id", "status", "last_updated"])
    if changes:
        EvseStatusChange.objects.bulk_create(changes)


def _store(
    location: Location | None, address: LocationAddress, document: dict[str, Any], owner: Platform
) -> Location:
    fields = {
        "data": document,
        "last_updated": parse_datetime(document["last_updated"]),
        "publish": bool(document.get("publish", True)),
        "name": str(document.get("name") or "")[:255],
        "city": str(document.get("city") or "")[:45],
        "country": str(document.get("country") or "")[:3],
        "owner": owner,
    }
    before = location.data if location is not None else None
    if location is None:
        location = Location.objects.create(
            country_code=address.party.country_code,
            party_id=address.party.party_id,
            location_id=address.location_id.upper(),
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(location, name, value)
        location.save()
    _sync_evse_rows(location)
    sync_audience(location, before)
    return location


def _broadcast(
    address: LocationAddress,
    *,
    document: dict[str, Any],
    method: str,
    created: bool,
    fields: list[str],
    was_published: bool,
    now_published: bool,
    owner: Platform,
    correlation_id: str,
) -> list[PushDelivery]:
    # Private locations SHALL NOT be published, except to the eMSPs of the tokens listed in
    # publish_allowed_to; a location that just became private is sent once more
    # (publish=false) to everyone who had it, so they can withdraw it.
    receivers = receivers_for(
        MODULE,
        owner=address.party,
        exclude_platform_id=owner.pk,
        location_id=address.location_id,
    )
    if address.level == "evse" and method == "PATCH" and set(fields) <= EVSE_STATUS_FIELDS:
        # A status-only update is not delivered at all to whoever may not see the status.
        receivers = [
            r for r in receivers if evse_status_allowed(address.party, r.party, address.location_id)
        ]
    if not (now_published or was_published):
        allowed = publish_allowed_parties(document)
        receivers = [r for r in receivers if r.party in allowed]
    if address.level != "location":
        receivers = _without_pending_location_put(address, receivers)
    if created or (address.level == "location" and method == "PUT"):
        key, operation = _location_key(address), "PUT"
    else:
        key, operation = address.key, method
    return push_enqueue(
        module=MODULE,
        object_key=key,
        operation=operation,
        receivers=receivers,
        correlation_id=correlation_id,
        patch_fields=fields if operation == "PATCH" else (),
    )


def _location_key(address: LocationAddress) -> str:
    return LocationAddress(address.party, address.location_id).key


def _without_pending_location_put(
    address: LocationAddress, receivers: list[Receiver]
) -> list[Receiver]:
    """A pending PUT of the whole location will carry this EVSE/connector change at send time;
    a separate child delivery could even overtake it and hit an unknown location."""
    covered = set(
        PushDelivery.objects.filter(
            module=MODULE,
            object_key=_location_key(address),
            status=DeliveryStatus.PENDING,
            operation="PUT",
            receiver_id__in=[r.platform.pk for r in receivers],
        ).values_list("receiver_id", flat=True)
    )
    return [r for r in receivers if r.platform.pk not in covered]


@retry_on_unique_race
@transaction.atomic
def location_write(
    *,
    owner: Platform,
    address: LocationAddress,
    method: str,
    data: dict[str, Any],
    correlation_id: str = "",
) -> WriteResult[Location]:
    """Store a CPO's PUT or PATCH of a location, EVSE or connector and broadcast it."""
    location = (
        Location.objects.select_for_update()
        .filter(
            country_code=address.party.country_code,
            party_id=address.party.party_id,
            location_id=address.location_id.upper(),
        )
        .first()
    )
    before = location.data if location is not None else None
    was_published = bool(before.get("publish", True)) if before else False
    document, changed = _apply(before, address, method, data)
    # `_apply` reports "unchanged" only over a stored location (a new one is always a change).
    if location is not None and not changed:
        return WriteResult(location, created=False, changed=False)
    created = location is None
    existed_at_level = _exists_at_level(before, address)
    stored = _store(location, address, document, owner)
    _broadcast(
        address,
        document=stored.data,
        method=method,
        created=created,
        fields=sorted(data),
        was_published=was_published,
        now_published=stored.publish,
        owner=owner,
        correlation_id=correlation_id,
    )
    return WriteResult(stored, created=not existed_at_level, changed=True)


def location_put_pulled(
    *, owner: Platform, party: PartyRef, object_id: str, data: dict[str, Any], correlation_id: str
) -> WriteResult[Location]:
    """Store a location the hub pulled from its CPO's SENDER list (`hub.modules` sync): a PUT
    of the whole location, as if the CPO had pushed it."""
    return location_write(
        owner=owner,
        address=LocationAddress(party, object_id),
        method="PUT",
        data=data,
        correlation_id=correlation_id,
    )


def _exists_at_level(document: dict[str, Any] | None, address: LocationAddress) -> bool:
    if document is None:
        return False
    if address.level == "location":
        return True
    evses = document.get("evses") or []
    index = _find(evses, "uid", address.evse_uid or "")
    if index is None:
        return False
    if address.level == "evse":
        return True
    return _find(evses[index].get("connectors") or [], "id", address.connector_id or "") is not None


def location_object(location: Location, address: LocationAddress) -> dict[str, Any]:
    """The stored object at `address` (location, EVSE or connector); 404 + 2003 when absent."""
    document = location.data
    if address.level == "location":
        return document
    evses = document.get("evses") or []
    evse_index = _find(evses, "uid", address.evse_uid or "")
    if evse_index is None:
        raise UnknownObjectError(f"Unknown EVSE {address.evse_uid}")
    evse = evses[evse_index]
    if address.level == "evse":
        return evse
    connectors = evse.get("connectors") or []
    connector_index = _find(connectors, "id", address.connector_id or "")
    if connector_index is None:
        raise UnknownObjectError(f"Unknown connector {address.connector_id}")
    return connectors[connector_index]


def location_get(address: LocationAddress) -> dict[str, Any]:
    """The hub's copy of a CPO's object (the Receiver GET: the CPO checks what the hub has)."""
    location = Location.objects.filter(
        country_code=address.party.country_code,
        party_id=address.party.party_id,
        location_id=address.location_id.upper(),
    ).first()
    if location is None:
        raise UnknownObjectError(f"Unknown location {address.location_id}")
    return location_object(location, address)


def _path(
    document: dict[str, Any], evse: dict[str, Any] | None, connector: dict[str, Any] | None
) -> str:
    # The owner's spelling of the ids, as received (CiStrings are compared, never rewritten).
    parts = [document["country_code"], document["party_id"], document["id"]]
    if evse is not None:
        parts.append(evse["uid"])
    if connector is not None:
        parts.append(connector["id"])
    return "/" + "/".join(str(p) for p in parts)


def evse_without_status(evse: dict[str, Any]) -> dict[str, Any]:
    """An EVSE as shown without the real-time status: `status` UNKNOWN, no `status_schedule`;
    `last_updated` untouched (the object did not change, only what this receiver sees)."""
    shown = {**evse, "status": UNKNOWN_STATUS}
    shown.pop("status_schedule", None)
    return shown


def location_without_status(document: dict[str, Any]) -> dict[str, Any]:
    """A location as shown without the real-time EVSE status (`evse_without_status`)."""
    if not document.get("evses"):
        return document
    return {**document, "evses": [evse_without_status(e) for e in document["evses"]]}


def build_location_push(delivery: PushDelivery) -> PushRequest | None:
    """The request for a locations delivery, from the location's state now (every EVSE status
    UNKNOWN for a receiver without the `evse_status` agreement scope)."""
    segments = delivery.object_key.split("/")
    location = Location.objects.filter(
        country_code=segments[0], party_id=segments[1], location_id=segments[2]
    ).first()
    if location is None:
        return None
    document = location.data
    masked = not evse_status_allowed(
        PartyRef(segments[0], segments[1]),
        PartyRef(delivery.to_country_code, delivery.to_party_id),
        location.location_id,
    )
    if masked:
        document = location_without_status(document)
    full = PushRequest("PUT", _path(document, None, None), document)
    evse = connector = None
    target: dict[str, Any] = document
    try:
        if len(segments) > 3:
            address = LocationAddress(PartyRef(segments[0], segments[1]), segments[2], segments[3])
            evse = target = location_object(location, address)
            if masked:
                evse = target = evse_without_status(evse)
        if len(segments) > 4:
            address = LocationAddress(
                PartyRef(segments[0], segments[1]), segments[2], segments[3], segments[4]
            )
            connector = target = location_object(location, address)
    except NotFoundError:
        return full
    path = _path(document, evse, connector)
    if delivery.operation == "PATCH":
        fields = set(delivery.patch_fields) | {"last_updated"}
        body = {name: target[name] for name in sorted(fields) if name in target}
        return PushRequest("PATCH", path, body, fallback=full)
    if target is document:
        return full
    return PushRequest("PUT", path, target, fallback=full)
