"""Who may hold which party (issue 10, defect 8): the parties a platform's credentials claim
are checked against what staff allowed, never simply taken.

Rules (`claims_plan` decides, `claims_apply` writes; the registry calls both, the admin
calls the staff actions):

- An invite may name the parties it is for (`ocpi_invite --party NL-ABC:CPO`, the admin's
  invite form, `ocpi_connect --party`): `Platform.parties_named`, one INVITED `PartyClaim`
  each. Credentials of that platform claiming any other party are refused (2001, the message
  names the party) and change nothing, at registration and on every later PUT.
- Without named parties, the first registration's parties are accepted and fixed from then on.
- A later PUT (or re-registration) claiming a free party the platform does not hold: the new
  role is PENDING until staff approve or reject it in the admin; the roles held keep working
  and the PUT succeeds for the rest.
- A party the platform held but its credentials leave out is DROPPED: reserved to it until
  staff release it, so no other platform can claim it (and inherit its stored objects). The
  same platform claiming it again gets it back.
- A party another platform holds in any form (working role, invited, pending, dropped), or the
  hub's own party, is refused (2001).
- Every change is written to `PartyAuditEntry` with who and when.

All writes run under one registry-wide lock (a PostgreSQL advisory lock; SQLite serialises
writers anyway): two platforms claiming the same free party at once cannot both win.
"""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import connection, transaction

from hub.models import (
    ClaimState,
    PartyAction,
    PartyAuditEntry,
    PartyClaim,
    Platform,
    PlatformRole,
    Role,
)
from hub.ocpi.exceptions import InvalidParametersError, MethodNotAllowedError
from hub.ocpi.routing import PartyRef
from hub.selectors import receivers_for
from hub.services.delivery.enqueue import push_enqueue
from hub.services.registry.clientinfo import ALL_ROLES, clientinfo_key
from hub.services.registry.clientinfo import MODULE as CLIENTINFO

PartyKey = tuple[str, str, str]
"""(COUNTRY_CODE, PARTY_ID, ROLE), upper-cased."""

# Any constant: the key of the registry-wide advisory lock.
_REGISTRY_LOCK = 0x0C91_0008
_SPEC = re.compile(r"^([A-Za-z]{2})[-*]([A-Za-z0-9]{3}):([A-Za-z]+)$")


def party_label(key: PartyKey) -> str:
    return f"{key[0]}*{key[1]} {key[2]}"


def parse_party_spec(text: str) -> PartyKey:
    """`NL-ABC:CPO` (or `NL*ABC:CPO`) → ("NL", "ABC", "CPO"); ValueError naming the problem."""
    match = _SPEC.match(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not COUNTRY-PARTY:ROLE, e.g. NL-ABC:CPO")
    country_code, party_id, role = match.group(1).upper(), match.group(2).upper(), match.group(3)
    if role.upper() not in Role.values:
        raise ValueError(f"{text!r}: role must be one of {', '.join(Role.values)}")
    return country_code, party_id, role.upper()


def _key(role: dict[str, Any]) -> PartyKey:
    return (str(role["country_code"]).upper(), str(role["party_id"]).upper(), str(role["role"]))


def _row_key(row: PlatformRole | PartyClaim) -> PartyKey:
    return (row.country_code.upper(), row.party_id.upper(), row.role)


def lock_registry() -> None:
    """Serialise party assignments (inside a transaction) across processes."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_REGISTRY_LOCK])


def audit(
    platform: Platform | None,
    key: PartyKey,
    action: str,
    *,
    actor: str,
    user: Any = None,
    detail: str = "",
    platform_name: str = "",
) -> PartyAuditEntry:
    return PartyAuditEntry.objects.create(
        platform=platform,
        platform_name=(platform.name if platform is not None else platform_name)[:100],
        country_code=key[0],
        party_id=key[1],
        role=key[2],
        action=action,
        actor=actor[:200],
        user=user if getattr(user, "pk", None) else None,
        detail=detail,
    )


def staff_actor(user: Any) -> str:
    return f"staff {getattr(user, 'get_username', lambda: '?')()}"


def _holder(key: PartyKey) -> tuple[int, str] | None:
    """(platform id, how) of whoever holds `key`, as a working role or a claim."""
    country_code, party_id, role = key
    working = PlatformRole.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id, role=role
    ).first()
    if working is not None:
        return working.platform_id, "registered to"
    claim = PartyClaim.objects.filter(
        country_code__iexact=country_code, party_id__iexact=party_id, role=role
    ).first()
    if claim is not None:
        return claim.platform_id, "reserved to"
    return None


@dataclass
class ClaimsPlan:
    """What one set of claimed roles does to a platform's parties."""

    # Every role the platform will work with, as claimed (business details included).
    working: list[dict[str, Any]] = field(default_factory=list)
    claimed: list[PartyKey] = field(default_factory=list)  # newly working
    requested: list[dict[str, Any]] = field(default_factory=list)  # newly pending
    dropped: list[PlatformRole] = field(default_factory=list)
    withdrawn: list[PartyClaim] = field(default_factory=list)

    @property
    def pending_message(self) -> str:
        """What the partner is told about the parties that wait for staff ("" if none)."""
        if not self.requested:
            return ""
        names = ", ".join(party_label(_key(role)) for role in self.requested)
        return f"{names}: awaiting approval by the hub's operator; the other roles are updated"


def claims_plan(
    platform: Platform, roles: Sequence[dict[str, Any]], *, field_prefix: str = ""
) -> ClaimsPlan:
    """Check the roles a platform's credentials claim (see the module docstring). Raises 2001
    naming the first refused party; reads only."""
    held = {_row_key(r): r for r in platform.roles.all()} if platform.pk else {}
    claims = {_row_key(c): c for c in platform.party_claims.all()} if platform.pk else {}
    first = platform.registered_at is None and not held and not platform.parties_named
    hub = (settings.OCPI_COUNTRY_CODE.upper(), settings.OCPI_PARTY_ID.upper())
    plan = ClaimsPlan()
    seen: set[PartyKey] = set()
    for index, role in enumerate(roles):
        key = _key(role)
        where = f"{field_prefix}roles[{index}]: {party_label(key)}"
        if key[:2] == hub:
            raise InvalidParametersError(
                f"{field_prefix}roles[{index}]: {hub[0]}*{hub[1]} is the hub's own party"
            )
        seen.add(key)
        if key in held:
            plan.working.append(role)
            continue
        holder = _holder(key)
        if holder is not None and holder[0] != platform.pk:
            raise InvalidParametersError(f"{where} is {holder[1]} another platform")
        claim = claims.get(key)
        if claim is not None and claim.state in (ClaimState.INVITED, ClaimState.DROPPED):
            plan.working.append(role)
            plan.claimed.append(key)
        elif claim is not None:  # PENDING: still waiting for staff
            continue
        elif platform.parties_named:
            allowed = sorted(set(held) | set(claims))
            raise InvalidParametersError(
                f"{where} is not a party this platform was invited for"
                + (f" ({', '.join(party_label(k) for k in allowed)})" if allowed else "")
                + "; ask the hub's operator"
            )
        elif first:
            plan.working.append(role)
            plan.claimed.append(key)
        else:
            plan.requested.append(role)
    plan.dropped = [row for key, row in held.items() if key not in seen]
    plan.withdrawn = [
        c for key, c in claims.items() if c.state == ClaimState.PENDING and key not in seen
    ]
    return plan


def claims_apply(platform: Platform, plan: ClaimsPlan, *, actor: str) -> None:
    """Write a plan's claims and their audit entries (inside the registry's transaction, before
    `PlatformRole`s are replaced by `plan.working`)."""
    for key in plan.claimed:
        PartyClaim.objects.filter(
            platform=platform, country_code=key[0], party_id=key[1], role=key[2]
        ).delete()
        audit(platform, key, PartyAction.CLAIMED, actor=actor)
    for role in plan.requested:
        key = _key(role)
        PartyClaim.objects.create(
            platform=platform,
            country_code=key[0],
            party_id=key[1],
            role=key[2],
            state=ClaimState.PENDING,
            business_details=role.get("business_details") or {},
        )
        audit(platform, key, PartyAction.REQUESTED, actor=actor)
    for row in plan.dropped:
        key = _row_key(row)
        PartyClaim.objects.create(
            platform=platform,
            country_code=key[0],
            party_id=key[1],
            role=key[2],
            state=ClaimState.DROPPED,
            business_details=row.business_details,
        )
        audit(
            platform,
            key,
            PartyAction.DROPPED,
            actor=actor,
            detail="left out of the credentials; reserved to this platform until released",
        )
    for claim in plan.withdrawn:
        claim.delete()
        audit(platform, _row_key(claim), PartyAction.WITHDRAWN, actor=actor)


@transaction.atomic
def parties_invite(
    platform: Platform, keys: Iterable[PartyKey], *, actor: str, user: Any = None
) -> None:
    """Name the parties a (new or re-invited) platform is for: each must be free (or already
    this platform's); 2001 otherwise, and nothing changes."""
    keys = list(dict.fromkeys(keys))
    if not keys:
        return
    lock_registry()
    hub = (settings.OCPI_COUNTRY_CODE.upper(), settings.OCPI_PARTY_ID.upper())
    for key in keys:
        if key[:2] == hub:
            raise InvalidParametersError(f"{party_label(key)}: the hub's own party")
        holder = _holder(key)
        if holder is not None and holder[0] != platform.pk:
            raise InvalidParametersError(f"{party_label(key)} is {holder[1]} another platform")
    Platform.objects.filter(pk=platform.pk).update(parties_named=True)
    platform.parties_named = True
    for key in keys:
        if _holder(key) is not None:
            continue  # already this platform's
        PartyClaim.objects.create(
            platform=platform,
            country_code=key[0],
            party_id=key[1],
            role=key[2],
            state=ClaimState.INVITED,
        )
        audit(platform, key, PartyAction.INVITED, actor=actor, user=user)


def _locked_claim(claim: PartyClaim, *states: str) -> PartyClaim:
    locked = PartyClaim.objects.select_for_update().filter(pk=claim.pk).first()
    if locked is None or locked.state not in states:
        raise MethodNotAllowedError(f"{claim} is no longer {' or '.join(states)}")
    return locked


@transaction.atomic
def claim_approve(claim: PartyClaim, *, user: Any) -> PlatformRole:
    """Staff approve a PENDING party: it becomes a working role of its platform (announced to
    the others through hubclientinfo)."""
    lock_registry()
    locked = _locked_claim(claim, ClaimState.PENDING)
    platform = locked.platform
    role = PlatformRole.objects.create(
        platform=platform,
        role=locked.role,
        country_code=locked.country_code,
        party_id=locked.party_id,
        business_details=locked.business_details,
    )
    locked.delete()
    audit(platform, _row_key(role), PartyAction.APPROVED, actor=staff_actor(user), user=user)
    if platform.registered:
        push_enqueue(
            module=CLIENTINFO,
            object_key=clientinfo_key(role),
            operation="PUT",
            receivers=receivers_for(
                CLIENTINFO,
                owner=PartyRef.of(role.country_code, role.party_id),
                roles=ALL_ROLES,
                exclude_platform_id=platform.pk,
            ),
        )
    return role


@transaction.atomic
def claim_reject(claim: PartyClaim, *, user: Any) -> None:
    """Staff refuse a PENDING party: the claim is gone, the party free again."""
    locked = _locked_claim(claim, ClaimState.PENDING)
    locked.delete()
    audit(
        locked.platform, _row_key(locked), PartyAction.REJECTED, actor=staff_actor(user), user=user
    )


@transaction.atomic
def claim_release(claim: PartyClaim, *, user: Any) -> None:
    """Staff release a DROPPED (or unclaimed INVITED) party: any platform may claim it next, and
    with it the objects the hub stores under it."""
    locked = _locked_claim(claim, ClaimState.DROPPED, ClaimState.INVITED)
    locked.delete()
    audit(
        locked.platform,
        _row_key(locked),
        PartyAction.RELEASED,
        actor=staff_actor(user),
        user=user,
        detail=f"was {locked.state}",
    )
