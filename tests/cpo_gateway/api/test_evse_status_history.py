"""The EVSE status history (hub.models.EvseStatusChange) as the location write path keeps it:
a row when, and only when, an EVSE's status changes, through real PUTs and PATCHes of the
CPO-facing gateway."""

import copy
from datetime import UTC, datetime
from typing import Any

import pytest

from hub.models import EvseStatusChange
from tests.conftest import OcpiTestClient
from tests.integration.test_location_broadcast import location

pytestmark = pytest.mark.django_db

LOC = "/ocpi/2.2.1/cpo/locations/NL/CP1/LOC1"


def history() -> list[tuple[str, str, datetime]]:
    return list(
        EvseStatusChange.objects.order_by("changed_at", "pk").values_list(
            "evse_uid", "status", "changed_at"
        )
    )


def at(hour: int) -> datetime:
    return datetime(2024, 5, 1, hour, tzinfo=UTC)


def stamp(hour: int) -> str:
    return f"2024-05-01T{hour:02d}:00:00Z"


def ok(response: Any) -> None:
    assert response.status_code in (200, 201), response.content
    assert response.json()["status_code"] == 1000


def test_a_new_location_records_each_evse_status(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    ok(ocpi_client.put(LOC, json=location(), token=cpo_token))
    assert history() == [("EVSE1", "AVAILABLE", at(10))]
    change = EvseStatusChange.objects.get()
    assert (change.country_code, change.party_id, change.location.location_id) == (
        "NL",
        "CP1",
        "LOC1",
    )
    assert change.recorded_at is not None


def test_an_evse_patch_records_a_change_of_status_only(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    ok(ocpi_client.put(LOC, json=location(), token=cpo_token))
    # when: the EVSE starts charging (a real PATCH through the gateway)
    patch = {"status": "CHARGING", "last_updated": stamp(11)}
    ok(ocpi_client.patch(LOC + "/EVSE1", json=patch, token=cpo_token))
    # then: the change is recorded at the EVSE's last_updated
    assert history() == [("EVSE1", "AVAILABLE", at(10)), ("EVSE1", "CHARGING", at(11))]
    # when: a PATCH that changes another field, and one repeating the status
    ok(ocpi_client.patch(LOC + "/EVSE1", json={"floor_level": "2", "last_updated": stamp(12)},
                         token=cpo_token))  # fmt: skip
    ok(ocpi_client.patch(LOC + "/EVSE1", json={"status": "CHARGING", "last_updated": stamp(13)},
                         token=cpo_token))  # fmt: skip
    # and a connector PATCH (the EVSE's last_updated is bumped, its status is not touched)
    ok(ocpi_client.patch(LOC + "/EVSE1/1", json={"max_amperage": 16, "last_updated": stamp(14)},
                         token=cpo_token))  # fmt: skip
    # then: nothing more is recorded
    assert len(history()) == 2


def test_a_stale_or_replayed_update_records_nothing(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    ok(ocpi_client.put(LOC, json=location(last_updated=stamp(12)), token=cpo_token))
    # an update older than the stored EVSE changes nothing (freshness), so no change
    stale = {"status": "BLOCKED", "last_updated": stamp(11)}
    ok(ocpi_client.patch(LOC + "/EVSE1", json=stale, token=cpo_token))
    # a replay of the same PUT neither
    ok(ocpi_client.put(LOC, json=location(last_updated=stamp(12)), token=cpo_token))
    assert history() == [("EVSE1", "AVAILABLE", at(12))]


def test_a_location_put_and_patch_record_the_evses_whose_status_changed(
    ocpi_client: OcpiTestClient, cpo_token: str
) -> None:
    ok(ocpi_client.put(LOC, json=location(), token=cpo_token))
    # when: a PUT of the whole location with EVSE1 out of order and a new EVSE2
    document = location(last_updated=stamp(11), status="OUTOFORDER")
    second = copy.deepcopy(document["evses"][0])
    second.update(uid="EVSE2", evse_id="NL*CP1*E2", status="AVAILABLE")
    document["evses"].append(second)
    ok(ocpi_client.put(LOC, json=document, token=cpo_token))
    assert history()[1:] == [("EVSE1", "OUTOFORDER", at(11)), ("EVSE2", "AVAILABLE", at(11))]
    # when: a PATCH of the location carrying its EVSEs, only EVSE2's status changed
    evses = copy.deepcopy(document["evses"])
    evses[1].update(status="BLOCKED", last_updated=stamp(12))
    patch = {"evses": evses, "last_updated": stamp(12)}
    ok(ocpi_client.patch(LOC, json=patch, token=cpo_token))
    assert history()[3:] == [("EVSE2", "BLOCKED", at(12))]


def test_an_evse_put_records_the_new_evse(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    ok(ocpi_client.put(LOC, json=location(), token=cpo_token))
    evse = copy.deepcopy(location()["evses"][0])
    evse.update(uid="EVSE2", evse_id="NL*CP1*E2", status="CHARGING", last_updated=stamp(15))
    ok(ocpi_client.put(LOC + "/EVSE2", json=evse, token=cpo_token))
    assert history()[-1] == ("EVSE2", "CHARGING", at(15))


def test_a_refused_write_records_nothing(ocpi_client: OcpiTestClient, cpo_token: str) -> None:
    ok(ocpi_client.put(LOC, json=location(), token=cpo_token))
    bad = {"status": "BROKEN", "last_updated": stamp(11)}
    response = ocpi_client.patch(LOC + "/EVSE1", json=bad, token=cpo_token)
    assert response.json()["status_code"] == 2001
    assert len(history()) == 1
