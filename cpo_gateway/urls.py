"""OCPI module URLs of the CPO-facing gateway (one module per file under api/).

Included under `/ocpi/2.2.1/cpo/`; patterns have no trailing slash (the exchange middleware
strips one before routing).
"""

from django.urls import URLPattern, URLResolver, path

from cpo_gateway.api.locations import LocationReceiverView
from cpo_gateway.api.tariffs import TariffReceiverView

_location = "locations/<str:country_code>/<str:party_id>/<str:location_id>"

urlpatterns: list[URLPattern | URLResolver] = [
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
]
