"""The hub's admin site: its name in the header, and the models grouped by concern on the
index and in the navigation sidebar, instead of one alphabetical "OCPI hub" list."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.template.response import TemplateResponse

# Each concern and the hub models it shows, in order (model names as `_meta.model_name`).
# A hub model named nowhere here is listed under "Other" (so a new admin is never hidden).
GROUPS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Partners",
        (
            "platform",
            "platformrole",
            "platformendpoint",
            "partyclaim",
            "partyauditentry",
            "staffexport",
        ),
    ),
    ("Locations & tariffs", ("location", "tariff")),
    ("Tokens & sessions", ("token", "tokenowner", "session", "asyncrequest")),
    ("CDRs & reconciliation", ("cdr", "reconciliationreport", "reconciliationfinding")),
    ("Roaming agreements", ("roamingagreement",)),
    ("Delivery", ("pushdelivery", "proxiedurl", "syncstate")),
    ("Exchange log", ("ocpiexchange",)),
)
HUB_APP_LABEL = "hub"


class HubAdminSite(admin.AdminSite):
    site_header = "OCPI hub"
    site_title = "OCPI hub admin"
    index_title = "Hub operations"

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Django's app list with the hub app split into the concern groups, first (staff
        users and groups, and the other apps, follow as Django lists them)."""
        apps = super().get_app_list(request, app_label)
        hub = [
            group for app in apps if app["app_label"] == HUB_APP_LABEL for group in _hub_groups(app)
        ]
        return hub + [app for app in apps if app["app_label"] != HUB_APP_LABEL]

    def app_index(
        self, request: HttpRequest, app_label: str, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        # Django titles the page after the first app listed, which is a group for the hub.
        if app_label == HUB_APP_LABEL:
            extra_context = {"title": "OCPI hub administration", **(extra_context or {})}
        return super().app_index(request, app_label, extra_context)


def _hub_groups(app: dict[str, Any]) -> list[dict[str, Any]]:
    """The hub app's entry split into one entry per group (same app label and URL), each with
    the models the user may see; empty groups are left out."""
    by_name = {model["model"]._meta.model_name: model for model in app["models"]}
    groups = [(name, [by_name[m] for m in names if m in by_name]) for name, names in GROUPS]
    named = {model_name for _, names in GROUPS for model_name in names}
    groups.append(("Other", [model for key, model in by_name.items() if key not in named]))
    return [{**app, "name": name, "models": models} for name, models in groups if models]


# One instance: `hub.apps.HubAdminConfig.default_site` names `get_site`, so `admin.site` and
# every `@admin.register` are this site, however often the lazy default site is resolved.
site = HubAdminSite()


def get_site() -> HubAdminSite:
    return site
