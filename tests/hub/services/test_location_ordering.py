"""Out-of-order and duplicate updates always converge on the newest `last_updated`."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from hub.models import Location
from hub.ocpi.datetimes import format_datetime
from hub.ocpi.routing import PartyRef
from hub.services.locations import LocationAddress, location_write
from tests.factories import registered_party
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db


@pytest.fixture
def cpo_platform() -> Any:
    return registered_party("CPO", "NL", "CP1")[0]


STATUSES = ["AVAILABLE", "CHARGING", "BLOCKED", "OUTOFORDER", "INOPERATIVE", "RESERVED"]
BASE = datetime(2024, 5, 1, 10, 0, tzinfo=UTC)
ADDRESS = LocationAddress(PartyRef("NL", "CP1"), "LOC1")
EVSE = LocationAddress(PartyRef("NL", "CP1"), "LOC1", "EVSE1")


def stamp(seconds: int) -> str:
    return format_datetime(BASE + timedelta(seconds=seconds))


updates = st.lists(
    st.tuples(st.sampled_from(["PUT", "PATCH"]), st.integers(1, 40), st.sampled_from(STATUSES)),
    min_size=1,
    max_size=25,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(sequence=updates, replay=st.booleans())
def test_store_ends_at_the_newest_update(
    cpo_platform: Any, sequence: list[tuple[str, int, str]], replay: bool
) -> None:
    Location.objects.all().delete()  # each example starts from an empty store
    location_write(
        owner=cpo_platform, address=ADDRESS, method="PUT", data=location(last_updated=stamp(0))
    )
    applied: list[tuple[int, str]] = [(0, "AVAILABLE")]
    for method, seconds, status in sequence + (sequence if replay else []):
        if method == "PUT":
            data: dict[str, Any] = location(last_updated=stamp(seconds), status=status)
            data = data["evses"][0]
        else:
            data = {"status": status, "last_updated": stamp(seconds)}
        location_write(owner=cpo_platform, address=EVSE, method=method, data=data)
        applied.append((seconds, status))
    stored = Location.objects.get(location_id="LOC1").data["evses"][0]
    newest = max(seconds for seconds, _ in applied)
    # Older updates are ignored; an equal-time one applies only if it differs, so the last
    # update carrying the newest timestamp decides the state.
    last_newest = [status for seconds, status in applied if seconds == newest][-1]
    assert stored["last_updated"] == stamp(newest)
    assert stored["status"] == last_newest
