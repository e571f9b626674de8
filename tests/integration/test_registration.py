"""Registration both ways against a real simulated partner on 127.0.0.1 and the live hub."""

from typing import Any

import pytest
from django.core.management import CommandError, call_command

from hub.models import Platform, PlatformToken
from hub.services.registry.credentials import (
    credentials_rotate,
    hub_versions_url,
    platform_invite,
    platform_unregister,
)
from partners.ocpi import OcpiCallError
from partners.simulated import SimulatedPartner

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

CPO_ROLE = {
    "role": "CPO",
    "country_code": "NL",
    "party_id": "SIM",
    "business_details": {"name": "Sim"},
}


def auth_token_of(request: Any) -> str:
    """The token a recorded request carried (base64 or raw)."""
    import base64

    value = request.headers["Authorization"].split(" ", 1)[1]
    try:
        return base64.b64decode(value, validate=True).decode()
    except ValueError:
        return value


@pytest.fixture
def partner() -> Any:
    with SimulatedPartner(roles=[CPO_ROLE]) as running:
        yield running


def test_partner_initiated_handshake_end_to_end(hub_url: str, partner: SimulatedPartner) -> None:
    # given: staff invited the partner
    platform, token_a = platform_invite(name="Sim CPO")
    # when: the partner registers with Token A
    data = partner.register_with(hub_versions_url(), token_a)
    # then: the hub answered with its credentials, listing only its HUB role
    assert data["url"] == f"{hub_url}/ocpi/versions"
    assert [(r["role"], r["country_code"], r["party_id"]) for r in data["roles"]] == [
        ("HUB", "NL", "HUB")
    ]
    # and before answering it read the partner's versions and details with token B
    callbacks = partner.requests_to("/ocpi/")
    assert {r.path for r in callbacks} >= {"/ocpi/versions", "/ocpi/2.2.1"}
    assert {auth_token_of(r) for r in callbacks} == {partner.own_token}
    # and stored the partner's roles, endpoints and token
    platform.refresh_from_db()
    assert platform.registered and platform.status == "CONNECTED"
    assert platform.outbound_token == partner.own_token
    assert [str(r) for r in platform.roles.all()] == ["NL*SIM CPO"]
    assert platform.endpoints.filter(identifier="credentials").exists()
    assert platform.endpoints.filter(identifier="locations", role="SENDER").exists()
    # and the partner reads the hub's version details with its new token C
    details = partner.request("GET", f"{hub_url}/ocpi/2.2.1")
    assert details.status_code == 200
    assert details.json()["status_code"] == 1000
    # and Token A is refused afterwards
    assert partner.request("GET", hub_versions_url(), token=token_a).status_code == 401


def test_hub_initiated_handshake_end_to_end(
    hub_url: str, partner: SimulatedPartner, capsys: Any
) -> None:
    # when: staff run ocpi_connect with the partner's Token A
    call_command(
        "ocpi_connect", versions_url=partner.versions_url, token_a=partner.token_a, name="Sim"
    )
    # then: the command reports the registration
    out = capsys.readouterr().out
    assert "Registered Sim" in out and "NL*SIM CPO" in out
    platform = Platform.objects.get(name="Sim")
    assert platform.registered and platform.status == "CONNECTED"
    assert platform.initiated_by == "HUB"
    # the hub holds the partner's token C, the partner holds the hub's token B
    assert platform.outbound_token == partner.own_token
    assert partner.registered and partner.hub_token
    # the partner called the hub back with token B during the POST
    assert partner.hub_versions_url == f"{hub_url}/ocpi/versions"
    # the partner reads the hub's version details with the token it holds
    details = partner.request("GET", f"{hub_url}/ocpi/2.2.1")
    assert details.json()["status_code"] == 1000
    # only the access token remains at the hub, stored as a digest
    assert list(
        PlatformToken.objects.filter(platform=platform).values_list("scope", flat=True)
    ) == ["ACCESS"]


def test_partner_rotates_with_put_old_token_dies(hub_url: str, partner: SimulatedPartner) -> None:
    platform, token_a = platform_invite(name="Sim CPO")
    partner.register_with(hub_versions_url(), token_a)
    old_hub_token = partner.hub_token
    partner.clear_received()
    # when
    data = partner.update_credentials()
    # then: a new token, endpoints re-fetched with the partner's new token
    assert data["token"] != old_hub_token
    assert {auth_token_of(r) for r in partner.requests_to("/ocpi/")} == {partner.own_token}
    platform.refresh_from_db()
    assert platform.outbound_token == partner.own_token
    assert partner.request("GET", hub_versions_url(), token=old_hub_token).status_code == 401
    assert partner.request("GET", hub_versions_url()).status_code == 200


def test_hub_rotates_credentials_with_put(hub_url: str, partner: SimulatedPartner) -> None:
    call_command(
        "ocpi_connect", versions_url=partner.versions_url, token_a=partner.token_a, name="Sim"
    )
    platform = Platform.objects.get(name="Sim")
    old_partner_token, old_hub_token = partner.own_token, partner.hub_token
    # when
    credentials_rotate(platform=platform)
    # then
    platform.refresh_from_db()
    assert partner.own_token != old_partner_token
    assert platform.outbound_token == partner.own_token
    assert partner.hub_token != old_hub_token
    assert partner.request("GET", hub_versions_url(), token=old_hub_token).status_code == 401
    assert partner.request("GET", hub_versions_url()).status_code == 200


def test_partner_unregisters_with_delete(hub_url: str, partner: SimulatedPartner) -> None:
    platform, token_a = platform_invite(name="Sim CPO")
    partner.register_with(hub_versions_url(), token_a)
    hub_token = partner.hub_token
    partner.unregister()
    platform.refresh_from_db()
    assert not platform.registered and platform.status == "SUSPENDED"
    assert platform.outbound_token == ""
    assert partner.request("GET", hub_versions_url(), token=hub_token).status_code == 401


def test_hub_unregisters_with_delete(hub_url: str, partner: SimulatedPartner) -> None:
    call_command(
        "ocpi_connect", versions_url=partner.versions_url, token_a=partner.token_a, name="Sim"
    )
    platform = Platform.objects.get(name="Sim")
    hub_token = partner.hub_token
    assert platform_unregister(platform=platform) is None
    assert partner.requests_to("/ocpi/2.2.1/credentials", method="DELETE")
    assert not partner.registered
    assert partner.request("GET", hub_versions_url(), token=hub_token).status_code == 401


def test_partner_initiated_unreachable_versions_3001_nothing_stored(
    hub_url: str, partner: SimulatedPartner
) -> None:
    platform, token_a = platform_invite(name="Sim CPO")
    partner.fail_versions = True
    with pytest.raises(OcpiCallError) as raised:
        partner.register_with(hub_versions_url(), token_a)
    assert raised.value.status_code == 3001
    platform.refresh_from_db()
    assert not platform.registered and not platform.roles.exists()
    # Token A still works for a second try
    assert partner.request("GET", hub_versions_url(), token=token_a).status_code == 200


def test_partner_initiated_missing_credentials_endpoint_3003(hub_url: str) -> None:
    modules = [("locations", "SENDER")]
    with SimulatedPartner(roles=[CPO_ROLE], modules=modules) as partner:
        platform, token_a = platform_invite(name="Sim CPO")
        with pytest.raises(OcpiCallError) as raised:
            partner.register_with(hub_versions_url(), token_a)
    assert raised.value.status_code == 3003
    assert "credentials" in raised.value.envelope["status_message"]
    platform.refresh_from_db()
    assert not platform.registered


def test_partner_initiated_without_2_2_1_3002(hub_url: str) -> None:
    with SimulatedPartner(roles=[CPO_ROLE], versions=["2.2.1"]) as partner:
        platform, token_a = platform_invite(name="Sim CPO")
        partner.versions = ["2.1.1"]  # offers only 2.1.1 when the hub calls back
        with pytest.raises(OcpiCallError) as raised:
            partner.register_with(hub_versions_url(), token_a)
    assert raised.value.status_code == 3002
    platform.refresh_from_db()
    assert not platform.registered


def test_partner_initiated_raw_token_partner_gets_raw_tokens(hub_url: str) -> None:
    with SimulatedPartner(roles=[CPO_ROLE], token_encoding="raw") as partner:
        platform, token_a = platform_invite(name="Raw CPO")
        partner.register_with(hub_versions_url(), token_a)
        platform.refresh_from_db()
        assert platform.token_encoding == "RAW"
        callback = partner.requests_to("/ocpi/versions")[-1]
        assert callback.headers["Authorization"] == f"Token {partner.own_token}"


def test_hub_initiated_unreachable_partner_nothing_stored() -> None:
    with pytest.raises(CommandError, match="OCPI 3001"):
        call_command("ocpi_connect", versions_url="http://127.0.0.1:9/ocpi/versions", token_a="abc")
    assert not Platform.objects.exists()


def test_hub_initiated_wrong_token_a_refused_nothing_stored(partner: SimulatedPartner) -> None:
    with pytest.raises(CommandError, match="Registration failed"):
        call_command("ocpi_connect", versions_url=partner.versions_url, token_a="wrong-token")
    assert not Platform.objects.exists()
    assert not PlatformToken.objects.exists()


def test_hub_initiated_partner_refuses_post_nothing_stored(
    hub_url: str, partner: SimulatedPartner
) -> None:
    partner.set_behaviour("/ocpi/2.2.1/credentials", status=500)
    with pytest.raises(CommandError, match="HTTP 500"):
        call_command("ocpi_connect", versions_url=partner.versions_url, token_a=partner.token_a)
    assert not Platform.objects.exists()
    assert not PlatformToken.objects.exists()


def test_hub_initiated_partner_without_credentials_endpoint(hub_url: str) -> None:
    with (
        SimulatedPartner(roles=[CPO_ROLE], modules=[("locations", "SENDER")]) as partner,
        pytest.raises(CommandError, match="3003"),
    ):
        call_command("ocpi_connect", versions_url=partner.versions_url, token_a=partner.token_a)
    assert not Platform.objects.exists()


def test_ocpi_invite_prints_token_and_versions_url(hub_url: str, capsys: Any) -> None:
    import json

    call_command("ocpi_invite", name="Partner X", json=True)
    printed = json.loads(capsys.readouterr().out)
    assert printed["versions_url"] == f"{hub_url}/ocpi/versions"
    with SimulatedPartner(roles=[CPO_ROLE]) as partner:
        response = partner.request("GET", printed["versions_url"], token=printed["token_a"])
        assert response.status_code == 200
