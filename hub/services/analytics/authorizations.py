"""Real-time authorization rates, from the outcomes the hub records as it routes each
authorization (`hub.models.AuthorizationRecord`, written by `hub.services.tokens`).

- `answered`: the eMSP answered an AuthorizationInfo; `allowed` counts ALLOWED among them and
  `denied` the other AllowedType values (BLOCKED, EXPIRED, NO_CREDIT, NOT_ALLOWED), each also
  counted by value;
- `unknown_token`: the eMSP does not know the token (HTTP 404 / 2004): a refusal too;
- failures, counted apart: `refused` (the eMSP answered another OCPI error, e.g. 2002),
  `timeout` (no answer within OCPI_AUTHORIZE_TIMEOUT_S, 4002), `failed` (no eMSP to ask, not
  connected, no envelope...).

Rates: `allow_rate` = allowed / decisions and `deny_rate` = (denied + unknown_token) /
decisions, where decisions = answered + unknown_token; `failure_rate` = (refused + timeout +
failed) / all. A rate is null when its denominator is 0.
"""

from typing import Any

from django.db.models import Count, Q, QuerySet

from hub.models import AuthorizationOutcome, AuthorizationRecord, Role
from hub.models.spec_enums import AllowedType
from hub.services.analytics.period import Period, Perspective

__all__ = ["authorization_figures"]

_FAILURES = (
    AuthorizationOutcome.REFUSED,
    AuthorizationOutcome.TIMEOUT,
    AuthorizationOutcome.FAILED,
)


def _rate(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _counts() -> dict[str, Any]:
    counts: dict[str, Any] = {"total": Count("pk")}
    for outcome in AuthorizationOutcome.values:
        counts[outcome] = Count("pk", filter=Q(outcome=outcome))
    for value in AllowedType.values:
        counts[value] = Count("pk", filter=Q(outcome=AuthorizationOutcome.ANSWERED, allowed=value))
    return counts


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    answered = row[AuthorizationOutcome.ANSWERED]
    unknown = row[AuthorizationOutcome.UNKNOWN_TOKEN]
    allowed = row[AllowedType.ALLOWED]
    by_value = {value: row[value] for value in AllowedType.values}
    denied = answered - allowed
    failures = sum(row[o] for o in _FAILURES)
    decisions = answered + unknown
    return {
        "total": row["total"],
        "answered": answered,
        "allowed": allowed,
        "denied": denied,
        "by_allowed": by_value,
        "unknown_token": unknown,
        "refused": row[AuthorizationOutcome.REFUSED],
        "timeout": row[AuthorizationOutcome.TIMEOUT],
        "failed": row[AuthorizationOutcome.FAILED],
        "allow_rate": _rate(allowed, decisions),
        "deny_rate": _rate(denied + unknown, decisions),
        "failure_rate": _rate(failures, row["total"]),
    }


def _scoped(period: Period, perspective: Perspective) -> QuerySet[AuthorizationRecord]:
    records = AuthorizationRecord.objects.filter(
        created_at__gte=period.start, created_at__lt=period.end
    ).order_by()
    party = perspective.party
    if party is None:
        return records
    if perspective.role == Role.CPO:
        return records.filter(cpo_country_code=party.country_code, cpo_party_id=party.party_id)
    return records.filter(emsp_country_code=party.country_code, emsp_party_id=party.party_id)


def authorization_figures(period: Period, perspective: Perspective) -> dict[str, Any]:
    """The summary over the period, and the same per counterpart (a CPO's eMSPs, an eMSP's
    CPOs, or each (CPO, eMSP) pair for the whole hub)."""
    records = _scoped(period, perspective)
    counts = _counts()
    out = _summary(records.aggregate(**counts))
    if perspective.is_hub:
        fields: tuple[str, ...] = (
            "cpo_country_code",
            "cpo_party_id",
            "emsp_country_code",
            "emsp_party_id",
        )
    elif perspective.role == Role.CPO:
        fields = ("emsp_country_code", "emsp_party_id")
    else:
        fields = ("cpo_country_code", "cpo_party_id")
    per_counterpart = []
    for row in records.values(*fields).annotate(**counts).order_by(*fields):
        if perspective.is_hub:
            who: dict[str, str] = {
                "cpo": _label(row["cpo_country_code"], row["cpo_party_id"]),
                "emsp": _label(row["emsp_country_code"], row["emsp_party_id"]),
            }
        else:
            who = {"country_code": row[fields[0]], "party_id": row[fields[1]]}
        per_counterpart.append({**who, **_summary(row)})
    out["per_counterpart"] = per_counterpart
    return out


def _label(country_code: str, party_id: str) -> str:
    # Blank when the hub found no party (no eMSP owning the token, an ambiguous CPO).
    return f"{country_code}*{party_id}" if country_code else ""
