"""The token-owner index: which eMSP party owns a token (DESIGN §3, open routing).

Real-time authorization, commands, sessions and CDRs are routed to the owner of a token; the
hub learns owners from the tokens module and from every token it sees elsewhere.

Who may say who owns a token (issue 10, defect 5): an eMSP speaking of its *own* tokens — its
token pushes (`TokenSource.TOKENS`, URL party checked to be the caller's) and the tokens of its
own commands (`COMMAND`, token owner checked to be the caller's) — is authoritative. A CPO only
*asserts* an owner in a session's or CDR's `cdr_token` (`SESSION`, `CDR`): any CPO may name any
eMSP there, so such an assertion never overrides, and never makes ambiguous, an authoritative
owner. When it contradicts one, the index is left alone and the caller records a finding on the
session or CDR (`token_owner_finding`). CPO assertions are used for routing only while no eMSP
has spoken for the uid at all.
"""

from django.db import transaction

from hub.models import TokenOwner, TokenSource
from hub.ocpi.routing import PartyRef

# The sources where the owner speaks for itself (see the module docstring).
AUTHORITATIVE_SOURCES = frozenset({TokenSource.TOKENS, TokenSource.COMMAND})


def _party(row: TokenOwner) -> PartyRef:
    return PartyRef(row.country_code, row.party_id)


def _rows(uid: str, token_type: str) -> list[TokenOwner]:
    return list(
        TokenOwner.objects.filter(uid=uid.upper(), type=token_type).order_by("-last_seen_at", "pk")
    )


def authoritative_owners_of(uid: str, token_type: str) -> list[PartyRef]:
    """The eMSPs that said themselves they issued (`uid`, `token_type`), most recent first."""
    return [_party(r) for r in _rows(uid, token_type) if r.source in AUTHORITATIVE_SOURCES]


@transaction.atomic
def token_owner_learn(*, owner: PartyRef, uid: str, token_type: str, source: str) -> str:
    """Record that `owner` issued the token (`uid`, `token_type`), as `source` says.

    Returns the authoritative owners the claim contradicts, as "CC*PID, …" ("" when none): a
    CPO-asserted owner (SESSION, CDR) that differs from an eMSP's own word is not recorded, and
    the caller keeps the mismatch as a finding. A CPO assertion never downgrades an
    authoritative row of the same owner either (it only refreshes `last_seen_at`).
    """
    key = {"uid": uid.upper(), "type": token_type}
    if source in AUTHORITATIVE_SOURCES:
        TokenOwner.objects.update_or_create(
            uid=key["uid"],
            type=token_type,
            country_code=owner.country_code,
            party_id=owner.party_id,
            defaults={"source": source},
        )
        return ""
    rows = list(TokenOwner.objects.select_for_update().filter(**key))
    authoritative = [_party(r) for r in rows if r.source in AUTHORITATIVE_SOURCES]
    if authoritative and owner not in authoritative:
        return ", ".join(str(party) for party in sorted(set(authoritative)))
    mine = next((r for r in rows if _party(r) == owner), None)
    if mine is None:
        TokenOwner.objects.create(
            **key, country_code=owner.country_code, party_id=owner.party_id, source=source
        )
    elif mine.source in AUTHORITATIVE_SOURCES:
        mine.save(update_fields=["last_seen_at"])
    else:
        mine.source = source
        mine.save(update_fields=["source", "last_seen_at"])
    return ""


def token_owners_of(uid: str, token_type: str) -> list[PartyRef]:
    """The parties to route (`uid`, `token_type`) to, most recently seen first: the
    authoritative owners when an eMSP has spoken for the uid, else the owners CPOs asserted.
    More than one means the uid is ambiguous across eMSPs: the caller must name the receiver
    (TO)."""
    rows = _rows(uid, token_type)
    authoritative = [_party(r) for r in rows if r.source in AUTHORITATIVE_SOURCES]
    return authoritative or [_party(r) for r in rows]
