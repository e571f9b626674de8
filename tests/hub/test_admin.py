"""The operations admin: pages render, secrets stay hidden, operations go through the registry
services and report their outcome."""

import re
from typing import Any

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from hub.models import (
    ConnectionStatus,
    ExchangeDirection,
    OcpiExchange,
    Platform,
    PlatformToken,
    TokenScope,
)
from hub.ocpi.tokens import token_digest
from hub.services.registry.credentials import hub_versions_url
from tests.factories import (
    OcpiExchangeFactory,
    PlatformEndpointFactory,
    PlatformFactory,
    PlatformRoleFactory,
    issue_token,
)
from tests.hub.admin_pages import change, changelist, html

pytestmark = pytest.mark.django_db

UNREACHABLE_VERSIONS_URL = "http://127.0.0.1:9/versions"
TOKEN_RE = re.compile(r'<code class="hub-token"[^>]*>([^<]+)</code>')


def run_action(client: Client, action: str, *platforms: Platform, **extra: str) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [p.pk for p in platforms], **extra}
    return client.post(changelist("platform"), data, follow=True)


@pytest.fixture
def platform() -> Platform:
    """A registered platform hosting NL*ABC CPO and NL*ABC EMSP, with endpoints and a token."""
    created = PlatformFactory.create(name="Acme Roaming")
    PlatformRoleFactory(platform=created, role="CPO", country_code="NL", party_id="ABC")
    PlatformRoleFactory(platform=created, role="EMSP", country_code="NL", party_id="ABC")
    PlatformEndpointFactory(platform=created)
    issue_token(created)
    return created


class TestPagesRender:
    def test_platform_changelist_shows_roles_status_and_buttons(
        self, admin_client: Client, platform: Platform
    ) -> None:
        response = admin_client.get(changelist("platform"))
        assert response.status_code == 200
        page = html(response)
        assert "NL*ABC CPO, NL*ABC EMSP" in page
        assert "Acme Roaming" in page
        assert reverse("admin:hub_platform_invite") in page
        assert reverse("admin:hub_platform_connect") in page

    def test_platform_filters_render(self, admin_client: Client, platform: Platform) -> None:
        for query in (
            "status__exact=CONNECTED",
            "registered__exact=1",
            "roles__role=EMSP",
            "initiated_by__exact=HUB",
        ):
            response = admin_client.get(changelist("platform") + "?" + query)
            assert response.status_code == 200, query

    def test_platform_change_page_shows_inlines_and_operations(
        self, admin_client: Client, platform: Platform
    ) -> None:
        response = admin_client.get(change("platform", platform.pk))
        assert response.status_code == 200
        page = html(response)
        assert "credentials" in page  # endpoint inline
        assert "REGISTRATION" in page or "ACCESS" in page  # token inline
        digest = platform.tokens.get().digest
        assert digest[:8] + "…" in page
        assert digest not in page
        for slug in ("rotate", "suspend", "unregister"):
            url = reverse("admin:hub_platform_operation", args=[platform.pk, slug])
            assert url in page
        # An operation that does not apply to a registered, connected platform is not offered.
        invite = reverse("admin:hub_platform_operation", args=[platform.pk, "invite"])
        assert invite not in page

    def test_add_goes_to_invite(self, admin_client: Client) -> None:
        response = admin_client.get(reverse("admin:hub_platform_add"))
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:hub_platform_invite")

    @pytest.mark.parametrize("model", ["ocpiexchange", "platformrole", "platformendpoint"])
    def test_other_changelists_and_change_pages(
        self, admin_client: Client, platform: Platform, model: str
    ) -> None:
        exchange = OcpiExchangeFactory(platform=platform, correlation_id="corr-1")
        objects = {
            "ocpiexchange": exchange,
            "platformrole": platform.roles.first(),
            "platformendpoint": platform.endpoints.first(),
        }
        assert admin_client.get(changelist(model)).status_code == 200
        obj = objects[model]
        assert obj is not None
        assert admin_client.get(change(model, obj.pk)).status_code == 200

    def test_exchange_filters_render(self, admin_client: Client, platform: Platform) -> None:
        OcpiExchangeFactory(platform=platform)
        for query in (
            "direction__exact=IN",
            "module=locations",
            "http=2xx",
            "ocpi=none",
            f"platform__id__exact={platform.pk}",
            "created_at__year=2020",
        ):
            response = admin_client.get(changelist("ocpiexchange") + "?" + query)
            assert response.status_code == 200, query

    def test_exchange_log_is_read_only(self, admin_client: Client) -> None:
        exchange = OcpiExchangeFactory()
        assert admin_client.get(reverse("admin:hub_ocpiexchange_add")).status_code == 403
        delete = reverse("admin:hub_ocpiexchange_delete", args=[exchange.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert OcpiExchange.objects.filter(pk=exchange.pk).exists()


class TestOutboundTokenNeverShown:
    def test_not_in_list_change_history_or_search(
        self, admin_client: Client, platform: Platform
    ) -> None:
        secret = platform.outbound_token
        # An edit through the change form: it must neither show nor wipe the token.
        form = admin_client.get(change("platform", platform.pk)).context["adminform"].form
        assert "outbound_token" not in form.fields
        data = _change_form_data(admin_client, platform, name="Acme Roaming BV")
        response = admin_client.post(change("platform", platform.pk), data, follow=True)
        assert response.status_code == 200
        assert secret not in html(response)
        platform.refresh_from_db()
        assert platform.name == "Acme Roaming BV"
        assert platform.outbound_token == secret

        pages = [
            changelist("platform"),
            changelist("platform") + "?q=Acme",
            change("platform", platform.pk),
            reverse("admin:hub_platform_history", args=[platform.pk]),
            changelist("platformrole"),
            changelist("platformendpoint"),
            reverse("admin:hub_platform_operation", args=[platform.pk, "unregister"]),
        ]
        for url in pages:
            response = admin_client.get(url)
            assert response.status_code == 200, url
            assert secret not in html(response), url
        assert platform.masked_outbound_token in html(
            admin_client.get(change("platform", platform.pk))
        )
        for entry in LogEntry.objects.all():
            assert secret not in entry.change_message
            assert secret not in entry.object_repr


def _change_form_data(client: Client, platform: Platform, **overrides: str) -> dict[str, Any]:
    """The change form's current values as a browser would post them (inlines included)."""
    response = client.get(change("platform", platform.pk))
    data: dict[str, Any] = {}
    form = response.context["adminform"].form
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        data[name] = "" if value is None else value
    for formset in response.context["inline_admin_formsets"]:
        management = formset.formset.management_form
        for name in management.fields:
            data[f"{management.prefix}-{name}"] = management[name].value()
        for inline_form in formset.formset.forms:
            for name in inline_form.fields:
                value = inline_form[name].value()
                if value is not None:
                    data[f"{inline_form.prefix}-{name}"] = value
    data.update(overrides)
    return data


class TestInvite:
    def test_invite_view_creates_platform_and_shows_token_once(self, admin_client: Client) -> None:
        assert admin_client.get(reverse("admin:hub_platform_invite")).status_code == 200
        response = admin_client.post(reverse("admin:hub_platform_invite"), {"name": "Newcomer"})
        assert response.status_code == 200
        assert "no-store" in response["Cache-Control"]
        page = html(response)
        tokens = TOKEN_RE.findall(page)
        assert len(tokens) == 1
        assert hub_versions_url() in page

        created = Platform.objects.get(name="Newcomer")
        assert created.status == ConnectionStatus.PLANNED
        assert not created.registered
        stored = PlatformToken.objects.get(platform=created)
        assert stored.digest == token_digest(tokens[0])
        assert stored.scope == TokenScope.REGISTRATION
        # Shown once: nowhere afterwards.
        assert tokens[0] not in html(admin_client.get(change("platform", created.pk)))
        assert tokens[0] not in html(admin_client.get(changelist("platform")))

    def test_invite_view_requires_a_name(self, admin_client: Client) -> None:
        response = admin_client.post(reverse("admin:hub_platform_invite"), {"name": ""})
        assert response.status_code == 200
        assert not Platform.objects.exists()

    def test_invite_action_reissues_token_a(self, admin_client: Client) -> None:
        pending = PlatformFactory.create(
            registered=False, status=ConnectionStatus.SUSPENDED, outbound_token=""
        )
        old = issue_token(pending, TokenScope.REGISTRATION)
        response = run_action(admin_client, "invite_action", pending)
        tokens = TOKEN_RE.findall(html(response))
        assert len(tokens) == 1
        assert tokens[0] != old
        assert list(pending.tokens.values_list("digest", flat=True)) == [token_digest(tokens[0])]
        pending.refresh_from_db()
        assert pending.status == ConnectionStatus.PLANNED

    def test_invite_action_refuses_registered_platforms(
        self, admin_client: Client, platform: Platform
    ) -> None:
        response = run_action(admin_client, "invite_action", platform)
        page = html(response)
        assert "rotate its credentials instead" in page
        assert not TOKEN_RE.findall(page)
        assert platform.tokens.get().scope == TokenScope.ACCESS

    def test_invite_button_confirms_then_issues(self, admin_client: Client) -> None:
        pending = PlatformFactory.create(registered=False, status=ConnectionStatus.PLANNED)
        url = reverse("admin:hub_platform_operation", args=[pending.pk, "invite"])
        assert admin_client.get(url).status_code == 200
        assert not pending.tokens.exists()
        tokens = TOKEN_RE.findall(html(admin_client.post(url)))
        assert pending.tokens.get().digest == token_digest(tokens[0])


class TestStatusActions:
    def test_suspend_and_reactivate(self, admin_client: Client, platform: Platform) -> None:
        response = run_action(admin_client, "suspend_action", platform)
        assert response.status_code == 200
        assert "suspended" in html(response)
        platform.refresh_from_db()
        assert platform.status == ConnectionStatus.SUSPENDED

        response = run_action(admin_client, "reactivate_action", platform)
        assert "reactivated (CONNECTED)" in html(response)
        platform.refresh_from_db()
        assert platform.status == ConnectionStatus.CONNECTED
        assert LogEntry.objects.filter(object_id=str(platform.pk)).count() == 2

    def test_suspend_button(self, admin_client: Client, platform: Platform) -> None:
        url = reverse("admin:hub_platform_operation", args=[platform.pk, "suspend"])
        confirm = admin_client.get(url)
        assert confirm.status_code == 200
        assert "All traffic with this platform stops" in html(confirm)
        platform.refresh_from_db()
        assert platform.status == ConnectionStatus.CONNECTED  # GET changes nothing

        response = admin_client.post(url)
        assert response.status_code == 302
        assert response["Location"] == change("platform", platform.pk)
        platform.refresh_from_db()
        assert platform.status == ConnectionStatus.SUSPENDED

    def test_unknown_operation_is_404(self, admin_client: Client, platform: Platform) -> None:
        url = reverse("admin:hub_platform_operation", args=[platform.pk, "explode"])
        assert admin_client.get(url).status_code == 404


class TestRegistrationOperations:
    def test_unregister_asks_then_unregisters_locally_with_warning(
        self, admin_client: Client, platform: Platform
    ) -> None:
        confirm = run_action(admin_client, "unregister_action", platform)
        assert confirm.status_code == 200
        assert "are you sure?" in html(confirm)
        platform.refresh_from_db()
        assert platform.registered  # nothing happened yet

        response = run_action(admin_client, "unregister_action", platform, post="yes")
        page = html(response)
        assert "unregistered locally, but the partner was not told" in page
        platform.refresh_from_db()
        assert not platform.registered
        assert platform.outbound_token == ""
        assert platform.status == ConnectionStatus.SUSPENDED
        assert not platform.tokens.exists()

    def test_rotate_reports_failure_and_keeps_credentials(
        self, admin_client: Client, platform: Platform
    ) -> None:
        secret = platform.outbound_token
        digest = platform.tokens.get().digest
        response = run_action(admin_client, "rotate_action", platform)
        page = html(response)
        assert "credentials not rotated" in page
        assert secret not in page
        platform.refresh_from_db()
        assert platform.outbound_token == secret
        assert list(platform.tokens.values_list("digest", flat=True)) == [digest]

    def test_rotate_unregistered_platform_is_an_error(self, admin_client: Client) -> None:
        pending = PlatformFactory.create(name="Pending", registered=False)
        response = run_action(admin_client, "rotate_action", pending)
        assert "Pending is not registered" in html(response)

    def test_registered_platform_cannot_be_deleted(
        self, admin_client: Client, platform: Platform
    ) -> None:
        delete = reverse("admin:hub_platform_delete", args=[platform.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert Platform.objects.filter(pk=platform.pk).exists()
        actions = admin_client.get(changelist("platform")).context["action_form"]
        assert "delete_selected" not in dict(actions.fields["action"].choices)

    def test_unregistered_platform_can_be_deleted(self, admin_client: Client) -> None:
        pending = PlatformFactory.create(registered=False)
        delete = reverse("admin:hub_platform_delete", args=[pending.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 302
        assert not Platform.objects.filter(pk=pending.pk).exists()


class TestConnect:
    def test_form_renders(self, admin_client: Client) -> None:
        response = admin_client.get(reverse("admin:hub_platform_connect"))
        assert response.status_code == 200
        assert 'name="token_a"' in html(response)

    def test_unreachable_partner_shows_error_and_stores_nothing(self, admin_client: Client) -> None:
        token_a = "partner-token-a-0123456789"
        response = admin_client.post(
            reverse("admin:hub_platform_connect"),
            {"versions_url": UNREACHABLE_VERSIONS_URL, "token_a": token_a, "name": "Far Away"},
        )
        assert response.status_code == 200
        page = html(response)
        assert "Could not connect" in page
        assert UNREACHABLE_VERSIONS_URL in page  # the form keeps its values...
        assert "Far Away" in page
        assert token_a not in page  # ...except the token
        assert not Platform.objects.exists()
        assert not PlatformToken.objects.exists()

    def test_invalid_token_is_refused_before_calling(self, admin_client: Client) -> None:
        response = admin_client.post(
            reverse("admin:hub_platform_connect"),
            {"versions_url": UNREACHABLE_VERSIONS_URL, "token_a": "has space"},
        )
        assert response.status_code == 200
        assert "printable ASCII" in html(response)
        assert not OcpiExchange.objects.exists()


class TestSearch:
    def test_exchange_search_by_correlation_id(
        self, admin_client: Client, platform: Platform
    ) -> None:
        wanted = OcpiExchangeFactory(platform=platform, correlation_id="corr-wanted", url="/a")
        OcpiExchangeFactory(platform=platform, correlation_id="corr-other", url="/b")
        response = admin_client.get(changelist("ocpiexchange"), {"q": "corr-wanted"})
        assert response.status_code == 200
        assert list(response.context["cl"].result_list) == [wanted]

    def test_exchange_search_falls_back_to_url_and_platform(
        self, admin_client: Client, platform: Platform
    ) -> None:
        wanted = OcpiExchangeFactory(url="http://hub.example/ocpi/2.2.1/cpo/tariffs")
        OcpiExchangeFactory()
        response = admin_client.get(changelist("ocpiexchange"), {"q": "tariffs"})
        assert list(response.context["cl"].result_list) == [wanted]
        by_platform = OcpiExchangeFactory(platform=platform)
        response = admin_client.get(changelist("ocpiexchange"), {"q": "Acme"})
        assert list(response.context["cl"].result_list) == [by_platform]

    def test_correlation_link_filters_the_log(
        self, admin_client: Client, platform: Platform
    ) -> None:
        first = OcpiExchangeFactory(correlation_id="flow-1", direction=ExchangeDirection.INBOUND)
        second = OcpiExchangeFactory(correlation_id="flow-1", direction=ExchangeDirection.OUTBOUND)
        OcpiExchangeFactory(correlation_id="flow-2")
        page = html(admin_client.get(changelist("ocpiexchange")))
        assert "?correlation_id=flow-1" in page
        response = admin_client.get(changelist("ocpiexchange"), {"correlation_id": "flow-1"})
        assert response.status_code == 200
        assert set(response.context["cl"].result_list) == {first, second}

    def test_platform_search_by_party(self, admin_client: Client, platform: Platform) -> None:
        other = PlatformFactory.create(name="Other")
        PlatformRoleFactory(platform=other, country_code="DE", party_id="XYZ")
        for term in ("NL*ABC", "nl*abc", "ABC"):
            response = admin_client.get(changelist("platform"), {"q": term})
            assert list(response.context["cl"].result_list) == [platform], term

    def test_role_search_by_party(self, admin_client: Client, platform: Platform) -> None:
        response = admin_client.get(changelist("platformrole"), {"q": "NL*ABC"})
        assert {str(role) for role in response.context["cl"].result_list} == {
            "NL*ABC CPO",
            "NL*ABC EMSP",
        }


class TestRoleBusinessDetails:
    def test_invalid_business_details_are_refused(
        self, admin_client: Client, platform: Platform
    ) -> None:
        role = platform.roles.first()
        assert role is not None
        url = change("platformrole", role.pk)
        response = admin_client.post(url, {"business_details": '{"website": "nope"}'})
        assert response.status_code == 200
        assert "Not a valid OCPI BusinessDetails" in html(response)
        response = admin_client.post(url, {"business_details": '{"name": "Acme CPO"}'})
        assert response.status_code == 302
        role.refresh_from_db()
        assert role.business_details == {"name": "Acme CPO"}
