"""Every real-time authorization routed through the live hub is recorded for analytics
(hub.models.AuthorizationRecord): the eMSP's `allowed` when it answered, unknown tokens,
its other errors, timeouts and the hub's own failures apart, with the CPO and eMSP parties.
Real partner servers (tests/partners), the CPO calling over HTTP."""

from typing import Any

import pytest

from hub.models import AuthorizationRecord
from hub.ocpi.datetimes import utc_now
from hub.ocpi.routing import PartyRef
from hub.services.analytics.authorizations import authorization_figures
from hub.services.analytics.period import Period, Perspective
from tests.integration.hubnet import network, routing_headers
from tests.integration.test_tokens_authorize import EMSP_TOKENS, authorize, token

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def net(hub_url: str) -> Any:
    with network(cpos=1, emsps=1) as parties:
        yield parties


def outcomes() -> list[tuple[str, str, str, str, int | None]]:
    return [
        (f"{r.cpo_country_code}*{r.cpo_party_id}", f"{r.emsp_country_code}*{r.emsp_party_id}",
         r.outcome, r.allowed, r.ocpi_status)
        for r in AuthorizationRecord.objects.order_by("pk")
    ]  # fmt: skip


def test_each_routed_authorization_is_recorded(net: Any, settings: Any) -> None:
    settings.OCPI_AUTHORIZE_TIMEOUT_S = 1.0
    ((cpo, _),) = net["cpos"]
    ((emsp, _),) = net["emsps"]
    emsp.set_objects("tokens", [token("TOK1"), token("TOK2")])
    to_emsp = routing_headers(to=("DE", "MS1"), frm=("NL", "CP1"))
    start = utc_now()
    # ALLOWED (the simulated eMSP allows its valid tokens)
    assert authorize(cpo, "TOK1", headers=to_emsp).json()["data"]["allowed"] == "ALLOWED"
    # BLOCKED
    blocked = {"allowed": "BLOCKED", "token": token("TOK2", valid=False)}
    emsp.set_reply(f"{EMSP_TOKENS}/TOK2/authorize", blocked, method="POST")
    assert authorize(cpo, "TOK2", headers=to_emsp).json()["data"]["allowed"] == "BLOCKED"
    # unknown to the eMSP: 404 + 2004
    assert authorize(cpo, "NOPE", headers=to_emsp).json()["status_code"] == 2004
    # the eMSP's own error (2002) relayed: REFUSED
    envelope = {"status_code": 2002, "status_message": "Location needed",
                "timestamp": "2024-05-01T10:00:00Z"}  # fmt: skip
    emsp.set_behaviour(f"{EMSP_TOKENS}/TOK1/authorize", envelope=envelope)
    assert authorize(cpo, "TOK1", headers=to_emsp).json()["status_code"] == 2002
    emsp.reset_behaviour()
    # too slow: 4002
    emsp.set_behaviour(f"{EMSP_TOKENS}/TOK1/authorize", delay=3.0)
    assert authorize(cpo, "TOK1", headers=to_emsp).json()["status_code"] == 4002
    emsp.reset_behaviour()
    # no eMSP known to own the token (open routing): 4001, FAILED, no eMSP named
    assert authorize(cpo, "TOK9").json()["status_code"] == 4001
    # a request the hub refuses as the CPO's error is no authorization: nothing recorded
    # (here a FROM party that is not the caller's, 2001)
    spoofed = routing_headers(to=("DE", "MS1"), frm=("NL", "XXX"))
    assert authorize(cpo, "TOK1", headers=spoofed).json()["status_code"] == 2001
    assert outcomes() == [
        ("NL*CP1", "DE*MS1", "ANSWERED", "ALLOWED", 1000),
        ("NL*CP1", "DE*MS1", "ANSWERED", "BLOCKED", 1000),
        ("NL*CP1", "DE*MS1", "UNKNOWN_TOKEN", "", 2004),
        ("NL*CP1", "DE*MS1", "REFUSED", "", 2002),
        ("NL*CP1", "DE*MS1", "TIMEOUT", "", 4002),
        ("NL*CP1", "*", "FAILED", "", 4001),
    ]
    # and the figures over them: 3 decisions (ALLOWED, BLOCKED, unknown), 3 failures of 6
    figures = authorization_figures(
        Period(start, utc_now()), Perspective(PartyRef("NL", "CP1"), "CPO")
    )
    assert (figures["allow_rate"], figures["deny_rate"], figures["failure_rate"]) == (
        round(1 / 3, 4),
        round(2 / 3, 4),
        0.5,
    )
