"""OCPI module URLs of the eMSP-facing gateway (one module per file under api/).

Included under `/ocpi/2.2.1/emsp/`; patterns have no trailing slash (the exchange middleware
strips one before routing).
"""

from django.urls import URLPattern, URLResolver, path

from emsp_gateway.api.locations import LocationSenderListView, LocationSenderObjectView
from emsp_gateway.api.tariffs import TariffSenderListView

urlpatterns: list[URLPattern | URLResolver] = [
    path("locations", LocationSenderListView.as_view(), name="emsp-locations"),
    path("locations/<str:location_id>", LocationSenderObjectView.as_view(), name="emsp-location"),
    path(
        "locations/<str:location_id>/<str:evse_uid>",
        LocationSenderObjectView.as_view(),
        name="emsp-location-evse",
    ),
    path(
        "locations/<str:location_id>/<str:evse_uid>/<str:connector_id>",
        LocationSenderObjectView.as_view(),
        name="emsp-location-connector",
    ),
    path("tariffs", TariffSenderListView.as_view(), name="emsp-tariffs"),
]
