"""HubClientInfo end to end: simulated partners registered through the live hub, pushes sent
by a real Celery worker (2.2.1 mod_hub_client_info; DESIGN §5 still-alive)."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import ConnectionStatus, Platform
from hub.services.registry.stillalive import still_alive_check
from partners.simulated import SimulatedPartner
from partners.store import ReceivedRequest
from tests.integration.hubnet import connect, role

pytestmark = [pytest.mark.integration, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

B_PATH = "/ocpi/2.2.1/hubclientinfo/NL/CPB"


def clientinfo_put(path: str, status: str) -> Any:
    def matches(request: ReceivedRequest) -> bool:
        return (
            request.method == "PUT"
            and request.path == path
            and isinstance(request.json, dict)
            and request.json.get("status") == status
        )

    return matches


def assert_unrouted(request: ReceivedRequest) -> None:
    """Configuration modules carry no OCPI-from/to headers (2.2.1 transport_and_format)."""
    assert not [name for name in request.headers if name.lower().startswith("ocpi-")]
    assert request.headers["X-Request-ID"]


@pytest.fixture
def partner_a(hub_url: str, celery_worker_process: Any) -> Iterator[SimulatedPartner]:
    with SimulatedPartner(roles=[role("EMSP", "DE", "MSA")], name="A") as partner:
        connect(partner, "A")
        yield partner


@pytest.fixture
def partner_b() -> Iterator[SimulatedPartner]:
    with SimulatedPartner(roles=[role("CPO", "NL", "CPB")], name="B") as partner:
        yield partner


def test_registration_and_unregistration_reach_the_others(
    partner_a: SimulatedPartner, partner_b: SimulatedPartner
) -> None:
    # when: B registers with the hub
    platform_b = connect(partner_b, "B")
    # then: A receives B's ClientInfo, CONNECTED, without routing headers
    put = partner_a.wait_for(clientinfo_put(B_PATH, "CONNECTED"), timeout=20)
    platform_b.refresh_from_db()
    assert put.json == {
        "party_id": "CPB",
        "country_code": "NL",
        "role": "CPO",
        "status": "CONNECTED",
        "last_updated": put.json["last_updated"],
    }
    assert put.json["last_updated"].endswith("Z") and len(put.json["last_updated"]) <= 25
    assert put.response_status == 200
    assert_unrouted(put)
    # and B, newly connected, is sent the directory: A's ClientInfo
    directory = partner_b.wait_for(
        clientinfo_put("/ocpi/2.2.1/hubclientinfo/DE/MSA", "CONNECTED"), timeout=20
    )
    assert directory.json["role"] == "EMSP"
    assert directory.response_status == 200
    assert_unrouted(directory)
    # when: B deletes its credentials
    partner_b.unregister()
    # then: A is told B is SUSPENDED (ClientInfo is never deleted)
    suspended = partner_a.wait_for(clientinfo_put(B_PATH, "SUSPENDED"), timeout=20)
    assert_unrouted(suspended)
    assert Platform.objects.get(pk=platform_b.pk).status == ConnectionStatus.SUSPENDED


def test_still_alive_failure_and_return(
    partner_a: SimulatedPartner, partner_b: SimulatedPartner
) -> None:
    platform_b = connect(partner_b, "B")
    partner_a.wait_for(clientinfo_put(B_PATH, "CONNECTED"), timeout=20)
    # given: B has been silent for a while and its versions endpoint now fails
    Platform.objects.filter(pk=platform_b.pk).update(
        last_seen_at=timezone.now() - timedelta(minutes=10)
    )
    partner_b.fail_versions = True
    # when: the still-alive check runs (beat is not running in tests: its service directly)
    outcome = still_alive_check()
    # then: B is OFFLINE and A is told
    assert outcome == {"due": 1, "OFFLINE": 1}
    assert Platform.objects.get(pk=platform_b.pk).status == ConnectionStatus.OFFLINE
    offline = partner_a.wait_for(clientinfo_put(B_PATH, "OFFLINE"), timeout=20)
    assert_unrouted(offline)
    # when: B calls the hub again
    partner_b.fail_versions = False
    mark = len(partner_b.received)
    assert partner_b.request("GET", partner_b.hub_versions_url or "").status_code == 200
    # then: it is CONNECTED again, A is told, and B gets the directory once more
    assert Platform.objects.get(pk=platform_b.pk).status == ConnectionStatus.CONNECTED
    partner_a.wait_for(
        clientinfo_put(B_PATH, "CONNECTED"),
        timeout=20,
        since=partner_a.received.index(offline) + 1,
    )
    partner_b.wait_for(
        clientinfo_put("/ocpi/2.2.1/hubclientinfo/DE/MSA", "CONNECTED"), timeout=20, since=mark
    )
