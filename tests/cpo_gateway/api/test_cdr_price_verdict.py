"""The tariff engine's verdict taken once at ingest (hub.services.reconciliation.verdict):
stored on the CDR with the engine's numbers, read by reconciliation instead of pricing every
CDR again; a CDR without a known tariff, or a credit, stays UNCHECKED and is priced when a
reconciliation runs."""

import copy
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from hub.models import Cdr, Platform, Tariff
from hub.models.cdrs import PriceCheck
from hub.ocpi.routing import PartyRef
from hub.services.reconciliation.findings import Kind
from hub.services.reconciliation.report import reconcile
from tests.conftest import OcpiTestClient
from tests.cpo_gateway.api.test_cdrs import cdr, credit_of, post
from tests.factories import PlatformEndpointFactory, registered_party

pytestmark = pytest.mark.django_db

CP1 = PartyRef.of("NL", "CP1")
MS1 = PartyRef.of("DE", "MS1")


@pytest.fixture(autouse=True)
def _base_url(settings: Any) -> None:
    settings.OCPI_BASE_URL = "http://testserver"


@pytest.fixture
def emsp_platform() -> Platform:
    platform, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(platform=platform, identifier="cdrs", role="RECEIVER")
    return platform


def stored(cdr_id: str = "CDR-0001") -> Cdr:
    return Cdr.objects.get(cdr_id=cdr_id)


def test_a_correctly_priced_cdr_is_stored_as_match_with_the_engines_numbers(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    assert post(ocpi_client, cpo_token, cdr()).status_code == 201
    row = stored()
    assert row.price_check == PriceCheck.MATCH
    assert row.computed["total_cost"] == {"excl_vat": "4.2500", "incl_vat": "5.0575"}
    assert row.computed["tariffs"] == "embedded"
    assert row.computed["time_zone"]


def test_a_mispriced_cdr_is_stored_and_delivered_as_mismatch(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    response = post(ocpi_client, cpo_token, cdr(total_cost={"excl_vat": 9.99, "incl_vat": 11.89}))
    assert response.status_code == 201  # the CPO's bill: stored, never refused
    row = stored()
    assert row.price_check == PriceCheck.MISMATCH
    assert row.computed["total_cost"] == {"excl_vat": "4.2500", "incl_vat": "5.0575"}
    assert row.total_cost_excl_vat == Decimal("9.99")


def test_an_incl_vat_beyond_the_tolerance_alone_is_a_mismatch(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr(total_cost={"excl_vat": 4.25, "incl_vat": 5.50}))
    assert stored().price_check == PriceCheck.MISMATCH


def test_the_tolerance_in_force_at_ingest_judges_the_badge(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, settings: Any
) -> None:
    settings.OCPI_PRICE_TOLERANCE_BY_PARTY = {"NL-CP1": "1.00"}
    post(ocpi_client, cpo_token, cdr(total_cost={"excl_vat": 4.75, "incl_vat": 5.50}))
    assert stored().price_check == PriceCheck.MATCH


def test_a_cdr_naming_a_tariff_the_hub_does_not_know_stays_unchecked(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = cdr()
    del body["tariffs"]
    for period in body["charging_periods"]:
        period["tariff_id"] = "T-LATER"
    assert post(ocpi_client, cpo_token, body).status_code == 201
    row = stored()
    assert (row.price_check, row.computed) == (PriceCheck.UNCHECKED, None)


def test_a_cdr_priced_with_the_cpos_stored_tariff_says_so(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = cdr()
    tariff = copy.deepcopy(body.pop("tariffs")[0])
    for period in body["charging_periods"]:
        period["tariff_id"] = tariff["id"]
    Tariff.objects.create(
        country_code="NL",
        party_id="CP1",
        tariff_id=tariff["id"].upper(),
        data=tariff,
        owner=Platform.objects.get(roles__role="CPO"),
        last_updated="2024-05-01T00:00:00Z",
    )
    assert post(ocpi_client, cpo_token, body).status_code == 201
    row = stored()
    assert row.price_check == PriceCheck.MATCH
    assert row.computed["tariffs"] == "stored"


def test_a_tariff_the_engine_cannot_apply_is_unpriceable_with_its_reason(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = cdr(end_date_time="2024-05-01T08:00:00Z")  # before its start: a finding, stored
    assert post(ocpi_client, cpo_token, body).status_code == 201
    row = stored()
    assert "END_BEFORE_START" in [f["code"] for f in row.findings]
    assert row.price_check == PriceCheck.UNPRICEABLE, row.computed
    assert "end_date_time is before start_date_time" in row.computed["reason"]


def test_a_credit_cdr_is_not_priced(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    original = cdr()
    post(ocpi_client, cpo_token, original)
    assert post(ocpi_client, cpo_token, credit_of(original)).status_code == 201
    row = stored("CDR-0001-C")
    assert (row.price_check, row.computed) == (PriceCheck.UNCHECKED, None)


def test_reconciliation_reads_the_stored_verdict_not_todays_tariff(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    """A tariff changed after the CDR must not re-price it: the verdict of ingest stands."""
    body = cdr()
    body["tariffs"][0]["elements"][0]["price_components"][0]["price"] = 99  # not what it says
    post(ocpi_client, cpo_token, body)
    row = stored()
    assert row.price_check == PriceCheck.MISMATCH
    # The stored document cannot change; had reconciliation priced it again it would find the
    # same. So pretend the engine's numbers at ingest were the reported ones (a tariff since
    # corrected): reconciliation must follow the stored verdict and find nothing.
    Cdr.objects.filter(pk=row.pk).update(
        price_check=PriceCheck.MATCH,
        computed={"total_cost": {"excl_vat": "4.2500", "incl_vat": "5.0575"}},
    )
    period = (date(2024, 5, 1), date(2024, 5, 2))
    (report,) = reconcile(period_start=period[0], period_end=period[1], cpo=CP1, emsp=MS1)
    assert report.counts[Kind.MISPRICED] == 0

    Cdr.objects.filter(pk=row.pk).update(price_check=PriceCheck.UNCHECKED, computed=None)
    (report,) = reconcile(period_start=period[0], period_end=period[1], cpo=CP1, emsp=MS1)
    assert report.counts[Kind.MISPRICED] == 1  # priced now, with the tariff it embeds


def test_the_stored_numbers_meet_todays_tolerance(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, settings: Any
) -> None:
    post(ocpi_client, cpo_token, cdr(total_cost={"excl_vat": 4.75, "incl_vat": 5.5575}))
    assert stored().price_check == PriceCheck.MISMATCH
    settings.OCPI_PRICE_TOLERANCE_BY_PARTY = {"NL-CP1": "1.00"}
    period = (date(2024, 5, 1), date(2024, 5, 2))
    (report,) = reconcile(period_start=period[0], period_end=period[1], cpo=CP1, emsp=MS1)
    assert report.counts[Kind.MISPRICED] == 0
