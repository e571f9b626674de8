"""What an agreement in force allows (DESIGN §6b): the reads behind `hub.selectors`.

`OCPI_ROAMING_MODE=open` (the default) allows everything, and nothing here is consulted. In
`agreements` mode data flows between a CPO party and an eMSP party only under an agreement
that is ACTIVE, whose validity period holds the day (both ends included) and whose scopes
include the module's (`hub.modules` `agreement_scope`); a module without a scope
(hubclientinfo) needs an agreement of any scope. `location_ids`, when not empty, narrows the
`locations` and `evse_status` scopes to those of the CPO's locations.

An agreement names the pair one way (CPO, eMSP) but governs both directions: a CPO's locations
to the eMSP and the eMSP's tokens, commands and authorizations to the CPO.

This module imports only models, the module table and the wire's `PartyRef`: the selectors
read it (an exception of the layers contract, with its reason, in pyproject.toml).
"""

from collections.abc import Iterable
from datetime import date

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from hub.models import PlatformRole, Role
from hub.models.agreements import AgreementScope, AgreementStatus, RoamingAgreement
from hub.modules import AGREEMENT_SCOPES, ModuleID
from hub.ocpi.routing import PartyRef

# The scopes narrowed by `location_ids` (tariffs are not per location).
LOCATION_SCOPES = frozenset({AgreementScope.LOCATIONS, AgreementScope.EVSE_STATUS})


def roaming_open() -> bool:
    """`OCPI_ROAMING_MODE=open`: every connected CPO and eMSP exchange everything."""
    return settings.OCPI_ROAMING_MODE != "agreements"


def today() -> date:
    """The day agreements are judged on (validity dates are days in the hub's time zone)."""
    return timezone.localdate()


def module_scope(module: str) -> str | None:
    """The agreement scope governing `module` (None: any agreement in force)."""
    return AGREEMENT_SCOPES.get(ModuleID(module))


def _pair_q(party: PartyRef, side: str) -> Q:
    return Q(**{f"{side}_country_code": party.country_code, f"{side}_party_id": party.party_id})


def _in_force_q(on: date) -> Q:
    return Q(status=AgreementStatus.ACTIVE, valid_from__lte=on) & (
        Q(valid_to__isnull=True) | Q(valid_to__gte=on)
    )


def cpo_of(agreement: RoamingAgreement) -> PartyRef:
    return PartyRef.of(agreement.cpo_country_code, agreement.cpo_party_id)


def emsp_of(agreement: RoamingAgreement) -> PartyRef:
    return PartyRef.of(agreement.emsp_country_code, agreement.emsp_party_id)


def in_force_between(a: PartyRef, b: PartyRef, on: date | None = None) -> list[RoamingAgreement]:
    """The agreements in force on `on` (today) between two parties, whichever is the CPO."""
    pair = (_pair_q(a, "cpo") & _pair_q(b, "emsp")) | (_pair_q(b, "cpo") & _pair_q(a, "emsp"))
    return list(RoamingAgreement.objects.filter(pair & _in_force_q(on or today())))


def in_force_of(
    parties: Iterable[PartyRef], *, side: str | None = None, on: date | None = None
) -> list[RoamingAgreement]:
    """The agreements in force on `on` naming one of `parties` as `side` ("cpo", "emsp"),
    or on either side when `side` is None."""
    sides = (side,) if side else ("cpo", "emsp")
    named = Q(pk__in=[])
    for party in parties:
        for one in sides:
            named |= _pair_q(party, one)
    return list(RoamingAgreement.objects.filter(named & _in_force_q(on or today())))


def allows(agreement: RoamingAgreement, scope: str | None, location_id: str | None = None) -> bool:
    """Does `agreement` (assumed in force) let `scope` flow, for `location_id` if given?"""
    if scope is None:
        return True
    if not agreement.allows(scope):
        return False
    if scope in LOCATION_SCOPES and location_id is not None and agreement.location_ids:
        return location_id.upper() in {str(i).upper() for i in agreement.location_ids}
    return True


def agreement_allowing(
    cpo: PartyRef,
    emsp: PartyRef,
    scope: str | None,
    *,
    on: date | None = None,
    location_id: str | None = None,
) -> RoamingAgreement | None:
    """The agreement in force on `on` (today) between CPO party `cpo` and eMSP party `emsp`
    that allows `scope` (for `location_id` when given), if there is one."""
    for agreement in RoamingAgreement.objects.filter(
        _pair_q(cpo, "cpo") & _pair_q(emsp, "emsp") & _in_force_q(on or today())
    ):
        if allows(agreement, scope, location_id):
            return agreement
    return None


def may_exchange(
    a: PartyRef,
    b: PartyRef,
    module: str,
    *,
    location_id: str | None = None,
    on: date | None = None,
) -> bool:
    """May parties `a` and `b` exchange `module` data (either direction)? Always in open mode."""
    if roaming_open():
        return True
    scope = module_scope(module)
    return any(allows(agreement, scope, location_id) for agreement in in_force_between(a, b, on))


def _is_cpo(party: PartyRef) -> bool:
    return PlatformRole.objects.filter(
        country_code=party.country_code, party_id=party.party_id, role=Role.CPO
    ).exists()


def refusal_text(a: PartyRef, b: PartyRef, module: str, location_id: str | None = None) -> str:
    """What a partner is told when `a` may not exchange `module` data with `b`: the missing
    agreement, CPO party first ("no roaming agreement in force between NL*CPO and DE*EMS
    for tokens")."""
    cpo, emsp = (b, a) if _is_cpo(b) and not _is_cpo(a) else (a, b)
    scope = module_scope(module)
    what = f"for {scope}" if scope else "(of any scope)"
    where = f" at location {location_id}" if location_id and scope in LOCATION_SCOPES else ""
    return f"no roaming agreement in force between {cpo} and {emsp} {what}{where}"
