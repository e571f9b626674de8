"""Pull sync from a CPO's SENDER lists: a simulated CPO registered through the live hub serves
its locations and tariffs over pages (2.2.1 pagination), `ocpi_sync` stores them."""

from collections.abc import Iterator
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from hub.models import Location, Platform, SyncState, Tariff
from hub.ocpi.datetimes import format_datetime
from hub.services.sync import pull_sync
from partners.simulated import SimulatedPartner
from tests.integration.hubnet import connect, role
from tests.payloads import connector

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

LOCATIONS = "/ocpi/2.2.1/locations"
TARIFFS = "/ocpi/2.2.1/tariffs"


def location(number: int, *, party_id: str = "SIM", last_updated: str | None = None) -> Any:
    stamp = last_updated or f"2024-05-01T10:{number // 60:02d}:{number % 60:02d}Z"
    return {
        "country_code": "NL",
        "party_id": party_id,
        "id": f"LOC{number}",
        "publish": True,
        "address": f"Stationsplein {number}",
        "city": "Utrecht",
        "country": "NLD",
        "coordinates": {"latitude": "52.089444", "longitude": "5.110278"},
        "time_zone": "Europe/Amsterdam",
        "evses": [
            {
                "uid": f"EVSE{number}",
                "status": "AVAILABLE",
                "connectors": [connector(stamp)],
                "last_updated": stamp,
            }
        ],
        "last_updated": stamp,
    }


def tariff(tariff_id: str) -> Any:
    return {
        "country_code": "NL",
        "party_id": "SIM",
        "id": tariff_id,
        "currency": "EUR",
        "elements": [{"price_components": [{"type": "ENERGY", "price": 0.35, "step_size": 1}]}],
        "last_updated": "2024-05-01T10:00:00Z",
    }


@pytest.fixture
def connected_cpo(hub_url: str) -> Iterator[tuple[SimulatedPartner, Platform]]:
    with SimulatedPartner(roles=[role("CPO", "NL", "SIM")], max_limit=50, name="cpo") as partner:
        yield partner, connect(partner, "Sim CPO")


def sync(*args: str) -> str:
    out, err = StringIO(), StringIO()
    call_command("ocpi_sync", *args, stdout=out, stderr=err)
    return out.getvalue()


def test_full_then_incremental_locations(connected_cpo: tuple[SimulatedPartner, Platform]) -> None:
    partner, platform = connected_cpo
    partner.set_objects("locations", [location(n) for n in range(250)])
    # when: a full sync
    output = sync("locations", "--party", "NL-SIM", "--full")
    # then: all 250 are stored, fetched over the CPO's 50-object pages, following Link
    assert "fetched 250, stored 250, unchanged 0, invalid 0, refused 0, deleted 0" in output
    assert Location.objects.filter(country_code="NL", party_id="SIM").count() == 250
    pages = partner.requests_to(LOCATIONS, method="GET")
    assert [page.param("offset") for page in pages] == ["0", "50", "100", "150", "200"]
    assert all(page.param("date_from") is None for page in pages)
    # the hub asks the CPO as the hub, for that party
    assert pages[0].headers["OCPI-to-party-id"] == "SIM"
    assert pages[0].headers["OCPI-from-party-id"] == "HUB"
    state = SyncState.objects.get(platform=platform, module="locations")
    assert (state.fetched, state.stored, state.last_error) == (250, 250, "")
    assert state.last_success_started_at is not None and state.full
    # when: one location changes, and an incremental sync runs
    changed = location(7, last_updated=format_datetime(timezone.now()))
    changed["name"] = "Renamed"
    partner.set_objects("locations", [location(n) for n in range(250) if n != 7] + [changed])
    partner.clear_received()
    output = sync("locations", "--party", "NL-SIM")
    # then: it sent date_from (the previous start, less the clock-skew overlap) and got one
    (page,) = partner.requests_to(LOCATIONS, method="GET")
    expected = format_datetime(state.last_success_started_at - timedelta(seconds=60))
    assert page.param("date_from") == expected
    assert "fetched 1, stored 1, unchanged 0" in output
    assert Location.objects.get(location_id="LOC7").data["name"] == "Renamed"


def test_invalid_and_foreign_objects_are_counted_not_stored(
    connected_cpo: tuple[SimulatedPartner, Platform],
) -> None:
    partner, _ = connected_cpo
    no_address = location(1)
    del no_address["address"]
    bad_coordinates = location(2)
    bad_coordinates["coordinates"] = {"latitude": "north", "longitude": "5.110278"}
    foreign = location(3, party_id="OTH")
    partner.set_objects("locations", [location(0), no_address, bad_coordinates, foreign])
    # when
    output = sync("locations", "--party", "NL-SIM", "--full")
    # then
    assert "fetched 4, stored 1, unchanged 0, invalid 2, refused 1, deleted 0" in output
    assert "LOC1: " in output and "address" in output
    assert "LOC2: " in output and "latitude" in output
    assert "LOC3: belongs to NL*OTH, not NL*SIM; refused" in output
    assert list(Location.objects.values_list("location_id", flat=True)) == ["LOC0"]
    # a replay stores nothing new
    assert "fetched 4, stored 0, unchanged 1, invalid 2, refused 1" in sync(
        "locations", "--party", "NL-SIM", "--full"
    )


def test_full_tariffs_sync_retires_the_missing_ones(
    connected_cpo: tuple[SimulatedPartner, Platform],
) -> None:
    partner, _ = connected_cpo
    partner.set_objects("tariffs", [tariff("T1"), tariff("T2"), tariff("T3")])
    assert "fetched 3, stored 3" in sync("tariffs", "--party", "NL-SIM", "--full")
    # when: the CPO no longer lists T2; an incremental sync deletes nothing
    partner.set_objects("tariffs", [tariff("T1"), tariff("T3")])
    assert "deleted 0" in sync("tariffs", "--party", "NL-SIM")
    assert Tariff.objects.filter(deleted_at__isnull=True).count() == 3
    # when: a full sync (the list is the truth)
    output = sync("tariffs", "--party", "NL-SIM", "--full")
    # then
    assert "fetched 2, stored 0, unchanged 2, invalid 0, refused 0, deleted 1" in output
    live = Tariff.objects.filter(deleted_at__isnull=True).values_list("tariff_id", flat=True)
    assert sorted(live) == ["T1", "T3"]
    assert Tariff.objects.get(tariff_id="T2").deleted_at is not None


def test_unknown_party_and_missing_endpoint_are_clear_errors(hub_url: str) -> None:
    with pytest.raises(CommandError, match="No CPO NL\\*XXX is registered"):
        sync("locations", "--party", "NL-XXX")
    with pytest.raises(CommandError, match="--party must be COUNTRY-PARTY"):
        sync("locations", "--party", "nonsense")
    modules = [("credentials", "SENDER"), ("locations", "SENDER")]
    with SimulatedPartner(roles=[role("CPO", "NL", "NOT")], modules=modules) as partner:
        connect(partner, "No tariffs")
        with pytest.raises(CommandError, match="publishes no tariffs SENDER endpoint"):
            sync("tariffs", "--party", "NL-NOT")


def test_a_failing_cpo_is_reported_and_recorded(
    connected_cpo: tuple[SimulatedPartner, Platform],
) -> None:
    partner, platform = connected_cpo
    partner.set_objects("locations", [location(n) for n in range(120)])
    partner.set_behaviour(LOCATIONS, status=500, times=10)
    with pytest.raises(CommandError, match="HTTP 500"):
        sync("locations", "--party", "NL-SIM", "--full")
    state = SyncState.objects.get(platform=platform, module="locations")
    assert "HTTP 500" in state.last_error
    assert state.last_success_started_at is None and state.running_since is None


def test_periodic_pull_syncs_due_cpos_once_per_interval(
    connected_cpo: tuple[SimulatedPartner, Platform],
) -> None:
    partner, _ = connected_cpo
    partner.set_objects("locations", [location(n) for n in range(3)])
    partner.set_objects("tariffs", [tariff("T1")])
    # when: the beat task's service runs
    done = pull_sync()
    # then: both SENDER lists were pulled
    assert sorted(done) == [
        "NL*SIM locations: fetched 3, stored 3, unchanged 0, invalid 0, refused 0, deleted 0",
        "NL*SIM tariffs: fetched 1, stored 1, unchanged 0, invalid 0, refused 0, deleted 0",
    ]
    # and nothing is due again before the interval passed
    assert pull_sync() == []
    # when: an hour later, the CPO pushed a location meanwhile (not a tariff)
    SyncState.objects.update(last_run_at=timezone.now() - timedelta(hours=1, seconds=1))
    Location.objects.get(location_id="LOC1").save()
    # then: its locations wait for OCPI_PULL_SYNC_PUSHER_INTERVAL_S; tariffs are pulled
    assert [item.split(":")[0] for item in pull_sync()] == ["NL*SIM tariffs"]


def test_beat_task_hands_each_pull_to_a_worker(
    connected_cpo: tuple[SimulatedPartner, Platform], monkeypatch: pytest.MonkeyPatch
) -> None:
    from hub import tasks

    _, platform = connected_cpo
    sent: list[tuple[Any, ...]] = []
    monkeypatch.setattr(tasks.pull_sync_party_task, "delay", lambda *args: sent.append(args))
    assert len(tasks.pull_sync_task()) == 2
    assert sorted(sent) == [
        (platform.pk, "NL", "SIM", "locations"),
        (platform.pk, "NL", "SIM", "tariffs"),
    ]
    assert tasks.pull_sync_task() == []  # claimed: a backlog is not enqueued twice
