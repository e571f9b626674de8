"""Reads (HackSoft selectors): every "who may see / receive this" decision lives here, so that
roaming agreements plug in at one place (DESIGN §6b).

In `OCPI_ROAMING_MODE=agreements` each of them also asks `hub.services.agreements.policy`
whether an agreement in force lets the data flow between the two parties; in open mode they
answer as if every pair had an agreement of every scope.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from django.db import connection
from django.db.models import Max, Q, QuerySet

from hub.models import (
    ConnectionStatus,
    InterfaceRole,
    Location,
    LocationAudience,
    Platform,
    PlatformEndpoint,
    PlatformRole,
    PushDelivery,
    Tariff,
    Token,
    TokenOwner,
)
from hub.models.agreements import AgreementScope, RoamingAgreement
from hub.models.cdrs import Cdr
from hub.models.sessions import Session
from hub.modules import ModuleID
from hub.ocpi import directory_cache
from hub.ocpi.caller import Caller, platform_from_values, roles_from_values, row_values
from hub.ocpi.routing import PartyRef, hub_party
from hub.services.agreements import policy
from hub.services.delivery.types import Receiver


def _party_q(parties: set[PartyRef], cc: str = "country_code", pid: str = "party_id") -> Q:
    """Rows whose (`cc`, `pid`) is one of `parties` (nothing when empty)."""
    named = Q(pk__in=[])
    for party in sorted(parties):
        named |= Q(**{cc: party.country_code, pid: party.party_id})
    return named


def _platform_parties(platform: Platform) -> set[PartyRef]:
    return {PartyRef.of(role.country_code, role.party_id) for role in platform.roles.all()}


def client_infos_visible_to(platform: Platform) -> QuerySet[PlatformRole]:
    """The parties whose ClientInfo `platform` may list: every party connected through the hub
    except its own (in open roaming mode, the hub's whole directory); in agreements mode only
    the parties one of its own has an agreement in force with (of any scope)."""
    roles = (
        PlatformRole.objects.select_related("platform")
        .exclude(platform=platform)
        .exclude(platform__registered=False, platform__status="PLANNED")
    )
    if policy.roaming_open():
        return roles
    return roles.filter(_party_q(counterparts_of(_platform_parties(platform))))


def counterparts_of(parties: set[PartyRef]) -> set[PartyRef]:
    """The parties one of `parties` has an agreement in force with (of any scope)."""
    found: set[PartyRef] = set()
    for agreement in policy.in_force_of(parties):
        cpo, emsp = policy.cpo_of(agreement), policy.emsp_of(agreement)
        found |= {emsp} if cpo in parties else set()
        found |= {cpo} if emsp in parties else set()
    return found


def client_info_known_to(role: PlatformRole, receiver: Platform) -> bool:
    """May `receiver` know `role`'s party as connected? Always in open mode; in agreements
    mode only with an agreement in force between it and one of the receiver's parties (else
    the hub announces the party SUSPENDED to it, 2.2.1 mod_hub_client_info ConnectionStatus)."""
    if policy.roaming_open():
        return True
    return PartyRef.of(role.country_code, role.party_id) in counterparts_of(
        _platform_parties(receiver)
    )


def client_info_changed_at(role: PlatformRole, receiver: Platform) -> datetime | None:
    """When an agreement between `role`'s party and one of the receiver's last changed (None
    in open mode or without one): a ClientInfo pushed for an agreement change is dated then, so
    a receiver keeping the newest `last_updated` takes it."""
    if policy.roaming_open():
        return None
    party = PartyRef.of(role.country_code, role.party_id)
    pairs = Q(pk__in=[])
    for own in _platform_parties(receiver):
        pairs |= (
            Q(cpo_country_code=party.country_code, cpo_party_id=party.party_id)
            & Q(emsp_country_code=own.country_code, emsp_party_id=own.party_id)
        ) | (
            Q(cpo_country_code=own.country_code, cpo_party_id=own.party_id)
            & Q(emsp_country_code=party.country_code, emsp_party_id=party.party_id)
        )
    changed: datetime | None = RoamingAgreement.objects.filter(pairs).aggregate(
        at=Max("updated_at")
    )["at"]
    return changed


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
    location_id: str | None = None,
) -> list[Receiver]:
    """Who gets a broadcast of `owner`'s `module` data: one delivery per CONNECTED, registered
    platform that hosts one of `roles` and publishes the module's RECEIVER endpoint, if the
    owner may route the module to one of its parties (`may_route`; `location_id` for a
    location's data: an agreement may name only some locations).

    The TO header names the platform's first such role (in `roles` order) that may receive it.
    """
    # The candidates change only with the directory: one copy per process between changes.
    key = ("receivers", module, roles, exclude_platform_id)
    copied = directory_cache.cached(
        key, lambda: _receiver_candidates(module, roles, exclude_platform_id)
    )
    by_platform: dict[int, list[PlatformRole]] = {}
    for platform_row, role_rows in copied:
        platform = platform_from_values(platform_row)
        by_platform[platform.pk] = list(roles_from_values(role_rows, platform))
    receivers = []
    for platform_roles in by_platform.values():
        platform_roles.sort(key=lambda r: (roles.index(r.role), r.pk))
        for role in platform_roles:
            party = PartyRef.of(role.country_code, role.party_id)
            if may_route(owner, party, module, location_id=location_id):
                receivers.append(Receiver(role.platform, party))
                break
    return receivers


# Platforms with their roles as plain values (what `directory_cache` keeps): one entry per
# platform, (its row, its roles' rows), in the order the roles were read.
PlatformRows = tuple[tuple[tuple[object, ...], tuple[tuple[object, ...], ...]], ...]


def _rows_by_platform(roles: Iterable[PlatformRole]) -> PlatformRows:
    """`roles` (read with their platform) grouped by platform as plain values."""
    by_platform: dict[int, tuple[tuple[object, ...], list[tuple[object, ...]]]] = {}
    for role in roles:
        entry = by_platform.setdefault(role.platform_id, (row_values(role.platform), []))
        entry[1].append(row_values(role))
    return tuple((platform, tuple(rows)) for platform, rows in by_platform.values())


def _receiver_candidates(
    module: str, roles: tuple[str, ...], exclude_platform_id: int | None
) -> PlatformRows:
    """Each CONNECTED, registered platform publishing `module`'s RECEIVER endpoint, with its
    roles among `roles`, as plain values (`directory_cache` keeps them)."""
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
    return _rows_by_platform(candidates)


def platform_roles_of(party: PartyRef) -> QuerySet[PlatformRole]:
    """The roles registered for a party address (a party may hold several roles)."""
    return PlatformRole.objects.select_related("platform").filter(
        country_code=party.country_code, party_id=party.party_id
    )


@dataclass(frozen=True)
class PartyDirectory:
    """What routing a request to a party reads: the roles registered for its address (with
    their platforms) and the endpoints those platforms published. Fresh instances per call."""

    roles: tuple[PlatformRole, ...]
    # (platform id, module identifier, interface role, url), by platform id then endpoint pk.
    endpoints: tuple[tuple[int, str, str, str], ...]

    def endpoint_of(
        self, platform_ids: Iterable[int], module: str, interface_role: str
    ) -> tuple[int, str] | None:
        """The first (by platform id) of `platform_ids`' (`module`, `interface_role`)
        endpoints, as (platform id, url)."""
        allowed = set(platform_ids)
        for platform_id, identifier, role, url in self.endpoints:
            if platform_id in allowed and identifier == module and role == interface_role:
                return platform_id, url
        return None


def party_directory(party: PartyRef) -> PartyDirectory:
    """The roles and endpoints behind a party address, as `platform_roles_of` and the
    platforms' endpoints would read them; one copy per process between directory changes
    (`directory_cache`: every write to platforms, roles or endpoints drops it), so a routed
    request reads none of them (issue 14, S1). An address nobody registered is not kept."""
    copied = directory_cache.cached(
        ("party-directory", party.country_code, party.party_id),
        lambda: _party_directory_values(party),
    )
    if copied is None:
        return PartyDirectory(roles=(), endpoints=())
    platforms_rows, endpoints = copied
    roles: list[PlatformRole] = []
    for platform_row, role_rows in platforms_rows:
        roles.extend(roles_from_values(role_rows, platform_from_values(platform_row)))
    return PartyDirectory(roles=tuple(roles), endpoints=endpoints)


def _party_directory_values(
    party: PartyRef,
) -> tuple[PlatformRows, tuple[tuple[int, str, str, str], ...]] | None:
    platforms = _rows_by_platform(platform_roles_of(party).order_by("platform_id", "pk"))
    if not platforms:
        return None
    # A platform row's first column is its id (`row_values`: concrete fields in order).
    platform_ids = [int(cast(int, platform_row[0])) for platform_row, _ in platforms]
    endpoints = tuple(
        (int(platform_id), str(identifier), str(role), str(url))
        for platform_id, identifier, role, url in PlatformEndpoint.objects.filter(
            platform_id__in=platform_ids
        )
        .order_by("platform_id", "pk")
        .values_list("platform_id", "identifier", "role", "url")
    )
    return platforms, endpoints


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


def _json_text(vendor: str, column: str, key: str) -> str:
    """SQL for the text of `key` in a JSON column (`key` is a constant of this module)."""
    if vendor == "postgresql":
        return f"{column} ->> '{key}'"
    return f"json_extract({column}, '$.{key}')"


def _audience_sql(parties: set[PartyRef]) -> tuple[str, list[str]]:
    """A WHERE clause true for the locations `parties` may see: published ones, and unpublished
    ones one of whose `publish_allowed_to` entries (`LocationAudience`) names a token of
    `parties`: by uid (and type, when given) in the token-owner index, by visual_number +
    issuer or by group_id among the stored tokens. The same matches as
    `publish_allowed_parties`, inside the page's own statement and its count's. Written as SQL
    because the ORM's nested Exists cost more to build and compile on every request (5 ms of a
    9 ms page) than the query they replaced; identifiers come from the models, values are
    parameters."""
    location, audience = Location._meta.db_table, LocationAudience._meta.db_table
    owners, tokens = TokenOwner._meta.db_table, Token._meta.db_table
    vendor = connection.vendor
    ordered = sorted(parties, key=lambda p: (p.country_code, p.party_id))
    params = [value for party in ordered for value in (party.country_code, party.party_id)]

    def theirs(alias: str) -> str:
        match = " OR ".join(
            [f"({alias}.country_code = %s AND {alias}.party_id = %s)"] * len(ordered)
        )
        return f"({match or '1 = 0'})"

    def among_tokens(*keys: str) -> str:
        """A stored token of `parties` whose JSON `keys` equal the entry's same-named columns."""
        same = " AND ".join(f"{_json_text(vendor, 't.data', key)} = a.{key}" for key in keys)
        return f"EXISTS (SELECT 1 FROM {tokens} t WHERE {same} AND {theirs('t')})"  # noqa: S608 - identifiers only

    by_uid = (
        f"EXISTS (SELECT 1 FROM {owners} o WHERE o.uid = a.uid"  # noqa: S608 - identifiers only
        f" AND (a.token_type IS NULL OR o.type = a.token_type) AND {theirs('o')})"
    )
    by_visual_number, by_group = among_tokens("visual_number", "issuer"), among_tokens("group_id")
    clause = (
        f'("{location}"."publish" OR EXISTS (SELECT 1 FROM {audience} a'  # noqa: S608 - identifiers only
        f' WHERE a.location_id = "{location}"."id"'
        f" AND ({by_uid} OR {by_visual_number} OR {by_group})))"
    )
    # `theirs` is in the clause three times, each with every party's two values.
    return clause, params * 3


def locations_visible_to(caller: Caller) -> QuerySet[Location]:
    """The stored locations a caller may read through the hub: published ones, and unpublished
    ones whose `publish_allowed_to` names a token of the caller's (2.2.1: private locations
    SHALL NOT be published; restricted ones only to the listed drivers' eMSPs). One filter,
    no query of its own: the audience test runs inside the page's statement."""
    clause, params = _audience_sql(caller.parties())
    visible = Location.objects.extra(where=[clause], params=params)  # noqa: S610 - see above
    if policy.roaming_open():
        return visible
    return visible.filter(_agreed_cpo_data(caller, AgreementScope.LOCATIONS, per_location=True))


def _agreed_cpo_data(caller: Caller, scope: str, *, per_location: bool = False) -> Q:
    """The CPO objects (`country_code`/`party_id` the CPO party) that agreements in force with
    the caller's eMSP-type parties let it see under `scope`; per location when the agreement
    names some (`location_id`)."""
    agreed = Q(pk__in=[])
    for agreement in policy.in_force_of(caller.parties(*SESSION_RECEIVER_ROLES), side="emsp"):
        if not agreement.allows(scope):
            continue
        one = Q(country_code=agreement.cpo_country_code, party_id=agreement.cpo_party_id)
        if per_location and agreement.location_ids:
            one &= Q(location_id__in=[str(i).upper() for i in agreement.location_ids])
        agreed |= one
    return agreed


def evse_status_visibility(caller: Caller) -> Callable[[Location], bool]:
    """A test of whether the caller may see the real-time EVSE status of a location it may see
    (the `evse_status` scope; in open mode always). Without it the hub serves every EVSE
    `status` as UNKNOWN."""
    if policy.roaming_open():
        return lambda location: True
    agreements = [
        agreement
        for agreement in policy.in_force_of(caller.parties(*SESSION_RECEIVER_ROLES), side="emsp")
        if agreement.allows(AgreementScope.EVSE_STATUS)
    ]

    def visible(location: Location) -> bool:
        return any(
            agreement.cpo_country_code == location.country_code
            and agreement.cpo_party_id == location.party_id
            and policy.allows(agreement, AgreementScope.EVSE_STATUS, location.location_id)
            for agreement in agreements
        )

    return visible


def evse_status_allowed(cpo: PartyRef, receiver: PartyRef, location_id: str) -> bool:
    """May `receiver` get the real-time EVSE status of `cpo`'s location (open mode: yes)?"""
    if policy.roaming_open():
        return True
    return (
        policy.agreement_allowing(
            cpo, receiver, AgreementScope.EVSE_STATUS, location_id=location_id
        )
        is not None
    )


def tariffs_visible_to(caller: Caller) -> QuerySet[Tariff]:
    """The stored tariffs a caller may read through the hub (not deleted); in agreements mode
    only those of CPOs it has an agreement in force with, of the tariffs scope."""
    tariffs = Tariff.objects.filter(deleted_at__isnull=True)
    if policy.roaming_open():
        return tariffs
    return tariffs.filter(_agreed_cpo_data(caller, AgreementScope.TARIFFS))


def tokens_visible_to(caller: Caller) -> QuerySet[Token]:
    """The stored eMSP tokens a CPO may read through the hub (2.2.1 mod_tokens Sender GET, via
    the hub). In open roaming mode every eMSP's tokens, invalidated ones included (a CPO must
    learn that a token became `valid=false`); in agreements mode only the tokens of eMSPs one
    of the caller's CPO parties has an agreement in force with, of the tokens scope."""
    if policy.roaming_open():
        return Token.objects.all()
    emsps = {
        policy.emsp_of(agreement)
        for agreement in policy.in_force_of(caller.parties("CPO"), side="cpo")
        if agreement.allows(AgreementScope.TOKENS)
    }
    return Token.objects.filter(_party_q(emsps))


def _agreed_billing(parties: set[PartyRef], scope: str) -> Q:
    """Sessions or CDRs (CPO in `country_code`/`party_id`, eMSP in `token_*`) of the eMSP
    `parties` that an agreement in force of `scope` with their CPO lets them see."""
    agreed = Q(pk__in=[])
    for agreement in policy.in_force_of(parties, side="emsp"):
        if agreement.allows(scope):
            agreed |= Q(
                country_code=agreement.cpo_country_code,
                party_id=agreement.cpo_party_id,
                token_country_code=agreement.emsp_country_code,
                token_party_id=agreement.emsp_party_id,
            )
    return agreed


def sessions_visible_to(caller: Caller, party: PartyRef | None = None) -> QuerySet[Session]:
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
    sessions = Session.objects.filter(owned)
    if policy.roaming_open():
        return sessions
    return sessions.filter(_agreed_billing(parties, AgreementScope.SESSIONS))


def cdrs_visible_to(caller: Caller, party: PartyRef | None = None) -> QuerySet[Cdr]:
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
    cdrs = Cdr.objects.filter(owned)
    if policy.roaming_open():
        return cdrs
    return cdrs.filter(_agreed_billing(parties, AgreementScope.CDRS))


def may_route(
    from_party: PartyRef, to_party: PartyRef, module: str, *, location_id: str | None = None
) -> bool:
    """May `from_party` send `module` data to `to_party`? In open roaming mode (the default)
    everything connected may; in agreements mode only under an agreement in force between the
    two whose scopes include the module's (`hub.modules` `agreement_scope`; `location_id` for
    a location's data). The hub itself is no party of any agreement: what it says on its own
    behalf is never refused here."""
    if policy.roaming_open() or hub_party() in (from_party, to_party):
        return True
    return policy.may_exchange(from_party, to_party, module, location_id=location_id)


def missing_agreement(
    senders: set[PartyRef], to_party: PartyRef, module: str, *, location_id: str | None = None
) -> str | None:
    """The agreement none of `senders` has with `to_party` for `module`, in words for the
    partner (None in open mode, which needs none): "no roaming agreement in force between
    NL*CPO and DE*EMS for tokens" (`policy.refusal_text`)."""
    if policy.roaming_open() or not senders:
        return None
    return policy.refusal_text(min(senders), to_party, module, location_id)


def route_refusal(
    senders: set[PartyRef], to_party: PartyRef, module: str, *, location_id: str | None = None
) -> str | None:
    """Why none of `senders` may send `module` data to `to_party` (None: one may)."""
    if any(may_route(s, to_party, module, location_id=location_id) for s in senders):
        return None
    return missing_agreement(senders, to_party, module, location_id=location_id) or (
        f"{to_party} may not be reached for {module}"
    )


def delivery_refusal(delivery: PushDelivery) -> str | None:
    """Why a queued delivery may no longer be sent (None: it may): checked at send time, so
    that what was queued before an agreement was suspended or ended does not go out.

    The data owner is the delivery's FROM party, or, for the broadcasts the hub sends as
    itself, the party its object key starts with. HubClientInfo is never refused: its builder
    announces a party without an agreement as SUSPENDED."""
    if policy.roaming_open() or delivery.module == ModuleID.HUB_CLIENT_INFO:
        return None
    to_party = PartyRef.of(delivery.to_country_code, delivery.to_party_id)
    owner = PartyRef.of(delivery.from_country_code, delivery.from_party_id)
    segments = delivery.object_key.split("/")
    location_id = segments[2] if delivery.module == ModuleID.LOCATIONS else None
    if owner == hub_party():
        if delivery.module not in (ModuleID.LOCATIONS, ModuleID.TARIFFS, ModuleID.TOKENS):
            return None  # a result the hub wrote itself (e.g. a command TIMEOUT)
        owner = PartyRef.of(segments[0], segments[1])
    return route_refusal({owner}, to_party, delivery.module, location_id=location_id)
