"""CDRs through the live hub to an extrawest-ocpi eMSP, an independent OCPI 2.2.1
implementation whose pydantic `Cdr` model validates what the hub delivers (2.2.1 mod_cdrs,
Receiver POST; DESIGN §5).

The network: the extrawest eMSP DE*EXE registered hub-initiated, a simulated CPO NL*CP1
registered partner-initiated, and a real Celery worker delivering the hub's outbox.
"""

from typing import Any

import pytest

from hub.models import PushAttempt, PushDelivery
from tests.cpo_gateway.api.test_cdrs import cdr
from tests.worker import wait_until

pytestmark = [pytest.mark.interop, pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def test_cdr_is_delivered_to_extrawest_once_and_its_location_recorded(
    extrawest_emsp_net: Any,
) -> None:
    extrawest, platform, cpo = extrawest_emsp_net
    body = cdr(owner=("DE", "EXE"))
    # when: the CPO POSTs a CDR of DE*EXE's token (no TO: open routing)
    response = cpo.request("POST", "cdrs", json=body)
    assert response.status_code == 201, response.json()

    # then: the hub delivers it and records extrawest's Location as the receipt
    def deliveries() -> list[PushDelivery]:
        return list(PushDelivery.objects.filter(receiver=platform, module="cdrs"))

    assert wait_until(lambda: [d.status for d in deliveries()] == ["DELIVERED"], timeout=45), [
        (d.status, d.last_error) for d in deliveries()
    ]
    attempts = list(
        PushAttempt.objects.filter(delivery__receiver=platform, delivery__module="cdrs")
    )
    assert [(a.method, a.http_status, a.ocpi_status) for a in attempts] == [("POST", 200, 1000)]
    receipt = deliveries()[0].receipt
    assert receipt.endswith("/cdr-0001"), receipt  # extrawest lower-cases the id
    posted = [r for r in extrawest.state()["requests"] if r["method"] == "POST"]
    cdr_posts = [r for r in posted if "cdrs" in r["path"]]
    assert len(cdr_posts) == 1
    assert cdr_posts[0]["body"] == body
    assert cdr_posts[0]["headers"]["ocpi-from-party-id"] == "CP1"
