"""Concurrent first writes of one new object: no 500, one stored object."""

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import IntegrityError

from hub.models import Location
from hub.services.concurrency import retry_on_unique_race
from tests.integration.hubnet import network
from tests.integration.test_location_broadcast import location


def test_retry_on_unique_race_retries_once() -> None:
    calls: list[int] = []

    @retry_on_unique_race
    def write() -> str:
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key")
        return "ok"

    assert write() == "ok"
    assert len(calls) == 2


def test_retry_on_unique_race_gives_up_after_one_retry() -> None:
    @retry_on_unique_race
    def write() -> None:
        raise IntegrityError("duplicate key")

    with pytest.raises(IntegrityError):
        write()


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_concurrent_first_puts_of_one_location(hub_url: str) -> None:
    with network(cpos=1, emsps=0) as net:
        ((cpo, _),) = net["cpos"]

        def put(_: int) -> Any:
            return cpo.request("PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=location())

        with ThreadPoolExecutor(max_workers=6) as pool:
            responses = list(pool.map(put, range(6)))
    assert sorted(r.status_code for r in responses)[-1] < 300
    assert {r.json()["status_code"] for r in responses} == {1000}
    assert Location.objects.count() == 1
