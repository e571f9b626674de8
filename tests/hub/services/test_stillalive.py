"""Still-alive check (DESIGN §5): only silent platforms are probed, over real HTTP against
simulated partners, and the answer drives CONNECTED/OFFLINE (and the ClientInfo push)."""

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import ConnectionStatus, Platform, PushDelivery
from hub.services.registry.stillalive import platform_probe, silent_platforms, still_alive_check
from partners.simulated import SimulatedPartner
from tests.conftest import OcpiTestClient
from tests.factories import PlatformEndpointFactory, PlatformFactory, PlatformRoleFactory

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(minutes=30)


@pytest.fixture
def alive() -> Iterator[SimulatedPartner]:
    with SimulatedPartner(name="alive") as partner:
        yield partner


@pytest.fixture
def down() -> Iterator[SimulatedPartner]:
    """A partner whose versions endpoint answers HTTP 500."""
    with SimulatedPartner(name="down") as partner:
        partner.fail_versions = True
        yield partner


def probed_platform(
    partner: SimulatedPartner | None,
    party_id: str,
    *,
    status: str = ConnectionStatus.CONNECTED,
    seen_ago: timedelta | None = LONG_AGO,
    probed_ago: timedelta | None = None,
    **fields: Any,
) -> Platform:
    """A registered platform whose versions URL is `partner`'s (it accepts its Token A)."""
    now = timezone.now()
    extra: dict[str, Any] = {}
    if partner is not None:
        extra = {"versions_url": partner.versions_url, "outbound_token": partner.token_a}
    created = PlatformFactory(
        name=party_id,
        status=status,
        last_seen_at=now - seen_ago if seen_ago is not None else None,
        last_probe_at=now - probed_ago if probed_ago is not None else None,
        **extra,
        **fields,
    )
    PlatformRoleFactory(platform=created, role="CPO", country_code="NL", party_id=party_id)
    return created


@pytest.fixture
def listener() -> Platform:
    """A connected eMSP, recently heard from, that receives ClientInfo."""
    created = PlatformFactory(name="listener", last_seen_at=timezone.now())
    PlatformRoleFactory(platform=created, role="EMSP", country_code="DE", party_id="LIS")
    PlatformEndpointFactory(
        platform=created,
        identifier="hubclientinfo",
        role="RECEIVER",
        url="http://127.0.0.1:9/ocpi/2.2.1/hubclientinfo",
    )
    return created


def versions_gets(partner: SimulatedPartner) -> int:
    return len(partner.requests_to("/ocpi/versions", method="GET"))


def test_silent_offline_platform_that_answers_is_connected(
    alive: SimulatedPartner, listener: Platform
) -> None:
    platform = probed_platform(alive, "ALV", status=ConnectionStatus.OFFLINE)
    # when
    outcome = still_alive_check()
    # then: its versions were read with its token, and it is CONNECTED again
    assert outcome == {"due": 1, "CONNECTED": 1}
    assert versions_gets(alive) == 1
    platform.refresh_from_db()
    assert platform.status == ConnectionStatus.CONNECTED
    assert platform.last_probe_at is not None
    # and the others are told
    assert PushDelivery.objects.filter(
        module="hubclientinfo", receiver=listener, object_key="NL/ALV/CPO"
    ).exists()


def test_silent_platform_that_fails_goes_offline(
    down: SimulatedPartner, listener: Platform
) -> None:
    platform = probed_platform(down, "DWN")
    outcome = still_alive_check()
    assert outcome == {"due": 1, "OFFLINE": 1}
    assert versions_gets(down) == 1
    platform.refresh_from_db()
    assert platform.status == ConnectionStatus.OFFLINE
    assert PushDelivery.objects.filter(
        module="hubclientinfo", receiver=listener, object_key="NL/DWN/CPO"
    ).exists()


def test_unreachable_platform_goes_offline(listener: Platform) -> None:
    # a partner that is not running at all: connection refused
    with SimulatedPartner(name="gone") as partner:
        url, token = partner.versions_url, partner.token_a
    platform = probed_platform(None, "GNE", versions_url=url, outbound_token=token)
    assert still_alive_check() == {"due": 1, "OFFLINE": 1}
    platform.refresh_from_db()
    assert platform.status == ConnectionStatus.OFFLINE


def test_only_silent_platforms_are_probed(alive: SimulatedPartner) -> None:
    recently_seen = probed_platform(alive, "SEE", seen_ago=timedelta(minutes=1))
    recently_probed = probed_platform(alive, "PRB", probed_ago=timedelta(minutes=1))
    never_seen = probed_platform(alive, "NEW", seen_ago=None)
    suspended = probed_platform(alive, "SUS", status=ConnectionStatus.SUSPENDED)
    planned = probed_platform(alive, "PLN", status=ConnectionStatus.PLANNED, registered=False)
    silent = probed_platform(alive, "SIL")
    assert set(silent_platforms()) == {never_seen, silent}
    # when
    assert still_alive_check() == {"due": 2, "CONNECTED": 2}
    # then: probed once each, and not again within the interval
    assert versions_gets(alive) == 2
    assert still_alive_check() == {"due": 0}
    assert versions_gets(alive) == 2
    for untouched in (recently_seen, suspended, planned):
        untouched.refresh_from_db()
        assert untouched.last_probe_at is None
    probed_at = recently_probed.last_probe_at
    recently_probed.refresh_from_db()
    assert recently_probed.last_probe_at == probed_at


def test_silence_threshold_is_a_setting(alive: SimulatedPartner, settings: Any) -> None:
    probed_platform(alive, "SEE", seen_ago=timedelta(minutes=1))
    settings.OCPI_STILL_ALIVE_AFTER_S = 30
    assert still_alive_check() == {"due": 1, "CONNECTED": 1}


def test_probe_of_a_platform_suspended_meanwhile_changes_nothing(alive: SimulatedPartner) -> None:
    platform = probed_platform(alive, "SUS", status=ConnectionStatus.SUSPENDED)
    assert platform_probe(platform_id=platform.pk) == "skipped"
    assert versions_gets(alive) == 0


def test_inbound_request_of_an_offline_platform_reconnects_it(
    ocpi_client: OcpiTestClient, listener: Platform
) -> None:
    from tests.factories import issue_token

    platform = probed_platform(None, "OFF", status=ConnectionStatus.OFFLINE)
    token = issue_token(platform)
    # when: it calls the hub
    response = ocpi_client.get("/ocpi/versions", token=token)
    # then: it is alive, and the others are told
    assert response.status_code == 200
    platform.refresh_from_db()
    assert platform.status == ConnectionStatus.CONNECTED
    assert PushDelivery.objects.filter(
        module="hubclientinfo", receiver=listener, object_key="NL/OFF/CPO"
    ).exists()


def test_beat_task_hands_each_probe_to_a_worker(
    alive: SimulatedPartner, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub import tasks

    sent: list[int] = []
    monkeypatch.setattr(tasks.still_alive_probe_task, "delay", sent.append)
    silent = probed_platform(alive, "SIL")
    # when: the beat task runs
    assert tasks.still_alive_check_task() == {"due": 1, "enqueued": 1}
    # then: one probe task, claimed (not handed out twice), nothing probed inline
    assert sent == [silent.pk]
    assert tasks.still_alive_check_task() == {"due": 0, "enqueued": 0}
    assert versions_gets(alive) == 0
    # and the task probes
    assert tasks.still_alive_probe_task(silent.pk) == "CONNECTED"
    assert versions_gets(alive) == 1
