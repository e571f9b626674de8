"""OCPI module URLs of the eMSP-facing gateway (one module per file under api/).

Included under `/ocpi/2.2.1/emsp/`; patterns have no trailing slash (the exchange middleware
strips one before routing).
"""

from django.urls import URLPattern, URLResolver, path

from emsp_gateway.api.cdrs import CdrSenderListView
from emsp_gateway.api.chargingprofiles import ChargingProfileReceiverView
from emsp_gateway.api.commands import CommandReceiverView
from emsp_gateway.api.locations import LocationSenderListView, LocationSenderObjectView
from emsp_gateway.api.sessions import ChargingPreferencesView, SessionSenderListView
from emsp_gateway.api.tariffs import TariffSenderListView
from emsp_gateway.api.tokens import TokenReceiverView

urlpatterns: list[URLPattern | URLResolver] = [
    path("commands/<str:command>", CommandReceiverView.as_view(), name="emsp-commands"),
    path(
        "chargingprofiles/<str:session_id>",
        ChargingProfileReceiverView.as_view(),
        name="emsp-chargingprofiles",
    ),
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
    path("cdrs", CdrSenderListView.as_view(), name="emsp-cdrs"),
    path("sessions", SessionSenderListView.as_view(), name="emsp-sessions"),
    path(
        "sessions/<str:session_id>/charging_preferences",
        ChargingPreferencesView.as_view(),
        name="emsp-sessions-charging-preferences",
    ),
    path(
        "tokens/<str:country_code>/<str:party_id>/<str:token_uid>",
        TokenReceiverView.as_view(),
        name="emsp-tokens",
    ),
]
