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
