"""OCPI module URLs of the CPO-facing gateway (one module per file under api/).

Included under `/ocpi/2.2.1/cpo/`; patterns have no trailing slash (the exchange middleware
strips one before routing).
"""

from django.urls import URLPattern, URLResolver, path

from cpo_gateway.api.cdrs import CdrReceiverObjectView, CdrReceiverView
from cpo_gateway.api.chargingprofiles import ActiveChargingProfileSenderView
from cpo_gateway.api.locations import LocationReceiverView
from cpo_gateway.api.results import ChargingProfileResultView, CommandResultView
from cpo_gateway.api.sessions import SessionReceiverView
from cpo_gateway.api.tariffs import TariffReceiverView
from cpo_gateway.api.tokens import TokenAuthorizeView, TokenSenderListView

_location = "locations/<str:country_code>/<str:party_id>/<str:location_id>"

urlpatterns: list[URLPattern | URLResolver] = [
    # The hub's response_urls for commands and charging profiles (2.2.1 mod_commands,
    # mod_charging_profiles Sender POST): CPOs post their asynchronous results here.
    path(
        "commands/<str:command>/<str:request_id>",
        CommandResultView.as_view(),
        name="cpo-commands-result",
    ),
    path(
        "chargingprofiles/results/<str:request_id>",
        ChargingProfileResultView.as_view(),
        name="cpo-chargingprofiles-result",
    ),
    path(
        "chargingprofiles/<str:session_id>",
        ActiveChargingProfileSenderView.as_view(),
        name="cpo-chargingprofiles",
    ),
    path(_location, LocationReceiverView.as_view(), name="cpo-locations"),
    path(f"{_location}/<str:evse_uid>", LocationReceiverView.as_view(), name="cpo-locations-evse"),
    path(
        f"{_location}/<str:evse_uid>/<str:connector_id>",
        LocationReceiverView.as_view(),
        name="cpo-locations-connector",
    ),
    path(
        "tariffs/<str:country_code>/<str:party_id>/<str:tariff_id>",
        TariffReceiverView.as_view(),
        name="cpo-tariffs",
    ),
    path(
        "sessions/<str:country_code>/<str:party_id>/<str:session_id>",
        SessionReceiverView.as_view(),
        name="cpo-sessions",
    ),
    path("cdrs", CdrReceiverView.as_view(), name="cpo-cdrs"),
    path(
        "cdrs/<str:country_code>/<str:party_id>/<str:cdr_id>",
        CdrReceiverObjectView.as_view(),
        name="cpo-cdr",
    ),
    path("tokens", TokenSenderListView.as_view(), name="cpo-tokens"),
    path(
        "tokens/<str:token_uid>/authorize",
        TokenAuthorizeView.as_view(),
        name="cpo-tokens-authorize",
    ),
]
