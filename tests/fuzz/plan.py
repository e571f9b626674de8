"""Who calls each operation, how, and how often: the fuzz plan.

Each operation is fuzzed by the party it is meant for (a CPO for `/cpo/`, an eMSP for
`/emsp/`, both for the hub-level modules), in schemathesis' positive mode (schema-valid
requests) and negative mode (schema-invalid ones), then aimed: with the ids of stored objects,
a valid FROM and a body whose ids match its URL, so requests reach real rows, and routed TO
the other party (forwarded to its simulated partner). The wrong role, Token A and an unknown
token get a few requests each, all of which must be refused without a trace.
"""

from dataclasses import dataclass, field
from typing import Any

from schemathesis import GenerationMode

from tests.fuzz.world import World


@dataclass(frozen=True)
class Run:
    identity: str
    mode: GenerationMode
    examples: int
    label: str
    path_parameters: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    # Sent instead of the generated body (nesting bombs).
    raw_body: bytes | None = None


POSITIVE, NEGATIVE = GenerationMode.POSITIVE, GenerationMode.NEGATIVE

#: Examples per run kind; `--scale` multiplies them all.
EXAMPLES = {
    "positive": 40,
    "negative": 34,
    "known": 16,
    "routed": 8,
    "other": 6,
    "stranger": 4,
    "dot-segment": 1,
    "nesting-bomb": 1,
}

#: Ids that walk out of a routed endpoint if the hub let them (issue 10 defect 1): every one
#: must be refused and nothing forwarded. schemathesis keeps percent escapes as written, so the
#: hub's views see them decoded once (`%2E%2E` as `..`, `%252E` as `%2E`). Raw `.`/`..` are left
#: to tests/security: the HTTP client would resolve them before sending, and so would a plain
#: `%2F` (another, legitimate URL: `a%2Fb` is just `a/b`). `..%2F..` reaches the hub as two
#: extra `..` segments: no route matches, and the answer must still be 404 + envelope.
DOT_SEGMENT_IDS = ("%2E%2E", "%2e.", "%2E", "%252E%252E", "a%252Fb", "..%5C", "..%2F..")
#: Bodies nested past any parser's comfort (issue 10 defect 4): 400 + envelope, never 5xx.
NESTING_BOMBS = (
    b"[" * 200_000,
    b"[" * 100_000 + b"]" * 100_000,
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
)
_ID_PARAMETERS = ("country_code", "party_id", "command")


def _owners(path: str) -> tuple[str, ...]:
    if "/2.2.1/cpo/" in path:
        return ("cpo",)
    if "/2.2.1/emsp/" in path:
        return ("emsp",)
    return ("cpo", "emsp")


def _routing(party: tuple[str, str] | None, prefix: str) -> dict[str, str]:
    if party is None:
        return {}
    return {f"OCPI-{prefix}-country-code": party[0], f"OCPI-{prefix}-party-id": party[1]}


def runs_for(operation: Any, world: World, scale: float) -> list[Run]:
    """The runs of one schemathesis operation."""
    path, method = operation.path, operation.method.upper()

    def n(kind: str) -> int:
        return max(1, round(EXAMPLES[kind] * scale))

    params = {p.name for p in operation.path_parameters}
    header_names = {p.name.lower() for p in operation.headers}
    routed = "ocpi-to-party-id" in header_names
    known = {k: v for k, v in world.known.items() if k in params}
    identities = {"cpo": world.cpo, "emsp": world.emsp}
    runs: list[Run] = []
    owners = _owners(path)
    if path.endswith("/credentials") and method in ("PUT", "DELETE"):
        # A valid PUT or DELETE would rotate or end a fuzz platform's registration: these are
        # fuzzed with tokens that must be refused (and a PUT whose URL cannot answer).
        owners = ("cpo",) if method == "PUT" else ()
    for owner in owners:
        me = identities[owner]
        other = world.emsp if owner == "cpo" else world.cpo
        own_headers = _routing(me.party, "from") if routed else {}
        mine = dict(known)
        if me.party is not None and "country_code" in known:
            # Objects addressed by party are the caller's own (a CPO's location, an eMSP's token).
            mine.update(country_code=me.party[0], party_id=me.party[1])
        runs += [
            Run(owner, POSITIVE, n("positive"), "positive"),
            Run(owner, NEGATIVE, n("negative"), "negative"),
        ]
        if known or routed:
            runs.append(Run(owner, POSITIVE, n("known"), "known", mine, own_headers))
        if routed:
            to_other = {**own_headers, **_routing(other.party, "to")}
            runs.append(Run(owner, POSITIVE, n("routed"), "routed", mine, to_other))
            # Every path parameter in turn replaced by each dot-segment id, routed to the other
            # party: refused (the runner also counts any forward as `escaped`).
            for name in sorted(params):
                for bad in DOT_SEGMENT_IDS:
                    aimed = {**mine, name: bad}
                    runs.append(
                        Run(owner, POSITIVE, n("dot-segment"), "dot-segment", aimed, to_other)
                    )
        if method in ("PUT", "POST", "PATCH"):
            for bomb in NESTING_BOMBS:
                runs.append(
                    Run(owner, POSITIVE, n("nesting-bomb"), "nesting-bomb", mine, own_headers, bomb)
                )
    # The wrong role: a CPO on /emsp/ and an eMSP on /cpo/ (never on credentials PUT/DELETE).
    wrong = [i for i in ("cpo", "emsp") if i not in owners] if "/credentials" not in path else []
    for identity in wrong:
        runs.append(Run(identity, POSITIVE, n("other"), "wrong-role", known))
    runs.append(Run("stranger", POSITIVE, n("stranger"), "unknown-token", known))
    runs.append(Run("stranger", NEGATIVE, n("stranger"), "unknown-token"))
    runs.append(Run("token_a", POSITIVE, n("stranger"), "token-a", known))
    if not owners:
        runs.append(Run("stranger", POSITIVE, n("positive"), "unknown-token-only"))
    return runs
