"""Fee terms added and removed by staff (the `roaming_fee` command; the admin form runs the
same model validation): every rule of `FeeTerm.clean` holds before a row is written."""

from datetime import date
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.db import transaction

from hub.models import FeeTerm, RoamingAgreement


class FeeTermError(Exception):
    """A fee term refused: the message names the field."""


def _messages(exc: ValidationError) -> str:
    if hasattr(exc, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(m for e in errors for m in e.messages)}"
            for name, errors in sorted(exc.error_dict.items())
        )
    return "; ".join(exc.messages)


def parse_amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise FeeTermError(f"amount: not a number: {text!r}") from None
    if not value.is_finite():
        raise FeeTermError(f"amount: not a number: {text!r}")
    return value


@transaction.atomic
def fee_term_add(
    *,
    agreement: RoamingAgreement,
    kind: str,
    amount: Decimal,
    currency: str,
    payer: str,
    payee: str,
    valid_from: date | None = None,
    valid_to: date | None = None,
    note: str = "",
) -> FeeTerm:
    """A new fee term of the agreement, validated (FeeTermError naming the field)."""
    term = FeeTerm(
        agreement=agreement,
        kind=kind,
        amount=amount,
        currency=currency,
        payer=payer,
        payee=payee,
        valid_from=valid_from,
        valid_to=valid_to,
        note=note,
    )
    return fee_term_save(term=term)


@transaction.atomic
def fee_term_save(*, term: FeeTerm) -> FeeTerm:
    """Store a new or changed fee term (the admin form's), validated as `fee_term_add`."""
    try:
        term.full_clean()
    except ValidationError as exc:
        raise FeeTermError(_messages(exc)) from None
    term.save()
    return term


@transaction.atomic
def fee_term_remove(*, term_id: int) -> FeeTerm:
    """Delete a fee term; statements computed with it keep their lines (kind, amounts and
    parties are copied on each line) until they are recomputed."""
    term = FeeTerm.objects.filter(pk=term_id).first()
    if term is None:
        raise FeeTermError(f"no fee term with id {term_id}")
    term.delete()
    return term
