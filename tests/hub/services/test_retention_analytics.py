"""Retention of the analytics records (hub.services.retention): old EVSE status changes go,
except the newest one of each EVSE at or before the cutoff (the status there); old routed
authorizations go."""

from datetime import datetime, timedelta
from typing import Any

import pytest
from django.utils import timezone

from hub.models import AuthorizationRecord, EvseStatusChange, Location
from hub.services.retention import prune_authorizations, prune_evse_status_history
from tests.factories import AuthorizationRecordFactory, EvseStatusChangeFactory, LocationFactory

pytestmark = pytest.mark.django_db


def days_ago(days: float) -> datetime:
    return timezone.now() - timedelta(days=days)


def test_old_status_changes_go_but_the_status_at_the_cutoff_stays(settings: Any) -> None:
    settings.OCPI_RETENTION_EVSE_STATUS_DAYS = 100
    loc = LocationFactory()
    other = LocationFactory(location_id="LOC2")

    def change(location: Location, uid: str, status: str, age: float) -> EvseStatusChange:
        return EvseStatusChangeFactory(
            location=location, evse_uid=uid, status=status, changed_at=days_ago(age)
        )

    change(loc, "1", "AVAILABLE", 300)  # replaced by the next, both before the cutoff: goes
    change(loc, "1", "CHARGING", 200)  # replaced by the next: goes
    kept_at_cutoff = change(loc, "1", "AVAILABLE", 150)  # the status at the cutoff: stays
    recent = change(loc, "1", "BLOCKED", 10)
    only = change(loc, "2", "OUTOFORDER", 400)  # old, but EVSE 2's only record: stays
    elsewhere = change(other, "1", "CHARGING", 250)  # another location's EVSE "1": stays
    result = prune_evse_status_history()
    assert (result.deleted, result.done) == (2, True)
    assert set(EvseStatusChange.objects.values_list("pk", flat=True)) == {
        kept_at_cutoff.pk,
        recent.pk,
        only.pk,
        elsewhere.pk,
    }
    # a second run finds nothing more
    assert prune_evse_status_history().deleted == 0


def test_old_authorizations_go(settings: Any) -> None:
    settings.OCPI_RETENTION_AUTHORIZATION_DAYS = 30
    AuthorizationRecordFactory(created_at=days_ago(31))
    young = AuthorizationRecordFactory(created_at=days_ago(29))
    assert prune_authorizations().deleted == 1
    assert list(AuthorizationRecord.objects.values_list("pk", flat=True)) == [young.pk]
