"""The admin site: named after the hub, its models grouped by concern, roles labelled as the
spec spells them, and a platform printed without a query."""

from typing import Any

import pytest
from django.contrib import admin
from django.test import Client
from django.urls import reverse

from hub.admin.site import GROUPS, HubAdminSite
from hub.models import Platform
from tests.factories import PlatformFactory, PlatformRoleFactory
from tests.hub.admin_pages import changelist, html

pytestmark = pytest.mark.django_db

CONCERNS = [
    "Partners",
    "Locations & tariffs",
    "Tokens & sessions",
    "CDRs & reconciliation",
    "Roaming agreements",
    "Delivery",
    "Exchange log",
]


def test_the_default_site_is_the_hubs() -> None:
    assert isinstance(admin.site, HubAdminSite)


def test_index_groups_the_models_by_concern_in_order(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:index"))
    assert response.status_code == 200
    names = [app["name"] for app in response.context["app_list"]]
    assert names[: len(CONCERNS)] == CONCERNS
    assert "Other" not in names  # every hub admin belongs to a concern
    page = html(response)
    positions = [page.index(f">{name.replace('&', '&amp;')}<") for name in CONCERNS]
    assert positions == sorted(positions)
    delivery = next(app for app in response.context["app_list"] if app["name"] == "Delivery")
    assert [model["object_name"] for model in delivery["models"]] == [
        "PushDelivery",
        "ProxiedUrl",
        "SyncState",
    ]


def test_every_registered_hub_model_is_in_a_group() -> None:
    registered = {
        model._meta.model_name for model in admin.site._registry if model._meta.app_label == "hub"
    }
    grouped = {name for _, names in GROUPS for name in names}
    assert registered == grouped


def test_the_header_names_the_hub(admin_client: Client) -> None:
    page = html(admin_client.get(reverse("admin:index")))
    assert "OCPI hub" in page
    assert "Django administration" not in page


def test_the_hub_app_page_lists_the_groups(admin_client: Client) -> None:
    response = admin_client.get(reverse("admin:app_list", kwargs={"app_label": "hub"}))
    assert response.status_code == 200
    assert [app["name"] for app in response.context["app_list"]] == CONCERNS
    assert response.context["title"] == "OCPI hub administration"


def _filter_labels(response: Any, title: str) -> list[str]:
    spec = next(spec for spec in response.context["cl"].filter_specs if spec.title == title)
    return [str(choice["display"]) for choice in spec.choices(response.context["cl"])]


def test_role_filter_reads_as_the_spec_spells_the_roles(admin_client: Client) -> None:
    PlatformRoleFactory(role="EMSP", country_code="NL", party_id="ABC")
    response = admin_client.get(changelist("platformrole"))
    labels = _filter_labels(response, "role")
    assert labels == ["All", "CPO", "eMSP", "HUB", "NAP", "NSP", "Other", "SCSP"]
    assert ">eMSP<" in html(response)


def test_platform_str_runs_no_query(django_assert_num_queries: Any) -> None:
    created = PlatformFactory.create(name="Acme Roaming")
    PlatformRoleFactory(platform=created, role="CPO", country_code="NL", party_id="ABC")
    platform = Platform.objects.get(pk=created.pk)
    with django_assert_num_queries(0):
        assert str(platform) == "Acme Roaming"
