"""The CPO-facing cdrs RECEIVER: ingest (validate, de-duplicate, store immutable, queue one
delivery to the `cdr_token` owner), credit CDRs, findings recorded for inconsistent CDRs, the
`Location` answered and readable by its CPO only, and refusals that store and queue nothing
(2.2.1 mod_cdrs; DESIGN §3, §5, §6)."""

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from hub.models import Cdr, ConnectionStatus, Platform, PushDelivery, TokenOwner
from hub.models.deliveries import DeliveryStatus
from hub.ocpi.routing import PartyRef
from hub.services.cdrs import build_cdr_push
from hub.services.routing.token_index import token_owner_learn
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, registered_party
from tests.fixtures import load_ocpi_fixture

pytestmark = pytest.mark.django_db

URL = "/ocpi/2.2.1/cpo/cdrs"
LOCATION = "http://testserver/ocpi/2.2.1/cpo/cdrs/NL/CP1/CDR-0001"


def cdr(owner: tuple[str, str] = ("DE", "MS1"), **fields: Any) -> dict[str, Any]:
    """A consistent CDR `CDR-0001` of NL*CP1 for a token of `owner` (no findings)."""
    data = load_ocpi_fixture("cdrs", "cdr_delivery")
    data["cdr_token"]["country_code"], data["cdr_token"]["party_id"] = owner
    data.update(fields)
    return data


def credit_of(original: dict[str, Any], **fields: Any) -> dict[str, Any]:
    """The spec's credit CDR: all data copied, new id, only total_cost negated."""
    data = dict(original)
    data.update(
        id=f"{original['id']}-C",
        credit=True,
        credit_reference_id=original["id"],
        total_cost={"excl_vat": -4.25, "incl_vat": -5.0575},
        last_updated="2024-05-02T09:00:00Z",
    )
    data.update(fields)
    return data


@pytest.fixture(autouse=True)
def _base_url(settings: Any) -> None:
    settings.OCPI_BASE_URL = "http://testserver"


@pytest.fixture
def emsp_platform() -> Platform:
    """DE*MS1, the token owner, with a cdrs RECEIVER."""
    platform, _ = registered_party("EMSP", "DE", "MS1")
    PlatformEndpointFactory(
        platform=platform, identifier="cdrs", role="RECEIVER", url="https://ms1.example/cdrs/"
    )
    return platform


@pytest.fixture
def other_emsp() -> Platform:
    platform, _ = registered_party("EMSP", "DE", "MS2")
    PlatformEndpointFactory(platform=platform, identifier="cdrs", role="RECEIVER")
    return platform


def post(client: OcpiTestClient, token: str, body: Any, **kwargs: Any) -> Any:
    return client.post(URL, json=body, token=token, **kwargs)


def deliveries() -> list[tuple[int, str, str, str, str]]:
    return [
        (d.receiver_id, d.object_key, d.operation, d.from_party_id, d.to_party_id)
        for d in PushDelivery.objects.filter(module="cdrs").order_by("pk")
    ]


def assert_status(response: Any, code: int, *words: str) -> None:
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status_code"] == code, body
    for word in words:
        assert word in body["status_message"], body["status_message"]


def assert_nothing_stored() -> None:
    assert not Cdr.objects.exists()
    assert not PushDelivery.objects.exists()
    assert not TokenOwner.objects.exists()


def codes(stored: Cdr) -> list[str]:
    return [finding["code"] for finding in stored.findings]


# ---- ingest -------------------------------------------------------------------------------------


def test_post_stores_queues_one_post_to_the_token_owner_and_answers_location(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    other_emsp: Platform,
    settings: Any,
) -> None:
    settings.OCPI_CDR_RETRY_WINDOW_S = 3 * 86400
    # when
    response = post(ocpi_client, cpo_token, cdr())
    # then
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    assert response.headers["Location"] == LOCATION
    stored = Cdr.objects.get()
    assert stored.data == cdr()  # as received: last_updated untouched
    assert (stored.country_code, stored.party_id, stored.cdr_id) == ("NL", "CP1", "CDR-0001")
    assert (stored.token_country_code, stored.token_party_id, stored.token_uid) == (
        "DE",
        "MS1",
        "04A1B2C3D4",
    )
    assert stored.total_cost_excl_vat == Decimal("4.2500")
    assert stored.total_cost_incl_vat == Decimal("5.0575")
    assert (stored.total_energy, stored.total_time) == (Decimal(10), Decimal(1))
    assert stored.findings == []
    assert stored.session_id == "SES-0001"
    assert deliveries() == [(emsp_platform.pk, "NL/CP1/CDR-0001", "POST", "CP1", "MS1")]
    delivery = PushDelivery.objects.get()
    assert (delivery.from_country_code, delivery.to_country_code) == ("NL", "DE")
    window = delivery.expires_at - delivery.created_at
    assert timedelta(days=3) - timedelta(minutes=1) < window <= timedelta(days=3, seconds=5)
    owner = TokenOwner.objects.get()
    assert (owner.uid, owner.party_id, owner.source) == ("04A1B2C3D4", "MS1", "CDR")


def test_push_builder_posts_the_stored_cdr_to_the_endpoint_url_itself(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    request = build_cdr_push(PushDelivery.objects.get())
    assert request is not None
    assert (request.method, request.url, request.body) == (
        "POST",
        "https://ms1.example/cdrs/",
        cdr(),
    )
    assert request.routed


def test_identical_replay_is_idempotent_with_the_same_location(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    first = post(ocpi_client, cpo_token, cdr())
    again = post(ocpi_client, cpo_token, cdr())
    assert again.status_code == 200
    assert again.json()["status_code"] == 1000
    assert again.headers["Location"] == first.headers["Location"] == LOCATION
    assert Cdr.objects.count() == 1
    assert PushDelivery.objects.count() == 1


def test_different_cdr_under_a_stored_id_is_refused_and_changes_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    changed = cdr(id="cdr-0001", total_energy=11.0)  # CiString: the same id
    assert_status(post(ocpi_client, cpo_token, changed), 2001, "already exists", "credit CDR")
    assert Cdr.objects.get().data == cdr()
    assert PushDelivery.objects.count() == 1


def test_credit_cdr_is_linked_to_its_original_and_delivered(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    response = post(ocpi_client, cpo_token, credit_of(cdr()))
    assert response.status_code == 201, response.content
    assert response.headers["Location"] == f"{LOCATION}-C"
    credit = Cdr.objects.get(cdr_id="CDR-0001-C")
    assert credit.credit
    assert credit.credit_of == Cdr.objects.get(cdr_id="CDR-0001")
    assert credit.findings == []
    assert credit.total_cost_excl_vat == Decimal("-4.2500")
    assert len(deliveries()) == 2


def test_credit_not_negating_the_original_is_stored_with_a_finding(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    body = credit_of(cdr(), total_cost={"excl_vat": 4.25, "incl_vat": 5.0575})
    assert post(ocpi_client, cpo_token, body).status_code == 201
    assert codes(Cdr.objects.get(cdr_id="CDR-0001-C")) == [
        "CREDIT_NOT_NEGATED",
        "CREDIT_NOT_NEGATED",
    ]


def test_credit_for_another_emsps_token_is_stored_with_a_finding(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, other_emsp: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    body = credit_of(cdr(), cdr_token=cdr(("DE", "MS2"))["cdr_token"])
    assert post(ocpi_client, cpo_token, body).status_code == 201
    # the token itself was learned as DE*MS1's from the original CDR
    assert codes(Cdr.objects.get(cdr_id="CDR-0001-C")) == [
        "CREDIT_TOKEN_OWNER",
        "TOKEN_OWNER_MISMATCH",
    ]
    assert deliveries()[1][0] == other_emsp.pk  # routed by its own cdr_token


def test_credit_id_may_have_39_characters(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    original = cdr(id="X" * 36)
    post(ocpi_client, cpo_token, original)
    assert post(ocpi_client, cpo_token, credit_of(original, id="X" * 39)).status_code == 201


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"end_date_time": "2024-05-01T09:00:00Z"}, ["END_BEFORE_START"]),
        ({"total_time": 1.5}, ["TOTAL_TIME", "TIME_DIMENSIONS_SUM"]),
        ({"total_energy": 12.0}, ["ENERGY_SUM"]),
        ({"total_parking_time": 0.5}, ["PARKING_SUM"]),
        ({"total_cost": {"excl_vat": 4.25, "incl_vat": 4.0}}, ["INCL_BELOW_EXCL", "COST_SUM"]),
        ({"total_cost": {"excl_vat": 3.0, "incl_vat": 5.0575}}, ["COST_SUM"]),
        ({"currency": "CHF"}, ["TARIFF_CURRENCY"]),
        ({"credit_reference_id": "CDR-0000"}, ["CREDIT_REFERENCE_WITHOUT_CREDIT"]),
    ],
    ids=["end<start", "total_time", "energy", "parking", "incl<excl", "costs", "currency", "ref"],
)
def test_inconsistent_but_valid_cdrs_are_stored_with_findings(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    changes: dict[str, Any],
    expected: list[str],
) -> None:
    assert post(ocpi_client, cpo_token, cdr(**changes)).status_code == 201
    stored = Cdr.objects.get()
    assert codes(stored) == expected
    assert all(finding["message"] for finding in stored.findings)
    assert PushDelivery.objects.count() == 1  # findings never stop the delivery


def test_periods_out_of_order_outside_and_unknown_tariff_are_findings(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    body = cdr()
    first, second = body["charging_periods"]
    second["start_date_time"] = "2024-05-01T09:30:00Z"  # before the first and the start
    first["tariff_id"] = "T9"
    assert post(ocpi_client, cpo_token, body).status_code == 201
    assert codes(Cdr.objects.get()) == ["PERIOD_ORDER", "PERIOD_OUTSIDE", "TARIFF_MISSING"]


def test_token_known_as_another_emsps_is_a_finding(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, other_emsp: Platform
) -> None:
    token_owner_learn(
        owner=PartyRef("DE", "MS2"), uid="04A1B2C3D4", token_type="RFID", source="TOKENS"
    )
    assert post(ocpi_client, cpo_token, cdr()).status_code == 201
    assert codes(Cdr.objects.get()) == ["TOKEN_OWNER_MISMATCH"]


def test_owner_without_cdrs_receiver_stores_without_delivery(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    registered_party("EMSP", "DE", "MS1")  # pulls with GET
    assert post(ocpi_client, cpo_token, cdr()).status_code == 201
    assert Cdr.objects.count() == 1
    assert not PushDelivery.objects.exists()


def test_offline_owner_is_accepted_and_the_delivery_waits(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    Platform.objects.filter(pk=emsp_platform.pk).update(status=ConnectionStatus.OFFLINE)
    assert post(ocpi_client, cpo_token, cdr()).status_code == 201
    assert len(deliveries()) == 1


@pytest.mark.parametrize("to", [("DE", "MS1"), ("de", "ms1"), ("NL", "HUB")])
def test_to_naming_the_token_owner_or_the_hub_is_stored_and_queued(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, to: tuple[str, str]
) -> None:
    headers = {"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]}
    assert post(ocpi_client, cpo_token, cdr(), headers=headers).status_code == 201
    assert deliveries() == [(emsp_platform.pk, "NL/CP1/CDR-0001", "POST", "CP1", "MS1")]


# ---- Location GET --------------------------------------------------------------------------------


def test_location_is_readable_by_the_owning_cpo_only(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    post(ocpi_client, cpo_token, cdr())
    path = LOCATION.removeprefix("http://testserver")
    mine = ocpi_client.get(path, token=cpo_token)
    assert mine.status_code == 200
    assert mine.json()["data"] == cdr()
    assert ocpi_client.get(path.lower(), token=cpo_token).status_code == 200  # CiStrings
    assert ocpi_client.get(f"{path}X", token=cpo_token).status_code == 404
    # another CPO, and the eMSP itself, may not read it
    _, other_cpo = registered_party("CPO", "NL", "CP2")
    assert ocpi_client.get(path, token=other_cpo).status_code == 404
    _, emsp_token = registered_party("EMSP", "DE", "MS7")
    assert ocpi_client.get(path, token=emsp_token).status_code == 404


# ---- refusals: nothing stored, nothing queued --------------------------------------------------


@pytest.mark.parametrize("to", [("DE", "MS2"), ("NL", "CP1")], ids=["other-emsp", "the-cpo"])
def test_to_contradicting_cdr_token_is_refused_2001(
    ocpi_client: OcpiTestClient,
    cpo_token: str,
    emsp_platform: Platform,
    other_emsp: Platform,
    to: tuple[str, str],
) -> None:
    headers = {"OCPI-to-country-code": to[0], "OCPI-to-party-id": to[1]}
    assert_status(post(ocpi_client, cpo_token, cdr(), headers=headers), 2001, "cdr_token")
    assert_nothing_stored()


def test_unknown_token_owner_is_refused_4001(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    assert_status(post(ocpi_client, cpo_token, cdr(owner=("FR", "XYZ"))), 4001, "FR*XYZ")
    assert_nothing_stored()


def test_a_cdr_for_a_suspended_owner_is_kept_and_its_delivery_held(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    # Suspension holds deliveries (issue 10, defect 7): the bill is stored and waits for the
    # eMSP's reactivation instead of being refused to the CPO.
    Platform.objects.filter(pk=emsp_platform.pk).update(status=ConnectionStatus.SUSPENDED)
    response = post(ocpi_client, cpo_token, cdr())
    assert (response.status_code, response.json()["status_code"]) == (201, 1000), response.content
    assert Cdr.objects.count() == 1
    delivery = PushDelivery.objects.get(receiver=emsp_platform, module="cdrs")
    assert delivery.status == DeliveryStatus.HELD


def test_credit_for_an_unknown_original_is_refused(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    response = post(ocpi_client, cpo_token, credit_of(cdr()))
    assert_status(response, 2001, "credit_reference_id", "CDR-0001")
    assert_nothing_stored()


def test_credit_of_another_cpos_cdr_is_refused(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    _, other_token = registered_party("CPO", "NL", "CP2")
    post(ocpi_client, other_token, cdr(party_id="CP2"))
    response = post(ocpi_client, cpo_token, credit_of(cdr()))
    assert_status(response, 2001, "credit_reference_id")
    assert Cdr.objects.count() == 1


def test_cdr_claiming_another_cpos_identity_is_refused(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    registered_party("CPO", "NL", "CP2")
    response = post(ocpi_client, cpo_token, cdr(party_id="CP2"))
    assert response.status_code == 404
    assert response.json()["status_code"] == 2001
    assert_nothing_stored()


def test_from_header_of_another_party_is_refused(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform
) -> None:
    headers = {"OCPI-from-country-code": "DE", "OCPI-from-party-id": "MS1"}
    assert_status(post(ocpi_client, cpo_token, cdr(), headers=headers), 2001, "OCPI-from")
    assert_nothing_stored()


def test_emsp_cannot_post_cdrs(ocpi_client: OcpiTestClient, emsp_platform: Platform) -> None:
    _, token = registered_party("EMSP", "DE", "MS9")
    response = post(ocpi_client, token, cdr(country_code="DE", party_id="MS9"))
    assert response.status_code == 404
    assert_nothing_stored()


def _without(name: str, inner: str | None = None) -> dict[str, Any]:
    data = cdr()
    if inner is None:
        del data[name]
    else:
        del data[name][inner]
    return data


def _periods(*dimensions: dict[str, Any]) -> dict[str, Any]:
    return cdr(
        charging_periods=[
            {"start_date_time": "2024-05-01T10:00:00Z", "dimensions": list(dimensions)}
        ]
    )


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (_without("cdr_token"), "cdr_token"),
        (_without("cdr_location"), "cdr_location"),
        (_without("cdr_location", "evse_id"), "evse_id"),
        (_without("total_cost"), "total_cost"),
        (_without("charging_periods"), "charging_periods"),
        (cdr(charging_periods=[]), "charging_periods"),
        (_without("end_date_time"), "end_date_time"),
        (_without("last_updated"), "last_updated"),
        (cdr(id="X" * 37), "id"),
        (cdr(id="X" * 40, credit=True, credit_reference_id="CDR-0001"), "id"),
        (cdr(credit=True), "credit_reference_id"),
        (cdr(total_energy="10"), "total_energy"),
        (cdr(total_time=-1), "total_time"),
        (cdr(currency="euro"), "currency"),
        (cdr(auth_method="PIN"), "auth_method"),
        (cdr(credit="yes"), "credit"),
        (_periods({"type": "STATE_OF_CHARGE", "volume": 40}), "Sessions"),
        (_periods({"type": "TIME", "volume": -1}), "volume"),
        (cdr(cdr_location={**cdr()["cdr_location"], "address": "A" * 46}), "address"),
        (cdr(signed_data={"encoding_method": "OCMF", "signed_values": []}), "signed_values"),
        (cdr(tariffs=[{"id": "T1"}]), "tariffs"),
        (cdr(surprise=1), "surprise"),
        ([cdr()], "Expected a dictionary"),
    ],
)
def test_invalid_cdr_is_refused_2001_naming_the_field(
    ocpi_client: OcpiTestClient, cpo_token: str, emsp_platform: Platform, body: Any, field: str
) -> None:
    assert_status(post(ocpi_client, cpo_token, body), 2001, field)
    assert_nothing_stored()


def test_non_json_body_is_http_400(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    response = ocpi_client.post(URL, raw="{not json", token=cpo_token)
    assert response.status_code == 400
    assert_nothing_stored()


def test_every_recorded_finding_code_is_declared() -> None:
    """Admin filters and reports rely on FINDING_CODES listing every code the checks emit."""
    import inspect
    import re

    from hub.services import cdr_checks

    emitted = set(re.findall(r'_add\(\s*findings,\s*"([A-Z_]+)"', inspect.getsource(cdr_checks)))
    assert emitted == set(cdr_checks.FINDING_CODES)
