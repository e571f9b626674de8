"""Adding, changing, suspending, resuming and ending roaming agreements (DESIGN §6b), with one
set of rules for the CLI (`roaming_agreement`) and the admin.

Every refusal is a `django.core.exceptions.ValidationError` keyed by the field it is about
(`cpo`, `emsp`, `scopes`, `location_ids`, `valid_from`, `valid_to`, `status`, `agreement`),
with a message naming the value; nothing is changed then. Each change is applied
(`apply.agreement_apply`) in its own transaction: starting or stopping the flow and the pushes
each side needs commit with it.
"""

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from hub.models import Location, PlatformRole, Role
from hub.models.agreements import ALL_SCOPES, AgreementScope, AgreementStatus, RoamingAgreement
from hub.ocpi.routing import PartyRef
from hub.selectors import SESSION_RECEIVER_ROLES
from hub.services.agreements.apply import AgreementEffects, agreement_apply
from hub.services.agreements.policy import today

# "NL-CPO", "NL*CPO" (the spec's own spelling of an eMI3 party) or "NLCPO".
_PARTY = re.compile(r"^([A-Za-z]{2})[-*]?([A-Za-z0-9]{3})$")


def parse_party(text: str, field_name: str) -> PartyRef:
    """A party given as `CC-PID` (or `CC*PID`), upper-cased; ValidationError otherwise."""
    match = _PARTY.match(text.strip())
    if match is None:
        raise ValidationError(
            {field_name: f"{text!r} is not a party: give country code and party id as CC-PID"}
        )
    return PartyRef.of(match.group(1), match.group(2))


def parse_list(text: str) -> list[str]:
    """A comma-separated list (spaces allowed), without empty items."""
    return [item.strip() for item in text.split(",") if item.strip()]


@dataclass(frozen=True)
class AgreementTerms:
    """What an agreement says (validated and normalised by `terms_validate`)."""

    cpo: PartyRef
    emsp: PartyRef
    valid_from: date
    valid_to: date | None = None
    scopes: tuple[str, ...] = ALL_SCOPES
    location_ids: tuple[str, ...] = ()
    note: str = ""


def _role_error(party: PartyRef, roles: Iterable[str], what: str) -> str | None:
    held = set(
        PlatformRole.objects.filter(
            country_code=party.country_code, party_id=party.party_id
        ).values_list("role", flat=True)
    )
    if held & set(roles):
        return None
    if not held:
        return f"{party} is not a party registered at the hub"
    return f"{party} is registered as {', '.join(sorted(held))}, not as {what}"


def terms_validate(terms: AgreementTerms, *, exclude_pk: int | None = None) -> AgreementTerms:
    """The terms, normalised (scopes in their canonical order, location ids as stored), or a
    ValidationError listing every problem by field."""
    errors: dict[str, list[str]] = {}

    def refuse(name: str, message: str) -> None:
        errors.setdefault(name, []).append(message)

    cpo_error = _role_error(terms.cpo, (Role.CPO,), "a CPO")
    if cpo_error:
        refuse("cpo", cpo_error)
    emsp_error = _role_error(
        terms.emsp,
        SESSION_RECEIVER_ROLES,
        f"an eMSP-type role ({'/'.join(SESSION_RECEIVER_ROLES)})",
    )
    if emsp_error:
        refuse("emsp", emsp_error)
    if terms.cpo == terms.emsp:
        refuse("emsp", f"{terms.emsp} is the CPO party itself: an agreement is between two parties")
    scopes = [str(scope).strip().lower() for scope in terms.scopes]
    unknown = [scope for scope in scopes if scope not in ALL_SCOPES]
    if unknown:
        refuse(
            "scopes",
            f"unknown scope(s) {', '.join(unknown)}; the scopes are {', '.join(ALL_SCOPES)}",
        )
    elif not scopes:
        refuse("scopes", f"name at least one scope of {', '.join(ALL_SCOPES)}")
    elif AgreementScope.EVSE_STATUS in scopes and AgreementScope.LOCATIONS not in scopes:
        refuse("scopes", "evse_status is the status of the locations: it needs the locations scope")
    location_ids = _location_ids(terms, scopes, refuse)
    if terms.valid_to is not None and terms.valid_to < terms.valid_from:
        refuse(
            "valid_to",
            f"valid_to {terms.valid_to.isoformat()} is before valid_from "
            f"{terms.valid_from.isoformat()}",
        )
    elif not errors:
        overlap = _overlapping(terms, exclude_pk)
        if overlap is not None:
            refuse(
                "valid_from",
                f"agreement {overlap.pk} between {terms.cpo} and {terms.emsp} "
                f"({_period(overlap)}, {overlap.status}) overlaps "
                f"{terms.valid_from.isoformat()}–{_end(terms.valid_to)}; end it first or "
                "choose a period after it",
            )
    if errors:
        raise ValidationError(errors)
    return AgreementTerms(
        cpo=terms.cpo,
        emsp=terms.emsp,
        valid_from=terms.valid_from,
        valid_to=terms.valid_to,
        scopes=tuple(scope for scope in ALL_SCOPES if scope in scopes),
        location_ids=location_ids,
        note=terms.note,
    )


def _location_ids(
    terms: AgreementTerms, scopes: list[str], refuse: Callable[[str, str], None]
) -> tuple[str, ...]:
    """The named locations as the hub stores them; each must be one of the CPO's."""
    wanted = [str(i).strip() for i in terms.location_ids if str(i).strip()]
    if not wanted:
        return ()
    if AgreementScope.LOCATIONS not in scopes:
        refuse("location_ids", "location_ids narrow the locations scope: add locations")
        return ()
    stored = set(
        Location.objects.filter(
            country_code=terms.cpo.country_code,
            party_id=terms.cpo.party_id,
            location_id__in=[i.upper() for i in wanted],
        ).values_list("location_id", flat=True)
    )
    missing = [i for i in wanted if i.upper() not in stored]
    if missing:
        refuse(
            "location_ids",
            f"{terms.cpo} has no stored location {', '.join(missing)} (only locations the hub "
            "holds for the CPO may be named)",
        )
    return tuple(dict.fromkeys(i.upper() for i in wanted))


def _end(day: date | None) -> str:
    return day.isoformat() if day is not None else "open-ended"


def _period(agreement: RoamingAgreement) -> str:
    return f"{agreement.valid_from.isoformat()}–{_end(agreement.valid_to)}"


def _overlapping(terms: AgreementTerms, exclude_pk: int | None) -> RoamingAgreement | None:
    """A non-ENDED agreement of the same pair whose period meets the terms' period."""
    others = RoamingAgreement.objects.filter(
        cpo_country_code=terms.cpo.country_code,
        cpo_party_id=terms.cpo.party_id,
        emsp_country_code=terms.emsp.country_code,
        emsp_party_id=terms.emsp.party_id,
    ).exclude(status=AgreementStatus.ENDED)
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    # [from, to] meets [other.from, other.to] (None = for ever) unless one ends before the other.
    others = others.filter(Q(valid_to__isnull=True) | Q(valid_to__gte=terms.valid_from))
    if terms.valid_to is not None:
        others = others.filter(valid_from__lte=terms.valid_to)
    return others.order_by("valid_from").first()


def _fields(terms: AgreementTerms) -> dict[str, object]:
    return {
        "cpo_country_code": terms.cpo.country_code,
        "cpo_party_id": terms.cpo.party_id,
        "emsp_country_code": terms.emsp.country_code,
        "emsp_party_id": terms.emsp.party_id,
        "valid_from": terms.valid_from,
        "valid_to": terms.valid_to,
        "scopes": list(terms.scopes),
        "location_ids": list(terms.location_ids),
        "note": terms.note,
    }


@transaction.atomic
def agreement_add(terms: AgreementTerms) -> tuple[RoamingAgreement, AgreementEffects]:
    """Validate and store a new ACTIVE agreement, and apply it (it starts if today is within
    its period)."""
    _lock_pair(terms)
    valid = terms_validate(terms)
    agreement = RoamingAgreement.objects.create(status=AgreementStatus.ACTIVE, **_fields(valid))
    return _refreshed(agreement, agreement_apply(agreement.pk))


@transaction.atomic
def agreement_update(
    agreement_id: int, terms: AgreementTerms
) -> tuple[RoamingAgreement, AgreementEffects]:
    """Change an agreement's terms (not its status) and apply it; one in force is sent the
    CPO's data again under the new terms."""
    agreement = _locked(agreement_id)
    if agreement.status == AgreementStatus.ENDED:
        raise ValidationError({"status": f"agreement {agreement.pk} has ENDED: add a new one"})
    _lock_pair(terms)
    valid = terms_validate(terms, exclude_pk=agreement.pk)
    for name, value in _fields(valid).items():
        setattr(agreement, name, value)
    agreement.save()
    return _refreshed(agreement, agreement_apply(agreement.pk, resend=True))


def agreement_suspend(agreement_id: int) -> tuple[RoamingAgreement, AgreementEffects]:
    """ACTIVE → SUSPENDED: nothing flows under it until it is resumed."""
    return _transition(agreement_id, (AgreementStatus.ACTIVE,), AgreementStatus.SUSPENDED)


def agreement_resume(agreement_id: int) -> tuple[RoamingAgreement, AgreementEffects]:
    """SUSPENDED → ACTIVE: it flows again (within its period), the eMSP re-sent the CPO's data."""
    return _transition(agreement_id, (AgreementStatus.SUSPENDED,), AgreementStatus.ACTIVE)


def agreement_end(agreement_id: int) -> tuple[RoamingAgreement, AgreementEffects]:
    """ACTIVE or SUSPENDED → ENDED, for good (a new agreement may then cover the pair)."""
    return _transition(
        agreement_id, (AgreementStatus.ACTIVE, AgreementStatus.SUSPENDED), AgreementStatus.ENDED
    )


@transaction.atomic
def _transition(
    agreement_id: int, allowed_from: tuple[str, ...], to: str
) -> tuple[RoamingAgreement, AgreementEffects]:
    agreement = _locked(agreement_id)
    if agreement.status not in allowed_from:
        raise ValidationError(
            {
                "status": f"agreement {agreement.pk} is {agreement.status}; only "
                f"{' or '.join(allowed_from)} can become {to}"
            }
        )
    agreement.status = to
    fields = ["status", "updated_at"]
    if to == AgreementStatus.ENDED:
        # An agreement ended today was in force until today: settlement reads the validity
        # period (a month's statement must not change when the status does), so the period
        # closes here. One never started closes on its first day.
        last_day = max(today(), agreement.valid_from)
        if agreement.valid_to is None or agreement.valid_to > last_day:
            agreement.valid_to = last_day
            fields.append("valid_to")
    agreement.save(update_fields=fields)
    return _refreshed(agreement, agreement_apply(agreement.pk))


def _locked(agreement_id: int) -> RoamingAgreement:
    agreement = RoamingAgreement.objects.select_for_update().filter(pk=agreement_id).first()
    if agreement is None:
        raise ValidationError({"agreement": f"there is no roaming agreement {agreement_id}"})
    return agreement


def _lock_pair(terms: AgreementTerms) -> None:
    """Serialise writers of one pair's agreements (the overlap check reads, then writes): lock
    the CPO party's role rows, which every such writer names."""
    list(
        PlatformRole.objects.select_for_update()
        .filter(country_code=terms.cpo.country_code, party_id=terms.cpo.party_id)
        .values_list("pk", flat=True)
    )


def _refreshed(
    agreement: RoamingAgreement, effects: AgreementEffects
) -> tuple[RoamingAgreement, AgreementEffects]:
    agreement.refresh_from_db()
    return agreement, effects


__all__ = [
    "AgreementTerms",
    "agreement_add",
    "agreement_end",
    "agreement_resume",
    "agreement_suspend",
    "agreement_update",
    "parse_list",
    "parse_party",
    "terms_validate",
]
