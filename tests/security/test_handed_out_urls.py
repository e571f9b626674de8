"""URLs the hub hands to one platform are that platform's alone (DESIGN §3): the `response_url`
of a command or charging-profile request (the CPO it went to posts the result there) and the
proxied `Link`/`Location` of a forwarded response (the platform that asked follows it). Anyone
else gets the same 404 as for an id that does not exist, and nothing is stored, relayed or
forwarded."""

from typing import Any

import pytest

from hub.models import AsyncRequest, OcpiExchange, ProxiedUrlKind
from hub.ocpi.routing import PartyRef
from hub.services.routing.forwarding import proxy_url
from tests.emsp_gateway.api.test_chargingprofiles import profile_request, results_url
from tests.emsp_gateway.api.test_commands import result_url, waiting_command
from tests.security.conftest import Party, World, assert_refused, snapshot

pytestmark = pytest.mark.django_db

COMMAND_RESULT = {"result": "ACCEPTED"}


def requests_of(world: World) -> tuple[AsyncRequest, AsyncRequest]:
    """A START_SESSION and a SET charging profile that MS1 sent to CP1, both awaiting CP1."""
    command = waiting_command(world.cp1.platform, world.ms1.platform)
    profile = profile_request(world.cp1.platform, world.ms1.platform, "SET")
    return command, profile


def post_result(world: World, party: Party, path: str, **kwargs: Any) -> Any:
    return world.call(party, "POST", path, json=COMMAND_RESULT, **kwargs)


@pytest.mark.parametrize("poster", ["cp2", "ms1", "ms2"])
def test_result_posted_by_anyone_but_the_receiving_cpo_is_404(world: World, poster: str) -> None:
    # given
    command, profile = requests_of(world)
    before = snapshot()
    # when: another CPO, the requesting eMSP or another eMSP posts the results
    for path in (result_url(command), results_url(profile)):
        response = post_result(world, getattr(world, poster), path)
        # then
        assert_refused(response, 404, 2000, "Unknown response URL")
    assert snapshot() == before


def test_result_posted_to_another_requests_url_is_404(world: World) -> None:
    # given: CP1 has a command and a profile request of its own, and CP2 has one
    command, profile = requests_of(world)
    foreign = waiting_command(world.cp2.platform, world.ms2.platform)
    before = snapshot()
    for path in (
        # another command's operation in the URL, the command's id under the profile results
        # URL and the profile's id under the command URL, another CPO's command
        result_url(command, "STOP_SESSION"),
        results_url(command),
        f"/ocpi/2.2.1/cpo/commands/SET/{profile.pk}",
        result_url(foreign),
    ):
        # when
        response = post_result(world, world.cp1, path)
        # then
        assert_refused(response, 404, 2000, "Unknown response URL")
    assert snapshot() == before


def test_result_with_the_from_of_another_cpo_is_2001(world: World) -> None:
    # given: CP2's command; CP1 posts its result claiming to be CP2
    foreign = waiting_command(world.cp2.platform, world.ms2.platform)
    before = snapshot()
    response = post_result(
        world, world.cp1, result_url(foreign), headers=world.cp1.headers(world.cp2.ref)
    )
    assert_refused(response, 200, 2001, "NL*CP2 is not a party of the calling platform")
    assert snapshot() == before


def handed_to_ms1(world: World, kind: str = ProxiedUrlKind.PAGE) -> str:
    """The hub URL of page 2 of CP1's locations, handed to MS1 in a forwarded answer."""
    url = proxy_url(
        target_url="http://127.0.0.1:9/ocpi/2.2.1/locations?offset=50",
        receiver=world.cp1.platform,
        caller=world.ms1.platform,
        module="locations",
        gateway="emsp",
        kind=kind,
        from_party=PartyRef.of(*world.ms1.ref),
        to_party=PartyRef.of(*world.cp1.ref),
    )
    return url.removeprefix("http://testserver")


@pytest.mark.parametrize("follower", ["ms2", "cp1", "cp2"])
def test_proxied_page_followed_by_another_platform_is_404(world: World, follower: str) -> None:
    # given: a next-page link handed to MS1
    page = handed_to_ms1(world)
    before = snapshot()
    outbound = OcpiExchange.objects.filter(direction="OUT").count()
    # when: another eMSP, the receiver itself or another CPO follows it
    response = world.call(getattr(world, follower), "GET", page)
    # then: as if it did not exist; nothing was forwarded
    assert_refused(response, 404, 2000, "Unknown or expired URL")
    assert OcpiExchange.objects.filter(direction="OUT").count() == outbound
    assert snapshot() == before


def test_proxied_page_under_another_gateway_or_module_is_404(world: World) -> None:
    page = handed_to_ms1(world)
    for path in (page.replace("/emsp/", "/cpo/"), page.replace("/locations/", "/tariffs/")):
        response = world.call(world.ms1, "GET", path)
        assert_refused(response, 404, 2000, "Unknown or expired URL")


def test_proxied_page_followed_by_its_platform_is_forwarded(world: World) -> None:
    # given: the control case, MS1 follows its own link (CP1 is not listening: 4003)
    page = handed_to_ms1(world)
    # when
    response = world.call(world.ms1, "GET", page)
    # then: the hub tried CP1 on MS1's behalf
    assert response.json()["status_code"] == 4003
    assert OcpiExchange.objects.filter(direction="OUT", url__contains="offset=50").exists()
