"""Tariffs written by CPOs, stored and broadcast (2.2.1 mod_tariffs, Receiver interface).

PUT creates or replaces, DELETE retires (kept as a tombstone so the deletion reaches the
receivers and CDRs priced with it can still be checked). Stale and replayed PUTs change
nothing.
"""

from typing import Any

from django.db import transaction
from django.utils import timezone

from hub.models import Platform, PushDelivery, Tariff
from hub.modules import ModuleID
from hub.ocpi.datetimes import parse_datetime
from hub.ocpi.exceptions import NotFoundError
from hub.ocpi.routing import PartyRef
from hub.selectors import receivers_for
from hub.services.concurrency import retry_on_unique_race
from hub.services.delivery.enqueue import push_enqueue
from hub.services.delivery.types import PushRequest
from hub.services.freshness import supersedes
from hub.services.results import WriteResult

MODULE = ModuleID.TARIFFS


class UnknownTariffError(NotFoundError):
    """GET/DELETE of a tariff the hub does not have: HTTP 404."""


def tariff_key(party: PartyRef, tariff_id: str) -> str:
    return f"{party.country_code}/{party.party_id}/{tariff_id.upper()}"


def _locked(party: PartyRef, tariff_id: str) -> Tariff | None:
    return (
        Tariff.objects.select_for_update()
        .filter(
            country_code=party.country_code, party_id=party.party_id, tariff_id=tariff_id.upper()
        )
        .first()
    )


def _broadcast(
    party: PartyRef, tariff_id: str, operation: str, owner: Platform, correlation_id: str
) -> None:
    push_enqueue(
        module=MODULE,
        object_key=tariff_key(party, tariff_id),
        operation=operation,
        receivers=receivers_for(MODULE, owner=party, exclude_platform_id=owner.pk),
        correlation_id=correlation_id,
    )


@retry_on_unique_race
@transaction.atomic
def tariff_put(
    *,
    owner: Platform,
    party: PartyRef,
    tariff_id: str,
    data: dict[str, Any],
    correlation_id: str = "",
) -> WriteResult[Tariff]:
    """Store a CPO's tariff and broadcast it; older or replayed versions change nothing."""
    tariff = _locked(party, tariff_id)
    live = tariff is not None and tariff.deleted_at is None
    # Stale, or a replay of a version older than a deletion: it stays deleted.
    if tariff is not None and not supersedes(data, tariff.data, whole=True):
        return WriteResult(tariff, created=False, changed=False)
    fields = {
        "data": data,
        "currency": str(data.get("currency", ""))[:3],
        "last_updated": parse_datetime(data["last_updated"]),
        "deleted_at": None,
        "owner": owner,
    }
    if tariff is None:
        tariff = Tariff.objects.create(
            country_code=party.country_code,
            party_id=party.party_id,
            tariff_id=tariff_id.upper(),
            **fields,
        )
    else:
        for name, value in fields.items():
            setattr(tariff, name, value)
        tariff.save()
    _broadcast(party, tariff_id, "PUT", owner, correlation_id)
    return WriteResult(tariff, created=not live, changed=True)


@transaction.atomic
def tariff_delete(
    *, owner: Platform, party: PartyRef, tariff_id: str, correlation_id: str = ""
) -> WriteResult[Tariff]:
    """Retire a tariff and broadcast the DELETE."""
    tariff = _locked(party, tariff_id)
    if tariff is None or tariff.deleted_at is not None:
        raise UnknownTariffError(f"Unknown tariff {tariff_id}")
    tariff.deleted_at = timezone.now()
    tariff.save(update_fields=["deleted_at", "updated_at"])
    _broadcast(party, tariff_id, "DELETE", owner, correlation_id)
    return WriteResult(tariff, created=False, changed=True)


def tariff_put_pulled(
    *, owner: Platform, party: PartyRef, object_id: str, data: dict[str, Any], correlation_id: str
) -> WriteResult[Tariff]:
    """Store a tariff the hub pulled from its CPO's SENDER list (`hub.modules` sync)."""
    return tariff_put(
        owner=owner, party=party, tariff_id=object_id, data=data, correlation_id=correlation_id
    )


def tariff_retire_unlisted(
    *, owner: Platform, party: PartyRef, listed: set[str], correlation_id: str
) -> int:
    """A full pull's list is the truth: retire the party's live tariffs it does not list (ids
    upper-cased, as stored) and say how many were retired."""
    missing = Tariff.objects.filter(
        country_code=party.country_code, party_id=party.party_id, deleted_at__isnull=True
    ).exclude(tariff_id__in=listed)
    retired = 0
    for tariff in missing:
        try:
            tariff_delete(
                owner=owner,
                party=party,
                tariff_id=str(tariff.data.get("id") or tariff.tariff_id),
                correlation_id=correlation_id,
            )
        except UnknownTariffError:  # retired meanwhile
            continue
        retired += 1
    return retired


def tariff_get(party: PartyRef, tariff_id: str) -> dict[str, Any]:
    """The hub's copy of a CPO's tariff."""
    tariff = Tariff.objects.filter(
        country_code=party.country_code,
        party_id=party.party_id,
        tariff_id=tariff_id.upper(),
        deleted_at__isnull=True,
    ).first()
    if tariff is None:
        raise UnknownTariffError(f"Unknown tariff {tariff_id}")
    return tariff.data


def build_tariff_push(delivery: PushDelivery) -> PushRequest | None:
    """PUT the tariff's current state, or DELETE it if it was retired since."""
    country_code, party_id, tariff_id = delivery.object_key.split("/", 2)
    tariff = Tariff.objects.filter(
        country_code=country_code, party_id=party_id, tariff_id=tariff_id
    ).first()
    if tariff is None:
        return None
    path = f"/{tariff.data['country_code']}/{tariff.data['party_id']}/{tariff.data['id']}"
    if tariff.deleted_at is not None:
        return PushRequest("DELETE", path)
    return PushRequest("PUT", path, tariff.data)
