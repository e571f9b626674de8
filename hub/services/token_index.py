"""The token-owner index: which eMSP party owns a token (DESIGN §3, open routing).

Real-time authorization, commands, sessions and CDRs are routed to the owner of a token; the
hub learns owners from the tokens module and from every token it sees elsewhere.
"""

from hub.models import TokenOwner
from hub.ocpi.routing import PartyRef


def token_owner_learn(*, owner: PartyRef, uid: str, token_type: str, source: str) -> None:
    """Record that `owner` issued the token (`uid`, `token_type`)."""
    TokenOwner.objects.update_or_create(
        uid=uid.upper(),
        type=token_type,
        country_code=owner.country_code,
        party_id=owner.party_id,
        defaults={"source": source},
    )


def token_owners_of(uid: str, token_type: str) -> list[PartyRef]:
    """Every party known to own (`uid`, `token_type`), most recently seen first. More than one
    means the uid is ambiguous across eMSPs: the caller must name the receiver (TO)."""
    rows = TokenOwner.objects.filter(uid=uid.upper(), type=token_type).order_by("-last_seen_at")
    return [PartyRef(row.country_code, row.party_id) for row in rows]
