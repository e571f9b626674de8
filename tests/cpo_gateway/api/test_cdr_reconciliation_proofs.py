"""Reconciliation's proofs on the CDR row (hub.services.reconciliation.facts), written by the
events that establish them (the CDR's POST, its delivery, its Session's writes) and cleared by
those that undo them. A CDR with its proofs is left out by the pre-filter without a look at the
deliveries, copies or sessions; every event that undoes a proof is still found by `reconcile`.
"""

import importlib
import threading
from datetime import date
from typing import Any

import pytest
from django.apps import apps as django_apps
from django.db import connection, connections, transaction

from hub.models import Cdr, Platform, PushDelivery, ReconciliationFinding
from hub.models.deliveries import DeliveryStatus
from hub.ocpi.routing import PartyRef
from hub.services.cdrs import cdr_ingest, proof_values
from hub.services.delivery.outcome import finish
from hub.services.reconciliation.facts import lock_for_proofs
from hub.services.reconciliation.findings import Kind
from hub.services.reconciliation.report import reconcile
from hub.services.retention import prune_deliveries
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_cdrs import cdr, credit_of, post
from tests.factories import PlatformEndpointFactory, registered_party
from tests.fixtures import load_ocpi_fixture
from tests.hub.services.test_reconciliation_suspects import suspects_of_ms1

CP1 = PartyRef.of("NL", "CP1")
MS1 = PartyRef.of("DE", "MS1")
DAY, NEXT = date(2024, 5, 1), date(2024, 5, 2)
SESSIONS = "/ocpi/2.2.1/cpo/sessions/NL/CP1/SES-0001"
fill_delivered_at = importlib.import_module(
    "hub.migrations.0024_cdr_reconciliation_proofs"
).fill_delivered_at


@pytest.fixture(autouse=True)
def _settings(settings: Any) -> None:
    settings.OCPI_BASE_URL = "http://testserver"
    settings.OCPI_RECONCILE_DELIVERY_GRACE_S = 0  # an undelivered CDR is a finding at once


@pytest.fixture
def emsp_platform(db: None) -> Platform:
    """DE*MS1, the token owner, receiving cdrs and sessions."""
    platform, _ = registered_party("EMSP", "DE", "MS1")
    for module in ("cdrs", "sessions"):
        PlatformEndpointFactory(platform=platform, identifier=module, role="RECEIVER")
    return platform


def completed_session(**fields: Any) -> dict[str, Any]:
    """SES-0001 as the fixture CDR bills it: 10 kWh, 4.25 excl. VAT, COMPLETED."""
    data = load_ocpi_fixture("sessions", "session_active")
    data.update(
        kwh=10.0,
        total_cost={"excl_vat": 4.25, "incl_vat": 5.0575},
        status="COMPLETED",
        end_date_time="2024-05-01T11:00:00Z",
        last_updated="2024-05-01T11:00:00Z",
    )
    data.update(fields)
    return data


def put_session(client: OcpiTestClient, token: str, **fields: Any) -> None:
    response = client.put(SESSIONS, json=completed_session(**fields), token=token)
    assert response.status_code in (200, 201), response.content
    assert response.json()["status_code"] == 1000, response.json()


def patch_session(client: OcpiTestClient, token: str, **fields: Any) -> None:
    response = client.patch(SESSIONS, json=fields, token=token)
    assert response.json()["status_code"] == 1000, response.json()


def post_cdr(client: OcpiTestClient, token: str, **fields: Any) -> Cdr:
    body = cdr(**fields)
    response = post(client, token, body)
    assert response.status_code == 201, response.content
    return Cdr.objects.get(cdr_id=str(body["id"]).upper())


def deliver(row: Cdr) -> None:
    """The outbox's own end of a successful POST of the CDR to its eMSP."""
    (delivery,) = PushDelivery.objects.filter(module="cdrs", object_key__endswith=row.cdr_id)
    finish(delivery, DeliveryStatus.DELIVERED, delivered_at=delivery.created_at, receipt="x")


def findings() -> set[tuple[str, str]]:
    reconcile(period_start=DAY, period_end=NEXT, cpo=CP1, emsp=MS1)
    return set(ReconciliationFinding.objects.values_list("kind", "cdr_key"))


def quiet_cdr(client: OcpiTestClient, token: str) -> Cdr:
    """The fixture CDR after its agreeing Session, delivered: every proof on its row."""
    put_session(client, token)
    row = post_cdr(client, token)
    deliver(row)
    row.refresh_from_db()
    return row


@pytest.mark.django_db
def test_a_quiet_cdr_carries_its_proofs_and_the_pre_filter_leaves_it_out(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
) -> None:
    row = quiet_cdr(ocpi_client, cpo_token)
    assert row.delivered_at is not None
    assert row.no_copy is True
    assert row.session_agreed == "0.01|0.01"
    assert suspects_of_ms1() == set()
    assert findings() == set()


@pytest.mark.django_db
def test_the_proofs_stand_in_for_the_probes(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    """With its proofs, the CDR is left out though the delivery row, the Session's agreement
    and the store's copies are not what the probes would need: the row alone decides."""
    row = quiet_cdr(ocpi_client, cpo_token)
    PushDelivery.objects.filter(module="cdrs").update(status=DeliveryStatus.PENDING)
    assert suspects_of_ms1() == set()
    # Taking each proof away sends the CDR back to the probes, and they find the reason.
    Cdr.objects.filter(pk=row.pk).update(delivered_at=None)
    assert suspects_of_ms1() == {row.cdr_id}
    assert (Kind.UNDELIVERED, "NL/CP1/CDR-0001") in findings()


@pytest.mark.django_db
def test_the_proof_of_delivery_outlives_the_pruned_delivery_row(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, settings: Any
) -> None:
    quiet_cdr(ocpi_client, cpo_token)
    settings.OCPI_RETENTION_PUSH_DELIVERY_DAYS = 0
    settings.OCPI_RETENTION_PUSH_ATTEMPT_DAYS = 0
    prune_deliveries()
    assert not PushDelivery.objects.filter(module="cdrs").exists()
    assert findings() == set()  # not UNDELIVERED: the eMSP had it


@pytest.mark.django_db
def test_a_cdr_without_a_delivered_delivery_has_no_proof_and_is_undelivered(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put_session(ocpi_client, cpo_token)
    row = post_cdr(ocpi_client, cpo_token)
    (delivery,) = PushDelivery.objects.filter(module="cdrs")
    finish(delivery, DeliveryStatus.FAILED, "HTTP 400")
    row.refresh_from_db()
    assert row.delivered_at is None
    assert findings() == {(Kind.UNDELIVERED, "NL/CP1/CDR-0001")}


@pytest.mark.django_db
def test_a_delivery_to_another_party_or_of_another_module_proves_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    put_session(ocpi_client, cpo_token)
    row = post_cdr(ocpi_client, cpo_token)
    (session_delivery,) = PushDelivery.objects.filter(module="sessions")
    finish(session_delivery, DeliveryStatus.DELIVERED, delivered_at=session_delivery.created_at)
    (delivery,) = PushDelivery.objects.filter(module="cdrs")
    delivery.to_country_code, delivery.to_party_id = "DE", "MS2"
    finish(delivery, DeliveryStatus.DELIVERED, delivered_at=delivery.created_at)
    row.refresh_from_db()
    assert row.delivered_at is None


@pytest.mark.django_db
def test_a_copy_of_the_charge_stored_later_clears_the_first_ones_proof(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    first = quiet_cdr(ocpi_client, cpo_token)
    copy = post_cdr(ocpi_client, cpo_token, id="CDR-0002", session_id="SES-OTHER")
    deliver(copy)
    first.refresh_from_db()
    copy.refresh_from_db()
    assert (first.no_copy, copy.no_copy) == (False, False)
    assert {first.cdr_id, copy.cdr_id} <= suspects_of_ms1()
    assert {kind for kind, _ in findings()} >= {Kind.DUPLICATE}


@pytest.mark.django_db
def test_a_cdr_of_the_same_session_stored_later_clears_the_first_ones_proof(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    first = quiet_cdr(ocpi_client, cpo_token)
    # Another charge (an hour later) under the same session id, spelt in another case.
    other = post_cdr(
        ocpi_client,
        cpo_token,
        id="CDR-0002",
        session_id="ses-0001",
        start_date_time="2024-05-01T12:00:00Z",
        end_date_time="2024-05-01T13:00:00Z",
    )
    first.refresh_from_db()
    assert (first.no_copy, other.no_copy) == (False, False)
    assert first.cdr_id in suspects_of_ms1()


@pytest.mark.django_db
def test_a_credit_neither_gets_nor_clears_a_copy_proof(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    first = quiet_cdr(ocpi_client, cpo_token)
    response = post(ocpi_client, cpo_token, credit_of(cdr()))
    assert response.status_code == 201, response.content
    credit = Cdr.objects.get(cdr_id="CDR-0001-C")
    first.refresh_from_db()
    assert (first.no_copy, credit.no_copy, credit.session_agreed) == (True, False, "")


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("method", "change"),
    [
        ("PATCH", {"kwh": 12.5}),
        ("PUT", {"total_cost": {"excl_vat": 6.0, "incl_vat": 7.14}}),
    ],
    ids=["kwh-patched", "cost-put"],
)
def test_a_session_changed_after_its_cdr_clears_the_proof_and_the_mismatch_is_found(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    method: str,
    change: dict[str, Any],
) -> None:
    row = quiet_cdr(ocpi_client, cpo_token)
    later = {**change, "last_updated": "2024-05-01T11:30:00Z"}
    if method == "PATCH":
        patch_session(ocpi_client, cpo_token, **later)
    else:
        put_session(ocpi_client, cpo_token, **later)
    row.refresh_from_db()
    assert row.session_agreed == ""
    assert findings() == {(Kind.SESSION_MISMATCH, "NL/CP1/CDR-0001")}


@pytest.mark.django_db
def test_a_session_write_keeping_its_kwh_and_cost_keeps_the_proof(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    row = quiet_cdr(ocpi_client, cpo_token)
    patch_session(ocpi_client, cpo_token, meter_id="MTR-10", last_updated="2024-05-01T11:30:00Z")
    row.refresh_from_db()
    assert row.session_agreed == "0.01|0.01"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "session",
    [
        None,  # no Session yet: the CPO may send it later
        {"kwh": 11.0},
        {"total_cost": {"excl_vat": 5.0, "incl_vat": 5.95}},
        {"total_cost": {"excl_vat": "4.25", "incl_vat": 5.0575}},  # text: the checks look
    ],
    ids=["missing", "kwh-off", "cost-off", "cost-as-text"],
)
def test_a_session_missing_or_disagreeing_gives_no_proof(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    session: dict[str, Any] | None,
) -> None:
    if session is not None:
        completed = completed_session(**session)
        response = ocpi_client.put(SESSIONS, json=completed, token=cpo_token)
        if response.json()["status_code"] != 1000:  # a text cost is refused at the door
            assert "total_cost" in response.json()["status_message"]
            session = None
    row = post_cdr(ocpi_client, cpo_token)
    assert row.session_agreed == ""
    assert row.cdr_id in suspects_of_ms1()
    expected = Kind.NO_SESSION if session is None else Kind.SESSION_MISMATCH
    assert (expected, "NL/CP1/CDR-0001") in findings()


@pytest.mark.django_db
def test_a_proof_taken_under_another_kwh_tolerance_is_not_trusted(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, settings: Any
) -> None:
    settings.OCPI_RECONCILE_KWH_TOLERANCE = "0.5"
    put_session(ocpi_client, cpo_token, kwh=10.3)
    row = post_cdr(ocpi_client, cpo_token)
    deliver(row)
    row.refresh_from_db()
    assert row.session_agreed == "0.01|0.5"
    assert findings() == set()
    settings.OCPI_RECONCILE_KWH_TOLERANCE = "0.1"
    assert findings() == {(Kind.SESSION_MISMATCH, "NL/CP1/CDR-0001")}


@pytest.mark.django_db(transaction=True)
def test_two_copies_stored_at_once_are_serialised_and_both_lose_the_proof(
    cpo_party: tuple[Platform, str], emsp_platform: Platform
) -> None:
    """A copy's store waits for the other's to commit (the advisory lock on the charge), so it
    sees the first and neither keeps a proof. Without the lock the second store would read the
    store before the first committed, find no copy, and keep its proof."""
    if connection.vendor != "postgresql":
        pytest.skip("advisory locks are PostgreSQL's; SQLite serialises writes (CI: PostgreSQL)")
    owner = cpo_party[0]
    holding, release = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def first() -> None:
        try:
            with transaction.atomic():
                body = cdr()
                lock_for_proofs(CP1, proof_values(body))  # what the store takes first
                holding.set()
                release.wait(timeout=30)
                cdr_ingest(owner=owner, party=CP1, data=body)  # stored within the locks
        except BaseException as exc:  # noqa: BLE001 - reported by the test below
            errors.append(exc)
        finally:
            connections.close_all()

    def second() -> None:
        try:
            cdr_ingest(owner=owner, party=CP1, data=cdr(id="CDR-0002", session_id="SES-X"))
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connections.close_all()

    one = threading.Thread(target=first)
    one.start()
    assert holding.wait(timeout=30)
    two = threading.Thread(target=second)
    two.start()
    two.join(timeout=1)
    still_waiting = two.is_alive()
    release.set()
    one.join(timeout=30)
    two.join(timeout=30)
    assert not errors, errors
    assert still_waiting, "the second copy was stored while the first held the charge's lock"
    assert dict(Cdr.objects.values_list("cdr_id", "no_copy")) == {
        "CDR-0001": False,
        "CDR-0002": False,
    }


@pytest.mark.django_db
def test_the_migration_fills_the_proof_of_delivery_of_stored_cdrs(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    delivered = quiet_cdr(ocpi_client, cpo_token)
    pending = post_cdr(ocpi_client, cpo_token, id="CDR-0002", session_id="SES-0002")
    elsewhere = post_cdr(ocpi_client, cpo_token, id="CDR-0003", session_id="SES-0003")
    deliver(elsewhere)
    PushDelivery.objects.filter(object_key__endswith="CDR-0003").update(to_party_id="MS2")
    Cdr.objects.update(delivered_at=None)  # as stored before migration 0024
    fill_delivered_at(django_apps, None)
    (delivery,) = PushDelivery.objects.filter(object_key__endswith="CDR-0001")
    proofs = dict(Cdr.objects.values_list("cdr_id", "delivered_at"))
    assert proofs == {
        delivered.cdr_id: delivery.delivered_at,
        pending.cdr_id: None,  # its delivery is not DELIVERED
        elsewhere.cdr_id: None,  # delivered to another party than its eMSP
    }


@pytest.mark.django_db
def test_an_exact_copy_with_every_other_proof_is_still_found(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    """A CPO's retry under a new id: the same charge and session, delivered, its Session
    agreeing. Only the copy proof tells it apart from a quiet CDR."""
    first = quiet_cdr(ocpi_client, cpo_token)
    copy = post_cdr(ocpi_client, cpo_token, id="CDR-0002")
    deliver(copy)
    copy.refresh_from_db()
    assert copy.delivered_at is not None and copy.session_agreed == "0.01|0.01"
    assert not copy.no_copy
    assert {kind for kind, key in findings()} == {Kind.DUPLICATE}
    assert first.cdr_id in suspects_of_ms1()


@pytest.mark.django_db
def test_a_mispriced_cdr_with_every_other_proof_is_still_found(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    cost = {"excl_vat": 9.99, "incl_vat": 11.89}
    put_session(ocpi_client, cpo_token, total_cost=cost)
    row = post_cdr(ocpi_client, cpo_token, total_cost=cost)
    deliver(row)
    row.refresh_from_db()
    assert (row.no_copy, row.session_agreed) == (True, "0.01|0.01")
    assert row.delivered_at is not None
    assert findings() == {(Kind.MISPRICED, "NL/CP1/CDR-0001")}
