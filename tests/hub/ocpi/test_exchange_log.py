"""The exchange log keeps every exchange, whatever bytes a partner put in it."""

import pytest

from hub.models import ExchangeDirection, OcpiExchange
from hub.ocpi.exchange_log import ExchangeRecord, record_exchange


@pytest.mark.django_db
def test_nul_characters_are_replaced_not_a_lost_entry() -> None:
    # Found by make fuzz on PostgreSQL: a NUL in a 2001 message (quoting the bad value) made
    # the insert fail ("text fields cannot contain NUL"), and the exchange went unlogged.
    record_exchange(
        ExchangeRecord(
            direction=ExchangeDirection.INBOUND,
            method="PUT",
            url="http://hub/ocpi/2.2.1/cpo/locations/NL/CP1/a\x00b",
            request_id="req\x00",
            correlation_id="corr",
            http_status=200,
            ocpi_status=2001,
            status_message="id: 'a\x00b' is not valid",
            error="boom\x00",
        )
    )
    entry = OcpiExchange.objects.get()
    assert entry.url.endswith("a\ufffdb")
    assert entry.status_message == "id: 'a\ufffdb' is not valid"
    assert entry.request_id == "req\ufffd"
    assert entry.error == "boom\ufffd"


# ---- one INSERT per request (issue 14, S1) ---------------------------------------------------

from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from django.utils import timezone  # noqa: E402

from hub.ocpi.exchange_log import request_scope  # noqa: E402
from tests.factories import PlatformFactory  # noqa: E402
from tests.security.routed import Roaming, roaming  # noqa: E402,F401 - a fixture


def record(request_id: str, **fields: Any) -> ExchangeRecord:
    values: dict[str, Any] = {
        "direction": ExchangeDirection.OUTBOUND,
        "method": "GET",
        "url": "http://partner/ocpi/2.2.1/locations",
        "request_id": request_id,
        "correlation_id": "corr-1",
        "http_status": 200,
        "ocpi_status": 1000,
    }
    values.update(fields)
    return ExchangeRecord(**values)


def inserts(captured: CaptureQueriesContext) -> int:
    return sum(
        q["sql"].startswith('INSERT INTO "hub_ocpiexchange"') for q in captured.captured_queries
    )


@pytest.mark.django_db
def test_every_column_is_stored_as_recorded() -> None:
    platform = PlatformFactory()
    before = timezone.now()
    record_exchange(
        record(
            "r" * 300,
            platform=platform,
            module="locations",
            from_party="DE*MSP",
            to_party="NL*CPO",
            status_message="m" * 300,
            duration_ms=12.5,
            error="e" * 300,
            ocpi_status=99999,
            url="http://partner/" + "u" * 2000,
            method="PATCHLONGER",
        )
    )
    entry = OcpiExchange.objects.get()
    assert before <= entry.created_at <= timezone.now()
    assert (entry.direction, entry.method, entry.module) == ("OUT", "PATCHLON", "locations")
    assert entry.platform_id == platform.pk
    assert (entry.from_party, entry.to_party) == ("DE*MSP", "NL*CPO")
    assert (len(entry.request_id), len(entry.status_message), len(entry.error)) == (255, 255, 255)
    assert len(entry.url) == 1000
    assert (entry.http_status, entry.ocpi_status, entry.duration_ms) == (200, None, 12.5)


@pytest.mark.django_db
def test_a_scope_stores_its_rows_in_one_insert_in_order_each_with_its_time() -> None:
    with CaptureQueriesContext(connection) as captured, request_scope():
        record_exchange(record("out-1"))
        record_exchange(record("out-2"))
        # nothing is written before the scope ends
        assert OcpiExchange.objects.count() == 0
        record_exchange(record("in-1", direction=ExchangeDirection.INBOUND))
    assert inserts(captured) == 1
    rows = list(OcpiExchange.objects.order_by("pk"))
    assert [r.request_id for r in rows] == ["out-1", "out-2", "in-1"]
    times = [r.created_at for r in rows]
    assert times == sorted(times) and times[0] < times[2]


@pytest.mark.django_db
def test_a_scope_that_raises_still_stores_its_rows() -> None:
    def failing_view() -> None:
        with request_scope():
            record_exchange(record("out-1"))
            raise RuntimeError("the view failed")

    with pytest.raises(RuntimeError):
        failing_view()
    assert list(OcpiExchange.objects.values_list("request_id", flat=True)) == ["out-1"]


@pytest.mark.django_db(transaction=True)
def test_one_row_that_cannot_be_stored_costs_only_itself() -> None:
    gone = PlatformFactory()
    gone_copy = type(gone).objects.get(pk=gone.pk)
    gone.delete()  # deleted while a request that called it was running
    with request_scope():
        record_exchange(record("out-gone", platform=gone_copy))
        record_exchange(record("in-1", direction=ExchangeDirection.INBOUND))
    assert list(OcpiExchange.objects.values_list("request_id", flat=True)) == ["in-1"]


@pytest.mark.django_db
def test_a_routed_request_logs_both_exchanges_in_one_insert(roaming: Roaming) -> None:  # noqa: F811
    answer = {"status_code": 1000, "timestamp": "2024-05-01T10:00:00Z", "data": {"id": "LOC1"}}
    assert roaming.cp1.server is not None
    roaming.cp1.server.set_behaviour("locations", envelope=answer)
    with CaptureQueriesContext(connection) as captured:
        response = roaming.call(
            roaming.ms1, "GET", "/ocpi/2.2.1/emsp/locations/LOC1", to=roaming.cp1
        )
    assert response.status_code == 200, response.content
    assert inserts(captured) == 1
    inbound, outbound = OcpiExchange.objects.order_by("-created_at", "-pk")[:2]
    assert (inbound.direction, outbound.direction) == ("IN", "OUT")
    assert inbound.correlation_id == outbound.correlation_id
    assert outbound.platform_id == roaming.cp1.platform.pk
    assert timedelta(0) <= inbound.created_at - outbound.created_at < timedelta(seconds=5)
