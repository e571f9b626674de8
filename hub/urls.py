"""Root URLs. OCPI URLs carry version and gateway: /ocpi/2.2.1/cpo/... for what CPOs call,
/ocpi/2.2.1/emsp/... for what eMSPs call. They are published without a trailing slash; the
exchange middleware strips one (and doubled slashes) before routing."""

from django.contrib import admin
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import (
    SpectacularAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from hub.api.analytics import AnalyticsView
from hub.api.credentials import CredentialsView
from hub.api.hubclientinfo import HubClientInfoSenderListView
from hub.api.monitoring import healthz, metrics
from hub.api.proxied import ProxiedPageView
from hub.api.versions import VersionDetailsView, VersionsListView
from hub.ocpi.handlers import not_found as ocpi_not_found

urlpatterns = [
    path("ocpi/versions", VersionsListView.as_view(), name="ocpi-versions"),
    path("ocpi/2.2.1", VersionDetailsView.as_view(), name="ocpi-version-details"),
    # The hub's own endpoint for partners (not an OCPI module, so outside the version's URLs
    # and not in the version details): their figures, with their OCPI token.
    path("ocpi/hub/analytics", AnalyticsView.as_view(), name="ocpi-hub-analytics"),
    path("ocpi/2.2.1/credentials", CredentialsView.as_view(), name="ocpi-credentials"),
    path(
        "ocpi/2.2.1/hubclientinfo",
        HubClientInfoSenderListView.as_view(),
        name="ocpi-hubclientinfo",
    ),
    # Before the gateways: a proxied URL must never be read as a gateway route.
    path(
        "ocpi/2.2.1/<str:gateway>/<str:module>/page/<uuid:page_id>",
        ProxiedPageView.as_view(),
        name="ocpi-proxied-page",
    ),
    path("ocpi/2.2.1/cpo/", include("cpo_gateway.urls")),
    path("ocpi/2.2.1/emsp/", include("emsp_gateway.urls")),
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    # drf-spectacular's ReDoc page loads Google Fonts; hub/redoc.html is the same page without.
    path(
        "api/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="hub/redoc.html"),
        name="api-redoc",
    ),
    path("healthz", healthz, name="healthz"),
    path("metrics", metrics, name="metrics"),
    # Anything else under /ocpi/ still gets an envelope (even with DEBUG on). CSRF-exempt like
    # every OCPI view (token auth, no cookies): otherwise a PUT/POST/PATCH/DELETE to an unknown
    # OCPI URL, e.g. one whose `..%2F..` a server decoded, got Django's HTML 403 (CSRF), not 404.
    re_path(r"^ocpi/", csrf_exempt(ocpi_not_found), name="ocpi-not-found"),
]

handler400 = "hub.ocpi.handlers.bad_request"
handler404 = "hub.ocpi.handlers.not_found"
handler500 = "hub.ocpi.handlers.server_error"
