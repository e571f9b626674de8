"""The hub's admin site: its name in the header, and the models grouped by concern on the
index and in the navigation sidebar, instead of one alphabetical "OCPI hub" list."""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse

from hub.admin.dashboard import dashboard_context

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
    ("Agreements & settlement", ("roamingagreement", "feeterm", "settlementstatement")),
    ("Delivery", ("pushdelivery", "proxiedurl", "syncstate")),
    ("Exchange log", ("ocpiexchange",)),
    ("Analytics", ("evsestatuschange", "authorizationrecord")),
)
HUB_APP_LABEL = "hub"


@dataclass(frozen=True)
class SiteView:
    """A staff page that is not a model's (e.g. the analytics page): its URL below the admin,
    its URL name (`admin:<name>`), its title and group on the index, and the permission
    (`app_label.codename`) a user needs to see and open it."""

    route: str
    view: Callable[[HttpRequest], HttpResponse]
    name: str
    title: str
    group: str
    permission: str


class HubAdminSite(admin.AdminSite):
    site_header = "OCPI hub"
    site_title = "OCPI hub admin"
    index_title = "Hub operations"
    # The operations dashboard above the grouped model list (hub.admin.dashboard).
    index_template = "admin/hub/index.html"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)
        self._views: list[SiteView] = []

    def register_view(self, view: SiteView) -> None:
        """Add a staff page to the site (its module calls this at import, as `@admin.register`
        does for a ModelAdmin; `hub.admin` imports every module before URLs are built)."""
        self._views.append(view)

    def get_urls(self) -> list[URLPattern]:  # type: ignore[override]
        custom = [
            path(view.route, self.admin_view(view.view), name=view.name) for view in self._views
        ]
        return custom + super().get_urls()  # type: ignore[operator]

    def get_app_list(
        self, request: HttpRequest, app_label: str | None = None
    ) -> list[dict[str, Any]]:
        """Django's app list with the hub app split into the concern groups, first (staff
        users and groups, and the other apps, follow as Django lists them)."""
        apps = super().get_app_list(request, app_label)
        hub = [
            group for app in apps if app["app_label"] == HUB_APP_LABEL for group in _hub_groups(app)
        ]
        if app_label in (None, HUB_APP_LABEL):
            hub = self._with_views(request, hub)
        return hub + [app for app in apps if app["app_label"] != HUB_APP_LABEL]

    def _with_views(
        self, request: HttpRequest, groups: list[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """The staff pages the user may open, first in their group (a group only pages fill
        is added, in GROUPS order)."""
        by_name = {group["name"]: group for group in groups}
        for view in self._views:
            if not request.user.has_perm(view.permission):
                continue
            entry = {
                "name": view.title,
                "object_name": view.name.replace("-", "_"),
                "admin_url": reverse(f"{self.name}:{view.name}"),
                "add_url": None,
                "view_only": True,
                "perms": {"view": True},
            }
            group = by_name.get(view.group)
            if group is None:
                group = {
                    "name": view.group,
                    "app_label": HUB_APP_LABEL,
                    "app_url": reverse(f"{self.name}:app_list", args=[HUB_APP_LABEL]),
                    "has_module_perms": True,
                    "models": [],
                }
                by_name[view.group] = group
                groups.append(group)
            group["models"] = [entry, *group["models"]]
        order = {name: index for index, (name, _) in enumerate(GROUPS)}
        return sorted(groups, key=lambda g: order.get(g["name"], len(order)))

    def index(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> TemplateResponse:
        context = {**dashboard_context(request), **(extra_context or {})}
        return super().index(request, context)

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
