"""Roaming agreements in the admin: listed and filtered, found by party, added through the
lifecycle's rules (errors on the form's fields), and suspended/resumed/ended by actions that
apply the effects."""

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hub.admin.site import GROUPS
from hub.models import AgreementStatus, PushDelivery, RoamingAgreement
from tests.factories import LocationFactory, RoamingAgreementFactory
from tests.hub.admin_pages import changelist, html, results
from tests.hub.services.agreements.conftest import party_platform

pytestmark = pytest.mark.django_db

MODEL = "roamingagreement"


@pytest.fixture
def parties() -> None:
    party_platform("CPO", "NL", "CPO")
    party_platform("EMSP", "DE", "EMS")
    party_platform("EMSP", "DE", "EMT")


def form_data(**changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "cpo": "NL*CPO",
        "emsp": "DE*EMS",
        "valid_from": timezone.localdate().isoformat(),
        "valid_to": "",
        "scopes": ["locations", "tariffs"],
        "location_ids": "",
        "note": "",
        # the fee terms inline (hub.admin.settlement.FeeTermInline), none by default
        "fee_terms-TOTAL_FORMS": "0",
        "fee_terms-INITIAL_FORMS": "0",
        "fee_terms-MIN_NUM_FORMS": "0",
        "fee_terms-MAX_NUM_FORMS": "1000",
    }
    data.update(changes)
    return data


def fee_term(amount: str) -> dict[str, str]:
    return {
        "fee_terms-TOTAL_FORMS": "1",
        "fee_terms-0-kind": "PER_SESSION",
        "fee_terms-0-amount": amount,
        "fee_terms-0-currency": "EUR",
        "fee_terms-0-payer": "EMSP",
        "fee_terms-0-payee": "HUB",
        "fee_terms-0-valid_from": "",
        "fee_terms-0-valid_to": "",
        "fee_terms-0-note": "",
    }


def test_grouped_under_roaming_agreements() -> None:
    assert ("Agreements & settlement", (MODEL, "feeterm", "settlementstatement")) in GROUPS


def test_list_filters_and_party_search(admin_client: Client, parties: None) -> None:
    active = RoamingAgreementFactory()
    suspended = RoamingAgreementFactory(
        emsp_party_id="EMT", status=AgreementStatus.SUSPENDED, in_force=False
    )
    assert {a.pk for a in results(admin_client, MODEL)} == {active.pk, suspended.pk}
    assert [a.pk for a in results(admin_client, MODEL, {"status": "SUSPENDED"})] == [suspended.pk]
    assert [a.pk for a in results(admin_client, MODEL, {"in_force__exact": "1"})] == [active.pk]
    assert [a.pk for a in results(admin_client, MODEL, {"q": "de*emt"})] == [suspended.pk]
    assert len(results(admin_client, MODEL, {"q": "NL-CPO"})) == 2


def test_add_form_refuses_bad_terms_by_field(admin_client: Client, parties: None) -> None:
    response = admin_client.post(
        reverse(f"admin:hub_{MODEL}_add"),
        form_data(emsp="DE*ZZZ", location_ids="GHOST", valid_to="2000-01-01"),
    )
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert errors["emsp"] == ["DE*ZZZ is not a party registered at the hub"]
    assert errors["location_ids"] == [
        "NL*CPO has no stored location GHOST (only locations the hub holds for the CPO may "
        "be named)"
    ]
    assert "is before valid_from" in errors["valid_to"][0]
    assert not RoamingAgreement.objects.exists()


def test_add_applies_the_agreement(admin_client: Client, parties: None, settings: Any) -> None:
    settings.OCPI_ROAMING_MODE = "agreements"
    LocationFactory(party=("NL", "CPO"), location_id="LOC1")
    response = admin_client.post(reverse(f"admin:hub_{MODEL}_add"), form_data(), follow=True)
    assert response.status_code == 200
    agreement = RoamingAgreement.objects.get()
    assert (agreement.in_force, agreement.scopes) == (True, ["locations", "tariffs"])
    assert f"Agreement {agreement.pk}: started" in html(response)
    assert PushDelivery.objects.filter(module="locations", object_key="NL/CPO/LOC1").exists()


def test_add_with_its_fee_terms_on_the_same_page(admin_client: Client, parties: None) -> None:
    # a negative fee is refused by the inline: nothing is stored, the field is named
    response = admin_client.post(reverse(f"admin:hub_{MODEL}_add"), form_data(**fee_term("-0.40")))
    assert response.status_code == 200
    assert not RoamingAgreement.objects.exists()
    assert "amount" in str(response.context["inline_admin_formsets"][0].formset.errors)
    # a hub fee of EUR 0.40 per session is stored with the agreement
    response = admin_client.post(reverse(f"admin:hub_{MODEL}_add"), form_data(**fee_term("0.40")))
    assert response.status_code == 302
    agreement = RoamingAgreement.objects.get()
    assert [
        (t.kind, str(t.amount), t.currency, t.payer, t.payee) for t in agreement.fee_terms.all()
    ] == [("PER_SESSION", "0.4000", "EUR", "EMSP", "HUB")]


def test_actions_suspend_resume_end(admin_client: Client, parties: None) -> None:
    agreement = RoamingAgreementFactory()
    for action, status, in_force in (
        ("suspend_selected", AgreementStatus.SUSPENDED, False),
        ("resume_selected", AgreementStatus.ACTIVE, True),
        ("end_selected", AgreementStatus.ENDED, False),
    ):
        admin_client.post(changelist(MODEL), {"action": action, "_selected_action": [agreement.pk]})
        agreement.refresh_from_db()
        assert (agreement.status, agreement.in_force) == (status, in_force)
    # a refused transition is reported, not raised
    response = admin_client.post(
        changelist(MODEL),
        {"action": "resume_selected", "_selected_action": [agreement.pk]},
        follow=True,
    )
    assert "is ENDED; only SUSPENDED can become ACTIVE" in html(response)


def test_agreements_cannot_be_deleted(admin_client: Client, parties: None) -> None:
    agreement = RoamingAgreementFactory()
    response = admin_client.get(reverse(f"admin:hub_{MODEL}_delete", args=[agreement.pk]))
    assert response.status_code == 403
