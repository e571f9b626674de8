"""The OCPI data and outbox admin: pages render with data, filters and search answer "did
NL*ABC's location X reach eMSP Y, and if not why?", resend and cancel go through the outbox
services, the CPO's data stays read-only, and no partner token is ever rendered."""

import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from unittest import mock

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.admin.models import LogEntry
from django.core.cache import cache
from django.db.models import Model
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from hub.admin.filters import CITY_CHOICES_CACHE_KEY
from hub.models import (
    ConnectionStatus,
    DeliveryStatus,
    Location,
    Platform,
    PlatformRole,
    ProxiedUrl,
    ProxiedUrlKind,
    PushDelivery,
    SyncState,
)
from hub.tasks import deliver_push_task
from tests.factories import (
    LocationFactory,
    PlatformFactory,
    PlatformRoleFactory,
    ProxiedUrlFactory,
    PushAttemptFactory,
    PushDeliveryFactory,
    SyncStateFactory,
    TariffFactory,
    evse,
    registered_party,
)
from tests.hub.admin_pages import change, changelist, html, results

pytestmark = pytest.mark.django_db


def run_action(client: Client, action: str, *deliveries: PushDelivery) -> Any:
    data = {"action": action, ACTION_CHECKBOX_NAME: [d.pk for d in deliveries]}
    return client.post(changelist("pushdelivery"), data, follow=True)


@pytest.fixture(autouse=True)
def _fresh_city_choices() -> Iterator[None]:
    """The top-cities choices are cached; each test counts its own locations."""
    cache.delete(CITY_CHOICES_CACHE_KEY)
    yield
    cache.delete(CITY_CHOICES_CACHE_KEY)


@pytest.fixture
def one_of_each(cpo_platform: Platform, emsp_platform: Platform) -> dict[str, Any]:
    """One of everything the new pages show."""
    location = LocationFactory(
        owner=cpo_platform,
        evses=[
            evse("1", "AVAILABLE"),
            evse("2", "AVAILABLE"),
            evse("3", "AVAILABLE"),
            evse("4", "CHARGING", evse_id="NL*ABC*E40404"),
        ],
    )
    tariff = TariffFactory(owner=cpo_platform)
    delivery = PushDeliveryFactory(
        receiver=emsp_platform, status=DeliveryStatus.FAILED, correlation_id="corr-42", attempts=1
    )
    PushAttemptFactory(delivery=delivery)
    proxied = ProxiedUrlFactory(
        target_url="http://127.0.0.1:9/cpo/locations?offset=50&limit=50",
        receiver=cpo_platform,
        caller=emsp_platform,
        from_country_code="DE",
        from_party_id="EMS",
        to_country_code="NL",
        to_party_id="ABC",
        module="locations",
        gateway="emsp",
        kind=ProxiedUrlKind.PAGE,
        expires_at=timezone.now() + timedelta(minutes=10),
    )
    sync = SyncStateFactory(
        platform=cpo_platform,
        country_code="NL",
        party_id="ABC",
        module="locations",
        last_run_at=timezone.now(),
        fetched=120,
        stored=3,
        unchanged=117,
        last_error="HTTP 500 on page 2",
    )
    return {
        "location": location,
        "tariff": tariff,
        "pushdelivery": delivery,
        "proxiedurl": proxied,
        "syncstate": sync,
        "platformrole": PlatformRole.objects.get(platform=cpo_platform),
    }


NEW_MODELS = ["location", "tariff", "pushdelivery", "proxiedurl", "syncstate", "platformrole"]


class TestPagesRender:
    @pytest.mark.parametrize("model", NEW_MODELS)
    def test_changelist_and_change_page(
        self, admin_client: Client, one_of_each: dict[str, Any], model: str
    ) -> None:
        obj: Model = one_of_each[model]
        assert admin_client.get(changelist(model)).status_code == 200
        assert admin_client.get(change(model, obj.pk)).status_code == 200

    def test_location_list_shows_evses_and_owner(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        page = html(admin_client.get(changelist("location")))
        assert "NL*ABC" in page
        assert "Loc1" in page  # the id as the CPO spelled it
        assert "3 AVAILABLE, 1 CHARGING" in page
        assert "Acme CPO Platform" in page

    def test_location_change_page_shows_evses_document_and_deliveries_link(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        location: Location = one_of_each["location"]
        page = html(admin_client.get(change("location", location.pk)))
        assert "NL*ABC*E40404" in page  # the EVSE inline
        assert "&quot;time_zone&quot;: &quot;Europe/Amsterdam&quot;" in page  # pretty JSON
        assert "Deliveries of this location" in page
        assert "object_tree=NL%2FABC%2FLOC1" in page

    def test_delivery_change_page_shows_attempts_and_links(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        delivery: PushDelivery = one_of_each["pushdelivery"]
        page = html(admin_client.get(change("pushdelivery", delivery.pk)))
        assert "HTTP 503, OCPI None: unavailable" in page  # the attempt inline
        assert "req-1" in page
        assert "?correlation_id=corr-42" in page  # to the exchange log
        assert "location_id=LOC1" in page  # to the stored location
        assert 'name="_save"' not in page  # nothing to edit

    def test_tariff_list_counts_elements(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        response = admin_client.get(changelist("tariff"))
        row = response.context["cl"].result_list[0]
        assert response.context["cl"].model_admin.element_count(row) == 2
        assert "EUR" in html(response)

    def test_role_list_shows_clientinfo(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        role: PlatformRole = one_of_each["platformrole"]
        page = html(admin_client.get(changelist("platformrole")))
        assert "ClientInfo status" in page
        assert "object_tree=NL%2FABC%2FCPO" in page
        detail = html(admin_client.get(change("platformrole", role.pk)))
        assert "&quot;status&quot;: &quot;CONNECTED&quot;" in detail
        assert "&quot;last_updated&quot;" in detail


class TestLocationFilters:
    @pytest.fixture
    def locations(self, cpo_platform: Platform) -> dict[str, Location]:
        other_owner, _ = registered_party(role="CPO", country_code="BE", party_id="XYZ")
        return {
            "ams": LocationFactory(
                owner=cpo_platform,
                location_id="A1",
                city="Amsterdam",
                evses=[evse("1", "AVAILABLE")],
            ),
            "utr": LocationFactory(
                owner=cpo_platform,
                location_id="U1",
                name="Jaarbeurs",
                city="Utrecht",
                evses=[evse("2", "CHARGING")],
            ),
            "hidden": LocationFactory(
                owner=cpo_platform, location_id="H1", city="Amsterdam", publish=False
            ),
            "be": LocationFactory(
                owner=other_owner, location_id="B1", party=("BE", "XYZ"), city="Brussels"
            ),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"party": "BE*XYZ"}, {"be"}),
            ({"publish__exact": "0"}, {"hidden"}),
            ({"city": "Utrecht"}, {"utr"}),
            ({"evse_rows__status": "CHARGING"}, {"utr"}),
            ({"evse_rows__status": "AVAILABLE"}, {"ams"}),
        ],
    )
    def test_filters(
        self,
        admin_client: Client,
        locations: dict[str, Location],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {locations[name] for name in expected}
        assert set(results(admin_client, "location", query)) == wanted

    def test_owner_filter_and_top_cities(
        self, admin_client: Client, cpo_platform: Platform, locations: dict[str, Location]
    ) -> None:
        found = results(admin_client, "location", {"owner__id__exact": str(cpo_platform.pk)})
        assert set(found) == {locations["ams"], locations["utr"], locations["hidden"]}
        response = admin_client.get(changelist("location"))
        city_filter = next(f for f in response.context["cl"].filter_specs if f.title == "city")
        # Most frequent first.
        assert [value for value, _ in city_filter.lookup_choices][:1] == ["Amsterdam"]

    @pytest.mark.parametrize(
        ("term", "expected"),
        [("u1", "utr"), ("Jaarbeurs", "utr"), ("Brussels", "be"), ("NL*ABC*E2", "utr")],
    )
    def test_search(
        self,
        admin_client: Client,
        locations: dict[str, Location],
        term: str,
        expected: str,
    ) -> None:
        assert results(admin_client, "location", {"q": term}) == [locations[expected]]

    def test_search_by_party(self, admin_client: Client, locations: dict[str, Location]) -> None:
        assert results(admin_client, "location", {"q": "be*xyz"}) == [locations["be"]]


class TestDeliveriesOfAnObject:
    def test_location_link_finds_its_tree_and_nothing_else(
        self, admin_client: Client, cpo_platform: Platform, emsp_platform: Platform
    ) -> None:
        location = LocationFactory(owner=cpo_platform, location_id="LOC1")
        own = PushDeliveryFactory(receiver=emsp_platform, object_key="NL/ABC/LOC1")
        child = PushDeliveryFactory(
            receiver=emsp_platform, object_key="NL/ABC/LOC1/E1", operation="PATCH"
        )
        # a bare prefix would match this one
        PushDeliveryFactory(receiver=emsp_platform, object_key="NL/ABC/LOC10")
        PushDeliveryFactory(receiver=emsp_platform, module="tariffs", object_key="NL/ABC/LOC1")
        response = admin_client.get(change("location", location.pk))
        link = response.context["deliveries_url"]
        found = admin_client.get(link)
        assert found.status_code == 200
        assert set(found.context["cl"].result_list) == {own, child}

    def test_tariff_link(
        self, admin_client: Client, cpo_platform: Platform, emsp_platform: Platform
    ) -> None:
        tariff = TariffFactory(owner=cpo_platform, tariff_id="T1")
        wanted = PushDeliveryFactory(
            receiver=emsp_platform, module="tariffs", object_key="NL/ABC/T1"
        )
        PushDeliveryFactory(receiver=emsp_platform, module="tariffs", object_key="NL/ABC/T2")
        link = admin_client.get(change("tariff", tariff.pk)).context["deliveries_url"]
        assert list(admin_client.get(link).context["cl"].result_list) == [wanted]


class TestTariffFilters:
    def test_deleted_and_currency(self, admin_client: Client, cpo_platform: Platform) -> None:
        live = TariffFactory(owner=cpo_platform, tariff_id="T1")
        gone = TariffFactory(
            owner=cpo_platform, tariff_id="T2", currency="CHF", deleted_at=timezone.now()
        )
        assert results(admin_client, "tariff", {"deleted_at__isempty": "0"}) == [gone]
        assert results(admin_client, "tariff", {"deleted_at__isempty": "1"}) == [live]
        assert results(admin_client, "tariff", {"currency": "CHF"}) == [gone]
        assert results(admin_client, "tariff", {"q": "t1"}) == [live]


class TestDeliveryListing:
    @pytest.fixture
    def deliveries(self, emsp_platform: Platform) -> dict[str, PushDelivery]:
        other = PlatformFactory.create(name="Green Roaming")
        return {
            "pending": PushDeliveryFactory(receiver=emsp_platform),
            "failed": PushDeliveryFactory(
                receiver=emsp_platform,
                status=DeliveryStatus.FAILED,
                object_key="NL/ABC/LOC2",
                last_error="boom",
            ),
            "tariff": PushDeliveryFactory(
                receiver=other,
                module="tariffs",
                object_key="NL/ABC/T1",
                operation="DELETE",
                status=DeliveryStatus.DELIVERED,
                correlation_id="corr-tariff",
            ),
        }

    @pytest.mark.parametrize(
        ("query", "expected"),
        [
            ({"status__exact": "FAILED"}, {"failed"}),
            ({"status__exact": "DELIVERED"}, {"tariff"}),
            ({"module": "tariffs"}, {"tariff"}),
            ({"module": "locations"}, {"pending", "failed"}),
            ({"operation": "DELETE"}, {"tariff"}),
            ({"q": "NL/ABC/LOC2"}, {"failed"}),
            ({"q": "nl/abc/loc2"}, {"failed"}),
            ({"q": "corr-tariff"}, {"tariff"}),
            ({"q": "Green"}, {"tariff"}),
            ({"created_at__year": str(timezone.now().year)}, {"pending", "failed", "tariff"}),
        ],
    )
    def test_filters_and_search(
        self,
        admin_client: Client,
        deliveries: dict[str, PushDelivery],
        query: dict[str, str],
        expected: set[str],
    ) -> None:
        wanted = {deliveries[name] for name in expected}
        assert set(results(admin_client, "pushdelivery", query)) == wanted

    def test_receiver_filter(
        self, admin_client: Client, emsp_platform: Platform, deliveries: dict[str, PushDelivery]
    ) -> None:
        found = results(
            admin_client, "pushdelivery", {"receiver__id__exact": str(emsp_platform.pk)}
        )
        assert set(found) == {deliveries["pending"], deliveries["failed"]}

    def test_status_is_coloured(
        self, admin_client: Client, deliveries: dict[str, PushDelivery]
    ) -> None:
        page = html(admin_client.get(changelist("pushdelivery")))
        assert "background:#c62828" in page  # FAILED
        assert "background:#2e7d32" in page  # DELIVERED

    def test_changelist_queries_do_not_grow_with_rows(
        self, admin_client: Client, emsp_platform: Platform, django_assert_max_num_queries: Any
    ) -> None:
        for n in range(50):
            delivery = PushDeliveryFactory(
                receiver=emsp_platform,
                object_key=f"NL/ABC/LOC{n}",
                status=DeliveryStatus.FAILED,
                attempts=2,
            )
            PushAttemptFactory(delivery=delivery)
            PushAttemptFactory(delivery=delivery)
        admin_client.get(changelist("pushdelivery"))  # warm the session
        with django_assert_max_num_queries(10):
            response = admin_client.get(changelist("pushdelivery"))
        assert len(response.context["cl"].result_list) == 50

    def test_location_changelist_queries_do_not_grow_with_rows(
        self, admin_client: Client, cpo_platform: Platform, django_assert_max_num_queries: Any
    ) -> None:
        for n in range(50):
            LocationFactory(
                owner=cpo_platform,
                location_id=f"L{n}",
                evses=[evse("1", "AVAILABLE"), evse("2", "CHARGING")],
            )
        admin_client.get(changelist("location"))  # warm the session and the city choices
        with django_assert_max_num_queries(10):
            response = admin_client.get(changelist("location"))
        assert len(response.context["cl"].result_list) == 50


class TestResendAndCancel:
    def test_resend_failed_makes_it_pending_and_enqueues_after_commit(
        self,
        admin_client: Client,
        emsp_platform: Platform,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        long_ago = timezone.now() - timedelta(days=2)
        delivery = PushDeliveryFactory(
            receiver=emsp_platform,
            status=DeliveryStatus.FAILED,
            next_attempt_at=long_ago,
            last_error="HTTP 400, OCPI 2001: invalid",
        )
        before = timezone.now()
        with (
            mock.patch.object(deliver_push_task, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True) as callbacks,
        ):
            response = run_action(admin_client, "resend_action", delivery)
        assert response.status_code == 200
        assert "1 deliveries queued to send now" in html(response)
        delivery.refresh_from_db()
        assert delivery.status == DeliveryStatus.PENDING
        assert delivery.next_attempt_at >= before
        assert delivery.expires_at > before
        assert delivery.last_error == ""
        assert callbacks
        delay.assert_called_once_with(delivery.pk)
        assert LogEntry.objects.filter(object_id=str(delivery.pk)).exists()

    def test_resend_skips_delivered_and_in_flight(
        self,
        admin_client: Client,
        emsp_platform: Platform,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        delivered = PushDeliveryFactory(receiver=emsp_platform, status=DeliveryStatus.DELIVERED)
        in_flight = PushDeliveryFactory(
            receiver=emsp_platform, status=DeliveryStatus.IN_FLIGHT, object_key="NL/ABC/L2"
        )
        with (
            mock.patch.object(deliver_push_task, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = run_action(admin_client, "resend_action", delivered, in_flight)
        assert "2 skipped" in html(response)
        delivered.refresh_from_db()
        in_flight.refresh_from_db()
        assert delivered.status == DeliveryStatus.DELIVERED
        assert in_flight.status == DeliveryStatus.IN_FLIGHT
        delay.assert_not_called()

    def test_resend_folds_into_the_pending_delivery_of_the_object(
        self,
        admin_client: Client,
        emsp_platform: Platform,
        django_capture_on_commit_callbacks: Any,
    ) -> None:
        failed = PushDeliveryFactory(receiver=emsp_platform, status=DeliveryStatus.FAILED)
        pending = PushDeliveryFactory(
            receiver=emsp_platform, next_attempt_at=timezone.now() + timedelta(hours=1)
        )
        with (
            mock.patch.object(deliver_push_task, "delay") as delay,
            django_capture_on_commit_callbacks(execute=True),
        ):
            response = run_action(admin_client, "resend_action", failed)
        assert "already had a pending delivery" in html(response)
        failed.refresh_from_db()
        pending.refresh_from_db()
        assert failed.status == DeliveryStatus.FAILED
        assert pending.next_attempt_at <= timezone.now()
        delay.assert_called_once_with(pending.pk)

    def test_cancel_pending(self, admin_client: Client, emsp_platform: Platform) -> None:
        pending = PushDeliveryFactory(receiver=emsp_platform)
        response = run_action(admin_client, "cancel_action", pending)
        assert "1 deliveries cancelled" in html(response)
        pending.refresh_from_db()
        assert pending.status == DeliveryStatus.CANCELLED
        assert pending.last_error == "cancelled by staff"

    def test_cancel_leaves_delivered_alone(
        self, admin_client: Client, emsp_platform: Platform
    ) -> None:
        delivered = PushDeliveryFactory(receiver=emsp_platform, status=DeliveryStatus.DELIVERED)
        before = delivered.updated_at
        response = run_action(admin_client, "cancel_action", delivered)
        assert "1 not cancelled" in html(response)
        delivered.refresh_from_db()
        assert delivered.status == DeliveryStatus.DELIVERED
        assert delivered.updated_at == before

    def test_staff_without_change_permission_get_no_actions(
        self, client: Client, emsp_platform: Platform, django_user_model: Any
    ) -> None:
        from django.contrib.auth.models import Permission

        PushDeliveryFactory(receiver=emsp_platform)
        viewer = django_user_model.objects.create_user("viewer", password="x", is_staff=True)
        viewer.user_permissions.add(Permission.objects.get(codename="view_pushdelivery"))
        client.force_login(viewer)
        response = client.get(changelist("pushdelivery"))
        assert response.status_code == 200
        assert response.context["action_form"] is None


class TestReadOnly:
    @pytest.mark.parametrize("model", ["location", "tariff", "pushdelivery", "syncstate"])
    def test_no_add_change_or_delete(
        self, admin_client: Client, one_of_each: dict[str, Any], model: str
    ) -> None:
        obj: Model = one_of_each[model]
        assert admin_client.get(reverse(f"admin:hub_{model}_add")).status_code == 403
        assert admin_client.post(change(model, obj.pk), {"name": "Hacked"}).status_code == 403
        delete = reverse(f"admin:hub_{model}_delete", args=[obj.pk])
        assert admin_client.post(delete, {"post": "yes"}).status_code == 403
        assert type(obj)._default_manager.filter(pk=obj.pk).exists()

    def test_location_post_changes_nothing(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        location: Location = one_of_each["location"]
        admin_client.post(change("location", location.pk), {"name": "Hacked", "publish": ""})
        location.refresh_from_db()
        assert location.name == "Central Station"
        assert location.publish


class TestProxiedUrlsAndSync:
    def test_proxied_url_search_by_pasted_url(
        self, admin_client: Client, one_of_each: dict[str, Any]
    ) -> None:
        proxied: ProxiedUrl = one_of_each["proxiedurl"]
        pasted = f"http://hub.example/ocpi/2.2.1/emsp/locations/page/{proxied.pk}"
        assert results(admin_client, "proxiedurl", {"q": pasted}) == [proxied]
        assert results(admin_client, "proxiedurl", {"q": str(uuid.uuid4())}) == []
        assert results(admin_client, "proxiedurl", {"expired": "no"}) == [proxied]
        assert results(admin_client, "proxiedurl", {"expired": "yes"}) == []

    def test_sync_state_filters(self, admin_client: Client, one_of_each: dict[str, Any]) -> None:
        sync: SyncState = one_of_each["syncstate"]
        assert results(admin_client, "syncstate", {"last_error__isempty": "0"}) == [sync]
        assert results(admin_client, "syncstate", {"module": "tariffs"}) == []
        assert results(admin_client, "syncstate", {"q": "NL*ABC"}) == [sync]
        assert "120 fetched, 3 stored" in html(admin_client.get(changelist("syncstate")))


class TestClientInfoState:
    def test_role_filters_by_status_and_role(
        self, admin_client: Client, cpo_platform: Platform, emsp_platform: Platform
    ) -> None:
        emsp_platform.status = ConnectionStatus.OFFLINE
        emsp_platform.save()
        found = results(admin_client, "platformrole", {"platform__status__exact": "OFFLINE"})
        assert [str(role) for role in found] == ["DE*EMS EMSP"]
        found = results(admin_client, "platformrole", {"role__exact": "CPO"})
        assert [str(role) for role in found] == ["NL*ABC CPO"]

    def test_uninvited_party_is_not_in_the_clientinfo_list(self, admin_client: Client) -> None:
        invited = PlatformFactory.create(registered=False, status=ConnectionStatus.PLANNED)
        role = PlatformRoleFactory(platform=invited, country_code="FR", party_id="NEW")
        response = admin_client.get(changelist("platformrole"))
        assert response.context["cl"].model_admin.in_clientinfo_list(role) is False


class TestOutboundTokenNeverShown:
    def test_no_new_page_renders_a_partner_token(
        self,
        admin_client: Client,
        one_of_each: dict[str, Any],
        cpo_platform: Platform,
        emsp_platform: Platform,
    ) -> None:
        secrets = [cpo_platform.outbound_token, emsp_platform.outbound_token]
        assert all(secrets)
        pages = [changelist(model) for model in NEW_MODELS]
        pages += [change(model, one_of_each[model].pk) for model in NEW_MODELS]
        pages += [
            changelist("pushdelivery") + "?q=NL/ABC/LOC1",
            changelist("location") + f"?owner__id__exact={cpo_platform.pk}",
        ]
        for url in pages:
            response = admin_client.get(url)
            assert response.status_code == 200, url
            for secret in secrets:
                assert secret not in html(response), url
