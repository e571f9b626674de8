"""OCPI URL forms the exchange middleware maps onto the hub's routes."""

import pytest

from hub.models import Location
from hub.ocpi.middleware import normalize_ocpi_path
from tests.conftest import OcpiTestClient
from tests.factories import registered_party
from tests.integration.test_location_broadcast import location


@pytest.mark.parametrize(
    ("glued", "routed"),
    [
        ("/ocpi/2.2.1/cpo/locationsNL/CP1/LOC1", "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"),
        ("/ocpi/2.2.1/emsp/tokensDE/MS1/TOK1", "/ocpi/2.2.1/emsp/tokens/DE/MS1/TOK1"),
        ("/ocpi/2.2.1/cpo/tokensTOK1/authorize/", "/ocpi/2.2.1/cpo/tokens/TOK1/authorize"),
        ("/ocpi/2.2.1/cpo/locations", "/ocpi/2.2.1/cpo/locations"),
        ("/ocpi/2.2.1/cpo/locations/page/x", "/ocpi/2.2.1/cpo/locations/page/x"),
        ("/ocpi/2.2.1/credentialsX", "/ocpi/2.2.1/credentialsX"),
    ],
)
def test_an_id_glued_to_the_module_url_is_routed_below_it(glued: str, routed: str) -> None:
    # `{endpoint_url}{id}` joined onto the hub's slash-less URL (extrawest-ocpi's push)
    assert normalize_ocpi_path(glued) == routed


@pytest.mark.django_db
def test_a_location_put_glued_to_the_endpoint_url_is_stored(ocpi_client: OcpiTestClient) -> None:
    _, token = registered_party("CPO", "NL", "CP1")
    response = ocpi_client.put("/ocpi/2.2.1/cpo/locationsNL/CP1/LOC1", json=location(), token=token)
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    assert Location.objects.get().location_id == "LOC1"
