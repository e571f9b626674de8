"""The analytics report: every figure for a period, for staff (the whole hub or one party)
and for a partner (its own parties and its own deliveries only).

A party's figures are those of its role: as a CPO, the CDRs and sessions it issued, its EVSEs'
utilisation and the authorizations it asked for; as an eMSP, the CDRs and sessions of its
tokens and the authorizations it answered. Roles other than CPO and EMSP have no charging
figures. Delivery health is per receiver platform: a partner sees its own platform's.
"""

import re
from typing import Any

from hub.models import PlatformRole, Role
from hub.ocpi.caller import Caller
from hub.ocpi.exceptions import InvalidParametersError, NotFoundError
from hub.ocpi.routing import PartyRef
from hub.ocpi.status import OcpiStatus
from hub.services.analytics.authorizations import authorization_figures
from hub.services.analytics.charging import cdr_figures, session_figures
from hub.services.analytics.deliveries import delivery_figures
from hub.services.analytics.period import Period, Perspective
from hub.services.analytics.utilisation import utilisation, utilisation_json

__all__ = [
    "ANALYTICS_ROLES",
    "analytics_report",
    "parse_party",
    "partner_perspectives",
    "perspective_figures",
    "staff_perspectives",
    "staff_receivers",
]

# The roles that have charging figures.
ANALYTICS_ROLES = (Role.CPO, Role.EMSP)
# CC-PID (also CC*PID): a party address as the hub writes it.
_PARTY_RE = re.compile(r"^(?P<cc>[A-Za-z]{2})[-*](?P<pid>[A-Za-z0-9]{3})$")


def parse_party(value: str, *, name: str = "party") -> PartyRef:
    """`CC-PID` (or `CC*PID`) as a party; 2001 naming the parameter otherwise."""
    match = _PARTY_RE.match(value.strip())
    if not match:
        raise InvalidParametersError(
            f"{name}: {value!r} is not a party; expected CC-PID, e.g. NL-ABC"
        )
    return PartyRef.of(match["cc"], match["pid"])


def perspective_figures(period: Period, perspective: Perspective) -> dict[str, Any]:
    """One perspective's figures (without delivery health)."""
    out: dict[str, Any] = {}
    if perspective.party is not None:
        out["country_code"] = perspective.party.country_code
        out["party_id"] = perspective.party.party_id
    out["role"] = perspective.role
    out["cdrs"] = cdr_figures(period, perspective).as_json()
    out["sessions"] = session_figures(period, perspective).as_json()
    if perspective.is_hub or perspective.role == Role.CPO:
        out["utilisation"] = utilisation_json(utilisation(period, perspective))
    out["authorizations"] = authorization_figures(period, perspective)
    return out


def analytics_report(
    period: Period, perspectives: list[Perspective], receivers: list[int] | None
) -> dict[str, Any]:
    """Every perspective's figures and the delivery health of `receivers` (platform ids; None:
    every receiver)."""
    return {
        **period.as_json(),
        "parties": [perspective_figures(period, p) for p in perspectives],
        "deliveries": delivery_figures(period, receivers),
    }


def partner_perspectives(caller: Caller, party: PartyRef | None) -> list[Perspective]:
    """The caller's own (party, role) pairs with charging figures, or those of `party` alone.
    A party that is none of the caller's is 404 + 2001 naming it: the caller may not learn
    another platform's figures, nor whether that party exists (as for a URL party that is
    none of the caller's, `hub.ocpi.views.owner_party`)."""
    own = sorted(
        {
            (PartyRef.of(r.country_code, r.party_id), str(r.role))
            for r in caller.roles
            if r.role in ANALYTICS_ROLES
        },
        key=lambda pair: (str(pair[0]), pair[1]),
    )
    if party is not None:
        own = [pair for pair in own if pair[0] == party]
        if not own:
            raise NotFoundError(
                f"party: {party} is not a CPO or eMSP party of the calling platform; a party "
                "sees only its own figures",
                ocpi_status=OcpiStatus.INVALID_OR_MISSING_PARAMETERS,
            )
    return [Perspective(party=p, role=role) for p, role in own]


def staff_perspectives(party: PartyRef | None) -> list[Perspective]:
    """The whole hub, or each role the party holds (CPO, EMSP) at any platform (both when it
    holds neither any more: its CDRs outlive its platform)."""
    if party is None:
        return [Perspective(party=None)]
    roles = sorted(
        set(
            PlatformRole.objects.filter(
                country_code=party.country_code, party_id=party.party_id, role__in=ANALYTICS_ROLES
            ).values_list("role", flat=True)
        )
    )
    return [Perspective(party=party, role=role) for role in roles or ANALYTICS_ROLES]


def staff_receivers(party: PartyRef | None) -> list[int] | None:
    """The receiver platforms whose delivery health staff see: all, or those hosting `party`."""
    if party is None:
        return None
    return sorted(
        set(
            PlatformRole.objects.filter(
                country_code=party.country_code, party_id=party.party_id
            ).values_list("platform_id", flat=True)
        )
    )
