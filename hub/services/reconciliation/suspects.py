"""Which of a period's CDRs the store-side checks must read: one SQL query keeps back the CDRs
that provably yield no finding, so a quiet month is reconciled by the database, not by loading
every CDR into Python (benchmarks S5: 8 s for one eMSP's 20,000 CDRs of a 1M-CDR month, against
0.07 s for an SQL aggregate of the same rows).

The checks (`findings`) stay the one definition of a finding: they run, unchanged, on every CDR
this query selects. The query may select more than need be (a CDR then yields no finding), never
less: a CDR is left out only when each check would pass it, for these reasons —

Each reason is first read from the CDR row, where it was recorded as it happened (`facts`: a
proof of delivery, of no copy, of its Session agreeing); where the row holds no proof, the query
looks for the reason itself:

- delivery: a DELIVERED delivery of its key to the eMSP (or to every receiver) exists;
- duplicates (non-credit): no other non-credit CDR of the CPO shares its start, end, token type
  and energy (coarser than the check's token key) nor, when it has one, its session id;
- price (non-credit): its ingest verdict is MATCH with numbers, taken under the tolerance in
  force now (`computed["tolerance"]`); under another tolerance it is compared again;
- session (non-credit, with a session id): the CPO's Session of that id exists, its kWh is within
  the kWh tolerance and its total_cost.excl_vat is absent, null, or a number within the price
  tolerance;
- credit: a credit CDR linked to its original (credit_of) is never a CREDIT_WITHOUT_ORIGINAL.

Conditions are evaluated in a CASE, so that an unknown (SQL NULL) sends a CDR to the checks
rather than leaving it out.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    DecimalField,
    Exists,
    ExpressionWrapper,
    F,
    Func,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.db.models.functions import Abs, Upper

from hub.models import Cdr, PushDelivery, Session
from hub.models.cdrs import PriceCheck, outbox_key_of_cdr
from hub.models.deliveries import DeliveryStatus
from hub.ocpi.routing import PartyRef
from hub.services.reconciliation.facts import proof_tolerances
from hub.services.reconciliation.findings import MODULE

# The Session's JSON path the session check reads (`session_findings`); a constant of the
# code, inlined in the SQL below (never a partner's value).
_COST_PATH = ("total_cost", "excl_vat")


class _JsonType(Func):
    """The JSON type name of `data` at `_COST_PATH` (NULL when absent), in one spelling for
    both engines: 'number' for a number, else the engine's own name ('null', 'text', ...)."""

    output_field = CharField()

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"jsonb_typeof(({sql}) #> '{{{','.join(_COST_PATH)}}}')", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        path = "$." + ".".join(_COST_PATH)
        return (
            f"(CASE WHEN json_type({sql}, '{path}') IN ('integer', 'real') THEN 'number' "
            f"ELSE json_type({sql}, '{path}') END)",
            params,
        )


class _JsonNumber(Func):
    """The number in `data` at `_COST_PATH`; only read where `_JsonType` says 'number'."""

    output_field = DecimalField(max_digits=30, decimal_places=10)

    def as_postgresql(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"(({sql}) #>> '{{{','.join(_COST_PATH)}}}')::numeric", params

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> tuple[str, Any]:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"json_extract({sql}, '$.{'.'.join(_COST_PATH)}')", params


@contextmanager
def planned_without_jit() -> Iterator[None]:
    """Runs the block's queries without PostgreSQL's JIT compilation (elsewhere: as is).

    JIT compiles a plan whose estimated cost is high; the query below probes indexes per CDR,
    which the planner prices at ~1M for one eMSP's 20,000 CDRs though it runs in a third of a
    second, and compiling it took 1.2 s of a 1.6 s run (EXPLAIN ANALYZE, benchmarks S5).
    SET LOCAL: for this transaction only, so a pooled connection keeps its settings."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL jit = off")
        yield


def _decimal(expression: Any) -> ExpressionWrapper:
    return ExpressionWrapper(
        expression, output_field=DecimalField(max_digits=30, decimal_places=10)
    )


def _clean_session(cpo: PartyRef, tolerance: Decimal, kwh_tolerance: Decimal) -> Exists:
    """The CPO's Session of the outer CDR's id exists and agrees with it (see the module doc)."""
    number = Case(
        When(cost_type="number", then=_JsonNumber(F("data"))),
        default=None,
        output_field=DecimalField(max_digits=30, decimal_places=10),
    )
    agreeing = (
        Session.objects.filter(
            country_code=cpo.country_code,
            party_id=cpo.party_id,
            session_id=Upper(OuterRef("session_id")),
        )
        .annotate(cost_type=_JsonType(F("data")))
        .annotate(
            kwh_off=Abs(_decimal(F("kwh") - OuterRef("total_energy"))),
            cost_off=Abs(_decimal(number - OuterRef("total_cost_excl_vat"))),
        )
        .filter(kwh_off__lte=kwh_tolerance)
        .filter(
            Q(cost_type__isnull=True)
            | Q(cost_type="null")
            | Q(cost_type="number", cost_off__lte=tolerance)
        )
    )
    return Exists(agreeing)


def _priced(tolerance: Decimal) -> Q:
    """Its ingest verdict is MATCH with numbers, under the tolerance in force now."""
    return Q(
        price_check=PriceCheck.MATCH,
        computed__tolerance=str(tolerance),
        computed__total_cost__excl_vat__isnull=False,
    )


def proven_clean(*, tolerance: Decimal, kwh_tolerance: Decimal) -> Case:
    """1 for a CDR whose row alone proves that no check finds anything in it (its proofs,
    `facts`, and its verdict), else 0: the first branch of each reason `needing_checks` leaves
    a CDR out for, so a CDR counted here is never one it would select. A CASE, so that an
    unknown (SQL NULL) counts as not proven. Summed with the period's totals, it lets a
    reconciliation skip `needing_checks` for an eMSP whose CDRs are all proven."""
    session_agrees = Q(session_id="") | Q(session_agreed=proof_tolerances(tolerance, kwh_tolerance))
    proven = Q(delivered_at__isnull=False) & (
        Q(credit=True, credit_of__isnull=False)
        | (Q(credit=False, no_copy=True) & _priced(tolerance) & session_agrees)
    )
    return Case(When(proven, then=Value(1)), default=Value(0), output_field=IntegerField())


def needing_checks(
    rows: QuerySet[Cdr],
    *,
    cpo: PartyRef,
    emsp: PartyRef,
    tolerance: Decimal,
    kwh_tolerance: Decimal,
) -> QuerySet[Cdr]:
    """`rows` (CDRs of `cpo` for `emsp`) without those no check can find anything in."""
    key = outbox_key_of_cdr()
    delivered = Exists(
        PushDelivery.objects.filter(
            module=MODULE, object_key=OuterRef("check_key"), status=DeliveryStatus.DELIVERED
        ).filter(
            Q(to_country_code=emsp.country_code, to_party_id=emsp.party_id) | Q(to_country_code="")
        )
    )
    others = Cdr.objects.filter(
        country_code=cpo.country_code, party_id=cpo.party_id, credit=False
    ).exclude(pk=OuterRef("pk"))
    same_content = Exists(
        others.filter(
            start_date_time=OuterRef("start_date_time"),
            end_date_time=OuterRef("end_date_time"),
            token_type=OuterRef("token_type"),
            total_energy=OuterRef("total_energy"),
        )
    )
    same_session = Exists(
        others.annotate(upper_session=Upper("session_id")).filter(
            upper_session=Upper(OuterRef("session_id"))
        )
    )
    priced = _priced(tolerance)
    without_session = Q(session_id="")
    # Each proof on the row (reconciliation.facts) first: where it holds, the probe after the
    # OR is not run (both engines evaluate OR from the left and stop at the first true).
    no_copy = Q(no_copy=True) | (~same_content & (without_session | ~same_session))
    session_agrees = (
        without_session
        | Q(session_agreed=proof_tolerances(tolerance, kwh_tolerance))
        | _clean_session(cpo, tolerance, kwh_tolerance)
    )
    non_credit_clean = no_copy & priced & session_agrees
    was_delivered = Q(delivered_at__isnull=False) | Q(delivered)
    clean = was_delivered & (
        Q(credit=True, credit_of__isnull=False) | (Q(credit=False) & non_credit_clean)
    )
    return (
        rows.annotate(check_key=key)
        .annotate(
            # not "clean": an annotation of that name would hide Model.clean on the rows
            left_out=Case(
                When(clean, then=Value(True)), default=Value(False), output_field=BooleanField()
            )
        )
        .filter(left_out=False)
    )
