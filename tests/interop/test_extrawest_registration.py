"""Hub-initiated registration against extrawest-ocpi, an independent OCPI 2.2.1 implementation,
run as a CPO in its own virtualenv and process."""

import base64
from typing import Any

import pytest
from django.core.management import call_command

from hub.models import Platform
from tests.interop.extrawest_partner import ExtrawestPartner

pytestmark = [pytest.mark.interop, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def extrawest_cpo(extrawest_python: str) -> Any:
    with ExtrawestPartner(role="CPO", country_code="NL", party_id="EXW") as partner:
        yield partner


def test_ocpi_connect_registers_with_an_extrawest_cpo(
    hub_url: str, extrawest_cpo: ExtrawestPartner, capsys: Any
) -> None:
    # when: staff connect the hub with the Token A the extrawest CPO issued
    call_command(
        "ocpi_connect",
        versions_url=extrawest_cpo.versions_url,
        token_a=extrawest_cpo.token_a,
        name="Extrawest CPO",
    )
    # then: the hub stored the CPO's role (ids upper-cased: CiString), endpoints and token C
    assert "Registered Extrawest CPO" in capsys.readouterr().out
    platform = Platform.objects.get(name="Extrawest CPO")
    assert platform.registered and platform.status == "CONNECTED"
    assert [str(role) for role in platform.roles.all()] == ["NL*EXW CPO"]
    assert platform.endpoints.filter(identifier="locations", role="SENDER").exists()
    state = extrawest_cpo.state()
    issued_to_hub = set(state["issued_tokens"])
    assert platform.outbound_token in issued_to_hub
    # the library called the hub back with token B (base64, as 2.2.1 says) during the POST
    callbacks = [c for c in state["outbound"] if c["url"].startswith(f"{hub_url}/ocpi/")]
    assert callbacks
    token_b = base64.b64decode(callbacks[0]["headers"]["authorization"].split(" ", 1)[1]).decode()
    # and with the token it holds the partner reads the hub's version details
    details = extrawest_cpo.call("GET", f"{hub_url}/ocpi/2.2.1")
    assert details["status_code"] == 200
    assert details["json"]["status_code"] == 1000
    assert state["outbound_token"] == token_b
    # and the hub calls the partner with token C: the partner's credentials answer
    from hub.ocpi.client import OcpiClient

    credentials_url = platform.endpoints.get(identifier="credentials").url
    result = OcpiClient.for_platform(platform).get(credentials_url)
    assert result.ok
    # Token A is refused by the partner afterwards
    refused = extrawest_cpo.call("GET", extrawest_cpo.versions_url, token=extrawest_cpo.token_a)
    assert refused["status_code"] in (401, 403)
