"""A routed request reads its receiver's roles and endpoints from the per-process directory
copy (`hub.selectors.party_directory`, issue 14 S1), and every change to them is seen by the
very next forward: a moved endpoint is called at its new URL, a suspended receiver is 4003, a
party registered after a 4001 is reached. An address nobody registered is never kept.

HTTP goes to a SimulatedPartner on 127.0.0.1 (as `test_forwarding`)."""

from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from hub.models import ConnectionStatus
from hub.ocpi import directory_cache
from hub.ocpi.caller import Caller
from hub.ocpi.exceptions import ConnectionProblemError, UnknownReceiverError
from hub.services.registry.status import platform_set_status
from partners.server import free_port
from partners.simulated import SimulatedPartner
from tests.factories import PlatformRoleFactory
from tests.hub.ocpi.test_directory_cache import _copies_on  # noqa: F401 - autouse: copies on
from tests.hub.services.test_forwarding import (  # the same partner, platform and call
    CPO,
    caller,  # noqa: F401 - a fixture
    context,
    cpo_platform,
    cpo_server,  # noqa: F401 - a fixture
    forward,
)

pytestmark = [pytest.mark.django_db, pytest.mark.integration]


def queries_of(table: str, fn: Any) -> tuple[int, Any]:
    with CaptureQueriesContext(connection) as captured:
        value = fn()
    return sum(f'"{table}"' in q["sql"] for q in captured.captured_queries), value


def test_the_receivers_roles_and_endpoints_are_read_from_the_copy(
    caller: Caller,  # noqa: F811
    cpo_server: SimulatedPartner,  # noqa: F811
) -> None:
    cpo_platform(cpo_server)
    assert forward(caller).http_status == 200
    # when / then: the second forward reads neither, and is answered as the first
    roles, answer = queries_of("hub_platformrole", lambda: forward(caller))
    endpoints, again = queries_of("hub_platformendpoint", lambda: forward(caller))
    assert (roles, endpoints) == (0, 0)
    assert answer.body["status_code"] == again.body["status_code"] == 1000
    assert len(cpo_server.received) == 3


@pytest.mark.parametrize("how", ["queryset", "save"])
def test_a_moved_endpoint_is_called_at_its_new_url_at_once(
    caller: Caller,  # noqa: F811
    cpo_server: SimulatedPartner,  # noqa: F811
    how: str,
) -> None:
    platform = cpo_platform(cpo_server)
    assert forward(caller).http_status == 200
    dead = f"http://127.0.0.1:{free_port()}/ocpi/2.2.1/locations"
    # when
    if how == "queryset":
        platform.endpoints.filter(identifier="locations").update(url=dead)
    else:
        endpoint = platform.endpoints.get(identifier="locations", role="SENDER")
        endpoint.url = dead
        endpoint.save()
    # then: the new URL (nobody listens there), not the copy's
    with pytest.raises(ConnectionProblemError, match="could not be reached"):
        forward(caller)
    assert len(cpo_server.received) == 1


def test_a_suspended_receiver_is_4003_at_once(
    caller: Caller,  # noqa: F811
    cpo_server: SimulatedPartner,  # noqa: F811
) -> None:
    platform = cpo_platform(cpo_server)
    assert forward(caller).http_status == 200
    # when
    platform_set_status(platform=platform, status=ConnectionStatus.SUSPENDED)
    # then
    with pytest.raises(ConnectionProblemError, match="not connected"):
        forward(caller)
    assert len(cpo_server.received) == 1


def test_a_role_moved_to_another_party_is_seen_at_once(
    caller: Caller,  # noqa: F811
    cpo_server: SimulatedPartner,  # noqa: F811
) -> None:
    platform = cpo_platform(cpo_server)
    assert forward(caller).http_status == 200
    # when: the platform no longer hosts NL*CPO
    platform.roles.filter(party_id=CPO.party_id).update(party_id="OLD")
    # then
    with pytest.raises(UnknownReceiverError, match="not a party known"):
        forward(caller)


def test_an_unknown_party_is_not_kept_and_is_reached_once_registered(
    caller: Caller,  # noqa: F811
    cpo_server: SimulatedPartner,  # noqa: F811
) -> None:
    platform = cpo_platform(cpo_server)
    newcomer = context(to=type(CPO).of("NL", "NEW"))
    # when: an address nobody registered, asked again and again (an attacker's random TOs)
    for _ in range(3):
        with pytest.raises(UnknownReceiverError, match="not a party known"):
            forward(caller, context=newcomer)
    # then: nothing of it is kept ...
    assert not [key for key in directory_cache._entries if "NEW" in key]
    # ... and once the party registers, the next forward reaches it
    PlatformRoleFactory(platform=platform, role="CPO", country_code="NL", party_id="NEW")
    assert forward(caller, context=newcomer).http_status == 200
