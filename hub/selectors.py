"""Reads (HackSoft selectors): every "who may see / receive this" decision lives here, so that
roaming agreements plug in at one place (DESIGN §6b)."""

from typing import Any

from django.db.models import Q, QuerySet

from hub.models import (
    ConnectionStatus,
    InterfaceRole,
    Location,
    PlatformRole,
    Tariff,
    Token,
    TokenOwner,
)
from hub.models.cdrs import Cdr
from hub.models.sessions import Session
from hub.ocpi.authentication import OcpiCaller
from hub.ocpi.routing import PartyRef
from hub.services.delivery.types import Receiver


def client_infos_visible_to(caller: OcpiCaller) -> QuerySet[PlatformRole]:
    """The parties whose ClientInfo a caller may list: every party connected through the hub
    except the caller's own (in open roaming mode, the hub's whole directory)."""
    return (
        PlatformRole.objects.select_related("platform")
        .exclude(platform=caller.platform)
        .exclude(platform__registered=False, platform__status="PLANNED")
    )


# Roles that receive what a CPO publishes (2.2.1 transport_and_format, Broadcast Push: "all
# connected clients with an opposite role"; OTHER is seen as an eMSP type of role).
CPO_DATA_RECEIVER_ROLES = ("EMSP", "NSP", "OTHER")
# Roles that may own the token of a session or CDR and receive it (2.2.1 mod_sessions Receiver:
# "typically eMSP and SCSP"; NSP and OTHER are eMSP types of role).
SESSION_RECEIVER_ROLES = ("EMSP", "NSP", "OTHER", "SCSP")


def receivers_for(
    module: str,
    *,
    owner: PartyRef,
    roles: tuple[str, ...] = CPO_DATA_RECEIVER_ROLES,
    exclude_platform_id: int | None = None,
) -> list[Receiver]:
    """Who gets a broadcast of `owner`'s `module` data: one delivery per CONNECTED, registered
    platform that hosts one of `roles` and publishes the module's RECEIVER endpoint.

    The TO header names the platform's first such role (in `roles` order).
    """
    candidates = (
        PlatformRole.objects.select_related("platform")
        .filter(
            role__in=roles,
            platform__registered=True,
            platform__status=ConnectionStatus.CONNECTED,
            platform__endpoints__identifier=module,
            platform__endpoints__role=InterfaceRole.RECEIVER,
        )
        .distinct()
        .order_by("platform_id", "pk")
    )
    if exclude_platform_id is not None:
        candidates = candidates.exclude(platform_id=exclude_platform_id)
    chosen: dict[int, PlatformRole] = {}
    for role in candidates:
        current = chosen.get(role.platform_id)
        if current is None or roles.index(role.role) < roles.index(current.role):
            chosen[role.platform_id] = role
    receivers = []
    for role in chosen.values():
        party = PartyRef.of(role.country_code, role.party_id)
        if may_route(owner, party, module):
            receivers.append(Receiver(role.platform, party))
    return receivers


def platform_roles_of(party: PartyRef) -> QuerySet[PlatformRole]:
    """The roles registered for a party address (a party may hold several roles)."""
    return PlatformRole.objects.select_related("platform").filter(
        country_code=party.country_code, party_id=party.party_id
    )


def publish_allowed_parties(document: dict[str, Any]) -> set[PartyRef]:
    """The eMSP parties an unpublished location may be shown to: the owners of the tokens its
    `publish_allowed_to` names (2.2.1 mod_locations PublishTokenType: by uid (and type), by
    visual_number + issuer, or by group_id), as the token-owner index knows them."""
    parties: set[PartyRef] = set()
    for entry in document.get("publish_allowed_to") or []:
        if not isinstance(entry, dict):
            continue
        if entry.get("uid"):
            owners = TokenOwner.objects.filter(uid=str(entry["uid"]).upper())
            if entry.get("type"):
                owners = owners.filter(type=entry["type"])
            parties |= {PartyRef(o.country_code, o.party_id) for o in owners}
        tokens = Token.objects.none()
        if entry.get("visual_number") and entry.get("issuer"):
            tokens = Token.objects.filter(
                data__visual_number=entry["visual_number"], data__issuer=entry["issuer"]
            )
        elif entry.get("group_id"):
            tokens = Token.objects.filter(data__group_id=entry["group_id"])
        parties |= {
            PartyRef(t.country_code, t.party_id) for t in tokens.only("country_code", "party_id")
        }
    return parties


def locations_visible_to(caller: OcpiCaller) -> QuerySet[Location]:
    """The stored locations a caller may read through the hub: published ones, and unpublished
    ones whose `publish_allowed_to` names a token of the caller's (2.2.1: private locations
    SHALL NOT be published; restricted ones only to the listed drivers' eMSPs)."""
    mine = caller.parties()
    allowed = [
        location.pk
        for location in Location.objects.filter(
            publish=False, data__has_key="publish_allowed_to"
        ).only("pk", "data")
        if publish_allowed_parties(location.data) & mine
    ]
    if not allowed:
        return Location.objects.filter(publish=True)
    return Location.objects.filter(Q(publish=True) | Q(pk__in=allowed))


def tariffs_visible_to(caller: OcpiCaller) -> QuerySet[Tariff]:
    """The stored tariffs a caller may read through the hub (not deleted)."""
    return Tariff.objects.filter(deleted_at__isnull=True)


def tokens_visible_to(caller: OcpiCaller) -> QuerySet[Token]:
    """The stored eMSP tokens a CPO may read through the hub (2.2.1 mod_tokens Sender GET, via
    the hub). In open roaming mode every eMSP's tokens, invalidated ones included (a CPO must
    learn that a token became `valid=false`)."""
    return Token.objects.all()


def sessions_visible_to(caller: OcpiCaller, party: PartyRef | None = None) -> QuerySet[Session]:
    """The stored sessions a caller may read through the hub: those whose `cdr_token` belongs
    to one of its eMSP-type parties (only `party`'s when given, e.g. the FROM party). Sessions
    are personal data of one eMSP's driver: never shown to another eMSP (2.2.1 mod_sessions)."""
    parties = caller.parties(*SESSION_RECEIVER_ROLES)
    if party is not None:
        parties = parties & {party}
    if not parties:
        return Session.objects.none()
    owned = Q()
    for owner in sorted(parties):
        owned |= Q(token_country_code=owner.country_code, token_party_id=owner.party_id)
    return Session.objects.filter(owned)


def cdrs_visible_to(caller: OcpiCaller, party: PartyRef | None = None) -> QuerySet[Cdr]:
    """The stored CDRs a caller may read through the hub (2.2.1 mod_cdrs Sender GET): those
    whose `cdr_token` belongs to one of its eMSP-type parties (only `party`'s when given, e.g.
    the FROM party). A CDR is one eMSP's bill for one driver: never shown to anyone else."""
    parties = caller.parties(*SESSION_RECEIVER_ROLES)
    if party is not None:
        parties = parties & {party}
    if not parties:
        return Cdr.objects.none()
    owned = Q()
    for owner in sorted(parties):
        owned |= Q(token_country_code=owner.country_code, token_party_id=owner.party_id)
    return Cdr.objects.filter(owned)


def may_route(from_party: PartyRef, to_party: PartyRef, module: str) -> bool:
    """May `from_party` send `module` data to `to_party`? In open roaming mode (the default)
    everything connected may; roaming agreements plug in here (DESIGN §6b)."""
    return True
