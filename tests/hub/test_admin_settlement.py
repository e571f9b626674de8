"""The settlement admin: fee terms added through the form (bad input refused with the field
named, nothing stored), statements read-only with their lines and disputed CDRs, the CSV
download (action and per-statement link, logged) and the recompute action."""

from decimal import Decimal
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import Permission, User
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from hub.models import FeeTerm, SettlementStatement, StaffExport
from hub.services.settlement.statement import settle_agreement
from tests.factories import RoamingAgreementFactory, SettlementLineFactory
from tests.hub.admin_pages import change, changelist, csv_rows, html
from tests.hub.settlement_seed import AFTER_MARCH, EXPECTED_NET, MARCH, Seed, seed_march

pytestmark = pytest.mark.django_db


@pytest.fixture
def statement() -> tuple[Seed, SettlementStatement]:
    seed = seed_march()
    return seed, settle_agreement(agreement=seed.agreement, month=MARCH, now=AFTER_MARCH)


def run_action(client: Client, model: str, action: str, *objs: Model, follow: bool = True) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [str(o.pk) for o in objs]}
    return client.post(changelist(model), data, follow=follow)


def fee_form(agreement_id: int, **changes: str) -> dict[str, str]:
    return {
        "agreement": str(agreement_id),
        "kind": "PER_SESSION",
        "amount": "0.40",
        "currency": "EUR",
        "payer": "EMSP",
        "payee": "HUB",
        "valid_from": "",
        "valid_to": "",
        "note": "",
        **changes,
    }


class TestFeeTermAdmin:
    def test_add_through_the_form(self, admin_client: Client) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        response = admin_client.post(reverse("admin:hub_feeterm_add"), fee_form(agreement.pk))
        assert response.status_code == 302
        term = FeeTerm.objects.get()
        assert (term.kind, term.amount, term.payer, term.payee) == (
            "PER_SESSION",
            Decimal("0.40"),
            "EMSP",
            "HUB",
        )
        page = html(admin_client.get(changelist("feeterm")))
        assert "0.4 EUR" in page

    @pytest.mark.parametrize(
        ("changes", "field", "message"),
        [
            ({"amount": "-0.40"}, "amount", "must not be negative"),
            ({"kind": "REVENUE_SHARE", "currency": "", "amount": "101"}, "amount", "0..100"),
            ({"currency": "E1R"}, "currency", "ISO 4217"),
            ({"payee": "EMSP"}, "payee", "must differ from the payer"),
        ],
    )
    def test_bad_input_is_refused(
        self, admin_client: Client, changes: dict[str, str], field: str, message: str
    ) -> None:
        agreement = RoamingAgreementFactory(cpo_party_id="ABC")
        response = admin_client.post(
            reverse("admin:hub_feeterm_add"), fee_form(agreement.pk, **changes)
        )
        assert response.status_code == 200
        errors = response.context["adminform"].form.errors
        assert message in " ".join(errors[field])
        assert not FeeTerm.objects.exists()


class TestStatementAdmin:
    def test_changelist_and_change_page(
        self, admin_client: Client, statement: tuple[Seed, SettlementStatement]
    ) -> None:
        seed, stored = statement
        page = html(admin_client.get(changelist("settlementstatement")))
        assert "2026-03" in page
        assert "EUR: CPO 40.28, EMSP -101.92, HUB 61.64" in page
        detail = admin_client.get(change("settlementstatement", stored.pk))
        assert detail.status_code == 200
        text = html(detail)
        # the lines inline, the disputed CDRs linked with their reasons, the CSV link
        assert "REALTIME_STATUS_MONTHLY" in text
        assert reverse("admin:hub_cdr_change", args=[seed.cdrs["C6"].pk]) in text
        assert "price check MISMATCH" in text
        assert reverse("admin:hub_settlementstatement_csv", args=[stored.pk]) in text
        # read-only: no save button, no add
        assert 'name="_save"' not in text
        assert admin_client.get(reverse("admin:hub_settlementstatement_add")).status_code == 403

    def test_csv_action_and_download_are_logged(
        self, admin_client: Client, statement: tuple[Seed, SettlementStatement]
    ) -> None:
        _, stored = statement
        response = run_action(admin_client, "settlementstatement", "statement_csv_action", stored)
        rows = csv_rows(response)
        assert rows[0][:2] == ["section", "agreement"]
        net = {(r[11], r[13]): r[10] for r in rows[1:] if r[0] == "net"}
        assert net == {(c, p): a for c, parties in EXPECTED_NET.items() for p, a in parties.items()}
        assert response["Content-Disposition"] == (
            f'attachment; filename="settlement-{stored.agreement_id}-2026-03.csv"'
        )
        download = admin_client.get(reverse("admin:hub_settlementstatement_csv", args=[stored.pk]))
        assert download.content == response.content
        assert StaffExport.objects.filter(what="settlement statements").count() == 2

    def test_recompute_restores_the_figures(
        self, admin_client: Client, statement: tuple[Seed, SettlementStatement]
    ) -> None:
        # given: a statement tampered with, and one untouched
        seed, stored = statement
        SettlementLineFactory(statement=stored, position=99)
        # when
        response = run_action(admin_client, "settlementstatement", "recompute_action", stored)
        # then
        assert "Recomputed 1 statement(s): 1 changed, 0 unchanged." in html(response)
        stored.refresh_from_db()
        assert stored.lines.count() == 9
        assert stored.net == EXPECTED_NET
        again = run_action(admin_client, "settlementstatement", "recompute_action", stored)
        assert "0 changed, 1 unchanged" in html(again)

    def test_staff_without_the_permissions_cannot_export_or_recompute(
        self, statement: tuple[Seed, SettlementStatement]
    ) -> None:
        _, stored = statement
        user = User.objects.create_user("viewer1", password="x", is_staff=True)
        user.user_permissions.add(Permission.objects.get(codename="view_settlementstatement"))
        client = Client()
        client.force_login(user)
        response = client.get(changelist("settlementstatement"))
        assert response.status_code == 200
        assert set(
            dict(response.context["cl"].model_admin.get_action_choices(response.wsgi_request))
        ) == {""}
        csv_url = reverse("admin:hub_settlementstatement_csv", args=[stored.pk])
        assert client.get(csv_url).status_code == 403
