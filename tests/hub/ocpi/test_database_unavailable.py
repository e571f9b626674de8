"""A database outage is answered with a retryable OCPI error, never a success (issue 6 faults)."""

from typing import Any

import pytest
from django.db import OperationalError

from hub.models import Location
from tests.conftest import OcpiTestClient
from tests.factories import registered_party
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db

LOC = "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"


def test_write_during_a_database_outage_is_503_with_3000_and_retry_after(
    ocpi_client: OcpiTestClient, monkeypatch: Any
) -> None:
    _, token = registered_party("CPO", "NL", "CP1")

    def connection_lost(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("cpo_gateway.api.locations.location_write", connection_lost)

    response = ocpi_client.put(LOC, json=location(), token=token)

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    body = response.json()
    assert body["status_code"] == 3000
    assert "nothing was stored" in body["status_message"]
    # The driver's message stays in the log, not in the partner's answer.
    assert "server closed" not in body["status_message"]
    assert not Location.objects.exists()
