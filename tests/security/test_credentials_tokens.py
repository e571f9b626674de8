"""Which credentials tokens open what (2.2.1 credentials.asciidoc; DESIGN §2): Token A only
versions and credentials, and dead once the exchange completed; a rotated token dead after a
credentials PUT by either side; an unregistered or suspended platform refused with 401; an
OFFLINE platform let in (its call proves it is alive)."""

from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from hub.models import ConnectionStatus, Platform
from hub.services.registry.credentials import (
    credentials_rotate,
    hub_versions_url,
    platform_invite,
    platform_suspend,
    platform_unregister,
)
from hub.services.registry.status import platform_set_status
from partners.simulated import SimulatedPartner
from tests.conftest import OcpiTestClient
from tests.integration.hubnet import connect, role
from tests.security.conftest import World, assert_refused, location_of, snapshot

V = "/ocpi/2.2.1"
# Calls a registered CPO may make: configuration modules and functional ones.
CONFIG = [("GET", "/ocpi/versions"), ("GET", V), ("GET", f"{V}/credentials")]
FUNCTIONAL = [
    ("GET", f"{V}/hubclientinfo"),
    ("GET", f"{V}/cpo/tokens"),
    ("PUT", f"{V}/cpo/locations/NL/SIM/LOC1"),
    ("GET", f"{V}/emsp/locations"),
    ("POST", f"{V}/emsp/commands/START_SESSION"),
]
SIM_CPO = role("CPO", "NL", "SIM")


def body_for(path: str) -> Any:
    return {**location_of("SIM"), "party_id": "SIM"} if "/locations/" in path else None


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), FUNCTIONAL)
def test_token_a_on_a_functional_module_is_401(
    ocpi_client: OcpiTestClient, method: str, path: str
) -> None:
    # given: an invited platform holding Token A
    _, token_a = platform_invite(name="Invited")
    # when
    response = ocpi_client.request(method, path, json=body_for(path), token=token_a)
    # then
    assert_refused(response, 401, 2000, "only for the versions and credentials modules")


@pytest.mark.django_db
def test_token_a_opens_versions_and_credentials(ocpi_client: OcpiTestClient) -> None:
    _, token_a = platform_invite(name="Invited")
    for method, path in CONFIG:
        response = ocpi_client.request(method, path, token=token_a)
        assert (response.status_code, response.json()["status_code"]) == (200, 1000), path


@pytest.fixture
def sim(hub_url: str) -> Iterator[SimulatedPartner]:
    with SimulatedPartner(roles=[SIM_CPO]) as partner:
        yield partner


def assert_dead(partner: SimulatedPartner, token: str) -> None:
    """`token` opens nothing at the hub: every configuration and functional call is 401."""
    base = partner.hub_versions_url or hub_versions_url()
    root = base.removesuffix("/ocpi/versions")
    for method, path in CONFIG + FUNCTIONAL:
        response = partner.request(method, root + path, token=token, json=body_for(path))
        assert response.status_code == 401, (path, response.text)
        assert response.json()["status_code"] == 2000
        assert token not in response.text


class TestRegistrationTokens:
    """Live hub and a simulated partner on 127.0.0.1, both registration directions."""

    pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

    def test_token_a_is_dead_everywhere_after_registration(self, sim: SimulatedPartner) -> None:
        # given: a partner registered with Token A
        _, token_a = platform_invite(name="Sim")
        sim.register_with(hub_versions_url(), token_a)
        # then: Token A opens nothing, the new token everything it may
        assert_dead(sim, token_a)
        assert sim.request("GET", hub_versions_url()).status_code == 200

    def test_partner_put_kills_the_old_token(self, sim: SimulatedPartner) -> None:
        # given: a registered partner rotates with PUT credentials
        connect(sim, "Sim")
        old_c, old_b = sim.hub_token, sim.own_token
        assert old_c and old_b
        sim.update_credentials()
        # then: the token the hub issued before (C) is dead; the partner's own old token (B)
        # never opened the hub; the new C does
        assert_dead(sim, old_c)
        assert_dead(sim, old_b)
        assert sim.request("GET", hub_versions_url()).status_code == 200

    def test_hub_rotation_kills_the_old_token(self, sim: SimulatedPartner) -> None:
        # given: the hub registered with the partner, then rotates (PUT to the partner)
        call_command("ocpi_connect", versions_url=sim.versions_url, token_a=sim.token_a, name="Sim")
        platform = Platform.objects.get(name="Sim")
        old = sim.hub_token
        assert old
        credentials_rotate(platform=platform)
        # then: the token the partner held before is dead, the new one works
        assert sim.hub_token != old
        assert_dead(sim, old)
        assert sim.request("GET", hub_versions_url()).status_code == 200

    def test_partner_delete_kills_its_token(self, sim: SimulatedPartner) -> None:
        connect(sim, "Sim")
        token = sim.hub_token
        assert token
        sim.unregister()
        assert_dead(sim, token)

    def test_hub_unregister_kills_the_partners_token(self, sim: SimulatedPartner) -> None:
        platform = connect(sim, "Sim")
        token = sim.hub_token
        assert token
        assert platform_unregister(platform=platform) is None
        assert_dead(sim, token)


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "path"), CONFIG + [("GET", f"{V}/emsp/locations")])
def test_suspended_platform_is_401(world: World, method: str, path: str) -> None:
    # given: staff suspended MS1 (it stays registered)
    platform_suspend(platform=world.ms1.platform)
    before = snapshot()
    # when
    response = world.call(world.ms1, method, path)
    # then: refused, and the call did not bring it back
    assert_refused(response, 401, 2000, "suspended")
    assert snapshot() == before


@pytest.mark.django_db
def test_offline_platform_is_let_in_and_marked_connected(world: World) -> None:
    # given: the still-alive check marked MS1 OFFLINE
    platform_set_status(platform=world.ms1.platform, status=ConnectionStatus.OFFLINE)
    # when
    response = world.call(world.ms1, "GET", f"{V}/emsp/locations")
    # then
    assert (response.status_code, response.json()["status_code"]) == (200, 1000)
    world.ms1.platform.refresh_from_db()
    assert world.ms1.platform.status == ConnectionStatus.CONNECTED


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("claimed", "words"),
    [
        (("CPO", "NL", "CP1"), "NL*CP1 CPO is registered to another platform"),
        (("EMSP", "DE", "MS2"), "DE*MS2 EMSP is registered to another platform"),
        (("EMSP", "NL", "HUB"), "NL*HUB is the hub's own party"),
    ],
    ids=["cpo-of-another-platform", "emsp-of-another-platform", "the-hub"],
)
def test_credentials_claiming_another_platforms_party_are_refused(
    world: World, claimed: tuple[str, str, str], words: str
) -> None:
    # given: a newly invited platform (POST) and a registered eMSP (PUT)
    _, token_a = platform_invite(name="Newcomer")
    before = snapshot()
    body = {
        "token": "partner-token",
        "url": "https://partner.example.com/ocpi/versions",
        "roles": [role(*claimed)],
    }
    # when: both claim a party another platform (or the hub) holds
    posted = world.client.post(f"{V}/credentials", json=body, token=token_a)
    put = world.call(world.ms1, "PUT", f"{V}/credentials", json=body)
    # then: refused before the hub calls anyone, nothing changed
    assert_refused(posted, 200, 2001, "roles[0]", words)
    assert_refused(put, 200, 2001, "roles[0]", words)
    assert snapshot() == before
