"""Sessions through the live hub to an extrawest-ocpi eMSP, an independent OCPI 2.2.1
implementation whose pydantic `Session`/`SessionPartialUpdate` models validate what the hub
sends (2.2.1 mod_sessions, Receiver; DESIGN §3).

The network: the extrawest eMSP DE*EXE registered hub-initiated, a simulated CPO NL*CP1
registered partner-initiated, and a real Celery worker delivering the hub's outbox.

What the library does differently (see extrawest/NOTES.md), and why the hub needs no change:
  * it stores every CiString lower-cased, the session id and the cdr_token's included;
  * it answers PUT/PATCH with `"data": [object]`: the hub ignores the data of a push answer;
  * its PATCH sets the given fields, `charging_periods` included, instead of appending them
    (2.2.1: a PATCH's periods are added): harmless here, because the hub never PATCHes
    periods — any change of `charging_periods` is delivered as a PUT of the whole session;
  * it sends no routing headers: the hub takes its FROM party from the token alone.
"""

import copy
from typing import Any

import pytest

from hub.models import PushAttempt, PushDelivery
from tests.cpo_gateway.api.test_sessions import period, session
from tests.interop.extrawest_partner import ExtrawestPartner
from tests.interop.test_extrawest_locations import without_unset
from tests.worker import wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    # the module shares one Celery worker (interop_worker): keep its tests on one xdist worker
    pytest.mark.xdist_group("extrawest_sessions"),
]

XW_SESSION = "/ocpi/emsp/2.2.1/sessions/NL/CP1/SES-0001"
KEY = "nl/cp1/ses-0001"


def exe_session(**fields: Any) -> dict[str, Any]:
    return session(owner=("DE", "EXE"), **fields)


def ci_lower(obj: dict[str, Any]) -> dict[str, Any]:
    """A session with its CiStrings lower-cased, as extrawest stores them."""
    obj = copy.deepcopy(obj)
    for name in ("country_code", "party_id", "id", "location_id", "evse_uid", "connector_id"):
        obj[name] = obj[name].lower()
    if obj.get("authorization_reference"):
        obj["authorization_reference"] = obj["authorization_reference"].lower()
    for name in ("country_code", "party_id", "uid", "contract_id"):
        obj["cdr_token"][name] = obj["cdr_token"][name].lower()
    for charging_period in obj.get("charging_periods") or []:
        if charging_period.get("tariff_id"):
            charging_period["tariff_id"] = charging_period["tariff_id"].lower()
    return obj


def answered(extrawest: ExtrawestPartner, method: str, count: int = 1) -> dict[str, Any]:
    """The `count`-th answered `method` request to the session; waits (bounded)."""
    found: list[dict[str, Any]] = []

    def arrived() -> bool:
        found[:] = [
            r
            for r in extrawest.state()["requests"]
            if r["method"] == method and r["path"] == XW_SESSION and r["response"] is not None
        ]
        return len(found) >= count

    assert wait_until(arrived, timeout=45), f"extrawest never got {method} #{count}"
    return found[count - 1]


def test_session_put_patch_and_new_periods_are_accepted_by_extrawest(
    extrawest_emsp_net: Any,
) -> None:
    extrawest, platform, cpo = extrawest_emsp_net
    # when: the CPO PUTs a session of DE*EXE's token (no TO: open routing)
    assert cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=exe_session()).status_code == 201
    # then: extrawest's `Session` model accepted it (session-only dimensions included)
    put = answered(extrawest, "PUT")
    assert put["body"] == exe_session()
    assert (put["status"], put["response"]["status_code"]) == (200, 1000)
    assert put["headers"]["ocpi-from-party-id"] == "CP1"
    assert put["headers"]["ocpi-to-party-id"] == "EXE"
    stored = extrawest.state()["objects"]["sessions"][KEY]
    assert without_unset(stored) == ci_lower(exe_session())
    # when: a PATCH of fields, then a PATCH appending a period
    patch = {"kwh": 6.5, "status": "ACTIVE", "last_updated": "2024-05-01T10:30:00Z"}
    assert cpo.request("PATCH", "sessions/NL/CP1/SES-0001", json=patch).status_code == 200
    patched = answered(extrawest, "PATCH")
    assert patched["body"] == patch
    assert (patched["status"], patched["response"]["status_code"]) == (200, 1000)
    second = period("2024-05-01T10:20:00Z", 3.0)
    appended = {"charging_periods": [second], "last_updated": "2024-05-01T10:40:00Z"}
    assert cpo.request("PATCH", "sessions/NL/CP1/SES-0001", json=appended).status_code == 200
    # then: the new period arrives in a PUT of the whole session, so extrawest (which would
    # replace the periods on a PATCH) ends with both
    replaced = answered(extrawest, "PUT", count=2)
    assert (replaced["status"], replaced["response"]["status_code"]) == (200, 1000)
    expected = {**exe_session(), "kwh": 6.5, "last_updated": "2024-05-01T10:40:00Z"}
    expected["charging_periods"] = [*exe_session()["charging_periods"], second]
    stored = extrawest.state()["objects"]["sessions"][KEY]
    assert without_unset(stored) == ci_lower(expected)
    # and the hub recorded one accepted attempt per delivery
    deliveries = PushDelivery.objects.filter(receiver=platform, module="sessions")
    assert wait_until(lambda: {d.status for d in deliveries.all()} == {"DELIVERED"}, timeout=30)
    attempts = PushAttempt.objects.filter(
        delivery__receiver=platform, delivery__module="sessions"
    ).order_by("pk")
    assert [(a.method, a.http_status, a.ocpi_status) for a in attempts] == [
        ("PUT", 200, 1000),
        ("PATCH", 200, 1000),
        ("PUT", 200, 1000),
    ]


def test_extrawest_pulls_its_sessions_and_sets_preferences_without_routing_headers(
    extrawest_emsp_net: Any, hub_url: str
) -> None:
    extrawest, _, cpo = extrawest_emsp_net
    cpo.request("PUT", "sessions/NL/CP1/SES-0001", json=exe_session())
    base = f"{hub_url}/ocpi/2.2.1/emsp/sessions"
    # the library's own client: no OCPI-from/to headers, the token says who it is
    pulled = extrawest.call("GET", f"{base}?date_from=2024-05-01T00:00:00Z")
    assert pulled["status_code"] == 200
    assert pulled["json"]["data"] == [exe_session()]
    cpo.set_reply("/ocpi/2.2.1/sessions/SES-0001/charging_preferences", "ACCEPTED", method="PUT")
    answer = extrawest.call(
        "PUT", f"{base}/SES-0001/charging_preferences", json={"profile_type": "GREEN"}
    )
    assert answer["status_code"] == 200
    assert (answer["json"]["status_code"], answer["json"]["data"]) == (1000, "ACCEPTED")
    received = cpo.wait_for(lambda r: r.path.endswith("/charging_preferences"), timeout=10)
    assert received.json == {"profile_type": "GREEN"}
    assert received.headers["OCPI-from-party-id"] == "EXE"  # from the stored session's token
