"""Reconciliation's proofs, recorded on the CDR row as they happen, so that a quiet month is
reconciled from the CDR rows alone (`suspects`): without them, every CDR of the period cost
four index probes (its delivery, two for copies, its Session), 0.55 s of the 0.77 s one eMSP's
20,000 CDRs took, against 0.08 s for an SQL aggregate over the same rows (benchmarks S5).

Each proof is a fact that makes one check pass, written in the transaction of the event that
establishes it and cleared by the events that could undo it:

- `delivered_at`: the outbox recorded a delivery of the CDR to its eMSP (or to every receiver)
  DELIVERED (`delivered`). An eMSP that had the CDR has had it, so nothing clears it; it also
  outlives the delivery row, which retention prunes after OCPI_RETENTION_PUSH_DELIVERY_DAYS.
- `no_copy`: when the CDR was stored no other non-credit CDR of the CPO had its charge (start,
  end, token type, energy) nor its session id (`no_copy_at_ingest`); a copy stored later clears
  it on the CDRs it copies. Two copies stored at once are serialised by advisory locks on the
  charge and the session (PostgreSQL; SQLite's IMMEDIATE transactions serialise every write),
  so the second one always sees the first.
- `session_agreed`: the tolerances ("price|kWh") under which the CPO's Session of that id
  agreed with the CDR when it was stored (`session_agreement`, the Session row locked while
  it is read); a write changing the Session's kWh or cost clears it (`session_changed`).

A missing proof never hides a finding: the pre-filter then looks at the deliveries, copies and
sessions themselves, as it did before the proofs existed, and CDRs stored before them (only
`delivered_at` is filled by the migration) are checked that way.
"""

from decimal import Decimal
from typing import Any

from django.db import connection
from django.db.models import Q
from django.db.models.functions import Upper
from django.utils import timezone

from hub.models import Cdr, PushDelivery, Session
from hub.modules import ModuleID
from hub.ocpi.routing import PartyRef

# pg_advisory_xact_lock(class, key): the class keeps these locks apart from the hub's others.
_COPY_LOCK_CLASS = 0x0CD2
_ABSENT = object()


def proof_tolerances(tolerance: Decimal, kwh_tolerance: Decimal) -> str:
    """The `session_agreed` value of an agreement under these tolerances."""
    return f"{tolerance}|{kwh_tolerance}"


def delivered(delivery: PushDelivery) -> None:
    """`delivery` (just recorded DELIVERED) proves its CDR delivered, when it is a CDR's and
    went to the CDR's eMSP or to every receiver (reconciliation's own match)."""
    if delivery.module != ModuleID.CDRS:
        return
    parts = delivery.object_key.split("/", 2)
    if len(parts) != 3:
        return
    country_code, party_id, cdr_id = parts
    rows = Cdr.objects.filter(
        country_code=country_code, party_id=party_id, cdr_id=cdr_id, delivered_at__isnull=True
    )
    if delivery.to_country_code:
        rows = rows.filter(
            token_country_code=delivery.to_country_code, token_party_id=delivery.to_party_id
        )
    rows.update(delivered_at=delivery.delivered_at or timezone.now())


def _charge(values: dict[str, Any]) -> str:
    """A CDR's charge as a lock key: the instants as timestamps (one charge, whatever offset
    each copy spelt them in), the token type and the energy."""
    return "/".join(
        (
            str(values["start_date_time"].timestamp()),
            str(values["end_date_time"].timestamp()),
            str(values["token_type"]),
            str(Decimal(values["total_energy"]).normalize()),
        )
    )


def lock_for_proofs(party: PartyRef, values: dict[str, Any]) -> None:
    """Take, first in a CDR's store transaction and before it writes anything, what its proofs
    need held until commit: the advisory locks on its charge and its session id (a copy stored
    at the same time waits, then sees this one) and its Session's row (a write to that Session
    waits, then clears the proof). Taken before the store's other writes (the token index),
    and always in this order, so that two stores, or a store and a Session write, cannot
    deadlock on them. SQLite: its IMMEDIATE transaction already holds the write lock."""
    if values["credit"] or connection.vendor != "postgresql":
        return
    session_id = str(values["session_id"]).upper()
    keys = [f"{party}/{_charge(values)}"]
    if session_id:
        keys.append(f"{party}/session/{session_id}")
    locks = ", ".join(["pg_advisory_xact_lock(%s, hashtext(%s))"] * len(keys))
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {locks}", [x for key in keys for x in (_COPY_LOCK_CLASS, key)])
    if session_id:
        list(
            Session.objects.select_for_update()
            .filter(country_code=party.country_code, party_id=party.party_id, session_id=session_id)
            .values_list("pk", flat=True)
        )


def no_copy_at_ingest(party: PartyRef, values: dict[str, Any]) -> bool:
    """The `no_copy` proof of a CDR about to be stored with these field `values` (in the
    store's transaction, after `lock_for_proofs`): True when no other non-credit CDR of
    `party` has its charge or its session id. When some do, they lose their proof and the new
    CDR gets none."""
    if values["credit"]:
        return False  # a credit is checked against its original, not for copies
    session_id = str(values["session_id"]).upper()
    same = Q(
        start_date_time=values["start_date_time"],
        end_date_time=values["end_date_time"],
        token_type=values["token_type"],
        total_energy=values["total_energy"],
    )
    if session_id:
        same |= Q(upper_session=session_id)
    copies = list(
        Cdr.objects.filter(country_code=party.country_code, party_id=party.party_id, credit=False)
        .alias(upper_session=Upper("session_id"))
        .filter(same)
        .values_list("pk", flat=True)
    )
    if copies:
        Cdr.objects.filter(pk__in=copies, no_copy=True).update(no_copy=False)
        return False
    return True


def session_cost(data: Any) -> Any:
    """The Session's total_cost.excl_vat as the pre-filter reads it: `_ABSENT` when the path
    is not there, else the JSON value (None for null)."""
    total = data.get("total_cost", _ABSENT) if isinstance(data, dict) else _ABSENT
    if not isinstance(total, dict):
        return _ABSENT
    return total.get("excl_vat", _ABSENT)


def session_agrees(
    session_kwh: Decimal,
    session_data: Any,
    energy: Decimal,
    excl: Decimal,
    *,
    tolerance: Decimal,
    kwh_tolerance: Decimal,
) -> bool:
    """A Session (its kWh and document) agrees with a CDR's energy and cost excl. VAT as the
    pre-filter judges it (`suspects._clean_session`): kWh within the kWh tolerance, and a cost
    that is absent, null, or a number within the price tolerance."""
    if abs(session_kwh - energy) > kwh_tolerance:
        return False
    cost = session_cost(session_data)
    if cost is _ABSENT or cost is None:
        return True
    if isinstance(cost, bool) or not isinstance(cost, int | float):
        return False  # text or another type: the checks look at it
    return abs(Decimal(str(cost)) - excl) <= tolerance


def session_agreement(
    party: PartyRef,
    values: dict[str, Any],
    *,
    tolerance: Decimal,
    kwh_tolerance: Decimal,
) -> str:
    """The `session_agreed` proof of a CDR about to be stored with these field `values` (in
    the store's transaction, after `lock_for_proofs`): the tolerances when the CPO's Session
    of its id exists and agrees with it, else "". The Session row stays locked until commit,
    so a write to it waits, then clears the proof (`session_changed`), never the other way
    round."""
    session_id = str(values["session_id"]).upper()
    if values["credit"] or not session_id:
        return ""
    session = (
        Session.objects.select_for_update()
        .filter(country_code=party.country_code, party_id=party.party_id, session_id=session_id)
        .only("kwh", "data")
        .first()
    )
    if session is None:
        return ""
    energy, excl = values["total_energy"], values["total_cost_excl_vat"]
    if not session_agrees(
        session.kwh, session.data, energy, excl, tolerance=tolerance, kwh_tolerance=kwh_tolerance
    ):
        return ""
    return proof_tolerances(tolerance, kwh_tolerance)


def session_changed(party: PartyRef, session_id: str) -> None:
    """The CPO's Session `session_id` changed its kWh or cost: its CDRs lose their proof."""
    (
        Cdr.objects.filter(country_code=party.country_code, party_id=party.party_id)
        .alias(upper_session=Upper("session_id"))
        .filter(upper_session=session_id.upper())
        .exclude(session_agreed="")
        .update(session_agreed="")
    )
