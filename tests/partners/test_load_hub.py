"""The load partner registers with the live hub through the real handshake, both ways, and
then counts what the hub's own outbound client sends it (as the outbox's worker would)."""

from typing import Any

import pytest
from django.core.management import call_command

from hub.models import Platform
from hub.ocpi.client import OcpiClient
from hub.services.registry.credentials import hub_versions_url, platform_invite
from partners.load import LoadPartner

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_partner_initiated_registration_with_the_hub(hub_url: str) -> None:
    with LoadPartner("EMSP", "DE", "LEM", latency_s=0.01) as emsp:
        # given: staff invited the partner
        platform, token_a = platform_invite(name="Load eMSP")
        # when: it registers with Token A
        data = emsp.register_with(hub_versions_url(), token_a)
        # then: the hub answered its credentials and stored the partner's token and endpoints
        assert data["url"] == f"{hub_url}/ocpi/versions"
        platform.refresh_from_db()
        assert platform.registered and platform.status == "CONNECTED"
        assert platform.outbound_token == emsp.own_token
        assert [str(r) for r in platform.roles.all()] == ["DE*LEM EMSP"]
        assert platform.endpoints.filter(identifier="locations", role="RECEIVER").exists()
        # and the hub's client, with the token it holds, is answered and counted
        url = platform.endpoints.get(identifier="locations", role="RECEIVER").url
        result = OcpiClient.for_platform(platform).request(
            "PATCH", f"{url}/NL/CP1/LOC1/EVSE1", json={"status": "CHARGING"}, module="locations"
        )
        assert result.ok and result.ocpi_status == 1000
        assert emsp.count("locations", "PATCH") == 1


def test_hub_initiated_registration(hub_url: str, capsys: Any) -> None:
    with LoadPartner("CPO", "NL", "LCP") as cpo:
        call_command(
            "ocpi_connect", versions_url=cpo.versions_url, token_a=cpo.token_a, name="Load CPO"
        )
        assert "Registered Load CPO" in capsys.readouterr().out
        platform = Platform.objects.get(name="Load CPO")
        assert platform.registered and platform.status == "CONNECTED"
        assert platform.outbound_token == cpo.own_token
        assert cpo.registered and cpo.hub_token
        assert platform.endpoints.filter(identifier="tokens", role="RECEIVER").exists()
