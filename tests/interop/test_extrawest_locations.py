"""Locations and tariffs through the live hub to an extrawest-ocpi eMSP, an independent OCPI
2.2.1 implementation whose own pydantic models validate what the hub sends (2.2.1
mod_locations / mod_tariffs, Receiver interface; DESIGN §3-5).

The network: the extrawest eMSP DE*EXE registered hub-initiated (`ocpi_connect`), a simulated
eMSP DE*MS1 and a simulated CPO NL*CP1 registered partner-initiated, and a real Celery worker
on the real broker delivering the hub's outbox.

Where the library deviates from 2.2.1, an assertion says so (see extrawest/NOTES.md):
  * it lower-cases every CiString it stores (ids, evse_id, country/party) - allowed by the
    type (case-insensitive), so the hub never relies on the partner echoing the spelling;
  * it answers single-object PUT/PATCH with `"data": [object]` - the hub ignores the data of
    a push answer and relays a forwarded one unchanged;
  * its endpoint URLs end with "/" and it redirects (307) "/locations/x/" - the hub joins
    `endpoint.rstrip("/") + "/cc/pid/id"`, so it never meets a redirect;
  * as Receiver it does not bump the Location's `last_updated` on an EVSE PATCH (2.2.1
    mod_locations: the Receiver SHALL) - nothing the hub can fix, documented below;
  * its models take `EVSE.status_schedule` as one object (2.2.1: a list) and refuse the
    spec's form with a FastAPI 422 (as they refuse an `EnergyMix` without `energy_sources`,
    `supplier_name` or `energy_product_name`, optional in 2.2.1 - not exercised here); the
    hub records the refusal and does not retry: it never rewrites a CPO's object to suit
    one receiver;
  * its DateTime drops fractional seconds from what it stores.

None of these needed a change in the hub.
"""

import base64
import copy
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from hub.models import Location, OcpiExchange, Platform, PushAttempt, PushDelivery
from partners.simulated import SimulatedPartner
from tests.integration.hubnet import connect, role, routing_headers
from tests.integration.test_location_broadcast import location, tariff
from tests.interop.extrawest_partner import ExtrawestPartner
from tests.worker import wait_until

pytestmark = [
    pytest.mark.interop,
    pytest.mark.worker,
    pytest.mark.django_db(transaction=True),
    # the module shares one Celery worker (interop_worker): keep its tests on one xdist worker
    pytest.mark.xdist_group("extrawest_locations"),
]

SIM_LOCATIONS = "/ocpi/2.2.1/locations/NL/CP1"
# The extrawest eMSP's endpoints, as it advertises them (with a trailing slash).
XW_LOCATIONS = "/ocpi/emsp/2.2.1/locations/"
XW_TARIFFS = "/ocpi/emsp/2.2.1/tariffs/"


class Net:
    """The parties around the live hub."""

    def __init__(
        self,
        hub_url: str,
        extrawest: ExtrawestPartner,
        extrawest_platform: Platform,
        emsp: SimulatedPartner,
        cpo: SimulatedPartner,
    ) -> None:
        self.hub_url = hub_url
        self.extrawest = extrawest
        self.extrawest_platform = extrawest_platform
        self.emsp = emsp
        self.cpo = cpo

    def extrawest_requests(self, method: str, path_prefix: str) -> list[dict[str, Any]]:
        """Requests the extrawest eMSP received (its own inbound log), answered or not."""
        return [
            r
            for r in self.extrawest.state()["requests"]
            if r["method"] == method and r["path"].startswith(path_prefix)
        ]

    def extrawest_answered(self, method: str, path: str) -> dict[str, Any]:
        """Wait (bounded) until the extrawest eMSP sent its whole answer to `method path`;
        return its log entry."""
        found: list[dict[str, Any]] = []

        def answered() -> bool:
            found[:] = [
                r
                for r in self.extrawest_requests(method, path)
                if r["path"] == path and r["response"] is not None
            ]
            return bool(found)

        assert wait_until(answered, timeout=20), f"extrawest never got {method} {path}"
        return found[-1]


@pytest.fixture
def net(hub_url: str, interop_worker: Any, extrawest_python: str) -> Iterator[Net]:
    with (
        ExtrawestPartner(role="EMSP", country_code="DE", party_id="EXE") as extrawest,
        SimulatedPartner(roles=[role("EMSP", "DE", "MS1")]) as emsp,
        SimulatedPartner(roles=[role("CPO", "NL", "CP1")]) as cpo,
    ):
        # hub-initiated: the library can only answer a registration
        call_command(
            "ocpi_connect",
            versions_url=extrawest.versions_url,
            token_a=extrawest.token_a,
            name="Extrawest eMSP",
        )
        platform = Platform.objects.get(name="Extrawest eMSP")
        assert [str(r) for r in platform.roles.all()] == ["DE*EXE EMSP"]
        connect(emsp, "eMSP 1")
        connect(cpo, "CPO 1")
        yield Net(hub_url, extrawest, platform, emsp, cpo)


def ci_lower(obj: dict[str, Any]) -> dict[str, Any]:
    """`obj` with the CiStrings of a Location/Tariff lower-cased, as extrawest stores them."""
    obj = copy.deepcopy(obj)
    for name in ("country_code", "party_id", "id"):
        obj[name] = obj[name].lower()
    for evse in obj.get("evses", []):
        evse["uid"] = evse["uid"].lower()
        if evse.get("evse_id"):
            evse["evse_id"] = evse["evse_id"].lower()
        for connector in evse.get("connectors", []):
            connector["id"] = connector["id"].lower()
    return obj


def without_unset(value: Any) -> Any:
    """Drop the null and [] optional fields the library's pydantic models fill in."""
    if isinstance(value, dict):
        return {k: without_unset(v) for k, v in value.items() if v is not None and v != []}
    if isinstance(value, list):
        return [without_unset(v) for v in value]
    return value


def delivery_status(delivery: PushDelivery) -> str:
    delivery.refresh_from_db()
    return str(delivery.status)


def assert_hub_auth(request: dict[str, Any], platform: Platform) -> None:
    """The hub called with Token C, base64-encoded as 2.2.1 says (the library only decodes)."""
    scheme, credential = request["headers"]["authorization"].split(" ", 1)
    assert scheme == "Token"
    assert base64.b64decode(credential).decode() == platform.outbound_token


def test_location_put_and_evse_patch_are_accepted_by_extrawest(net: Net) -> None:
    headers = routing_headers(frm=("NL", "CP1"))
    # when: the CPO PUTs a location to the hub (broadcast push)
    response = net.cpo.request(
        "PUT", "locations/NL/CP1/LOC1", role="RECEIVER", json=location(), headers=headers
    )
    assert response.status_code == 201
    assert response.json()["status_code"] == 1000
    # then: the simulated eMSP gets it unchanged
    sim = net.emsp.wait_for(
        lambda r: r.method == "PUT" and r.path == f"{SIM_LOCATIONS}/LOC1", timeout=20
    )
    assert sim.json == location()
    # and the extrawest eMSP too, at the advertised URL joined without a double slash or a
    # redirect (the URL keeps the owner's spelling), with the same body
    put = net.extrawest_answered("PUT", f"{XW_LOCATIONS}NL/CP1/LOC1")
    assert put["body"] == location()
    assert_hub_auth(put, net.extrawest_platform)
    assert put["headers"]["ocpi-to-party-id"] == "EXE"  # sent; the library ignores them
    assert put["headers"]["x-correlation-id"] == headers["X-Correlation-ID"]
    # its own validation (pydantic `Location`) accepted it: 200 + 1000 ...
    assert put["status"] == 200
    assert put["response"]["status_code"] == 1000
    # library deviation: a single object answered inside a list; the hub ignores push data
    assert isinstance(put["response"]["data"], list)
    # ... and it stored what the hub sent: equal up to CiString case and its filled-in nulls
    stored = net.extrawest.state()["objects"]["locations"]["nl/cp1/loc1"]
    assert without_unset(stored) == ci_lower(location())
    assert stored["last_updated"] == "2024-05-01T10:00:00Z"
    # library choice (CiStrings are case-insensitive): ids are stored lower-cased
    assert (stored["id"], stored["evses"][0]["uid"], stored["evses"][0]["evse_id"]) == (
        "loc1",
        "evse1",
        "nl*cp1*e1",
    )

    # when: the CPO PATCHes the EVSE's status
    patch = {"status": "CHARGING", "last_updated": "2024-05-01T10:05:00Z"}
    response = net.cpo.request(
        "PATCH", "locations/NL/CP1/LOC1/EVSE1", role="RECEIVER", json=patch, headers=headers
    )
    assert response.status_code == 200
    # then: both eMSPs receive a PATCH of the EVSE carrying just those fields
    sim = net.emsp.wait_for(
        lambda r: r.method == "PATCH" and r.path == f"{SIM_LOCATIONS}/LOC1/EVSE1", timeout=20
    )
    assert sim.json == patch
    patched = net.extrawest_answered("PATCH", f"{XW_LOCATIONS}NL/CP1/LOC1/EVSE1")
    assert patched["body"] == patch
    assert patched["status"] == 200
    assert patched["response"]["status_code"] == 1000  # `EVSEPartialUpdate` accepted it
    stored = net.extrawest.state()["objects"]["locations"]["nl/cp1/loc1"]
    (evse,) = stored["evses"]
    assert evse["uid"] == "evse1"
    assert evse["status"] == "CHARGING"
    assert evse["last_updated"] == "2024-05-01T10:05:00Z"  # as the CPO sent it
    assert evse["connectors"][0]["last_updated"] == "2024-05-01T10:00:00Z"
    # library deviation (2.2.1 mod_locations, PATCH: the Receiver SHALL set the EVSE's
    # last_updated on the Location too): extrawest keeps the Location's old timestamp. The
    # hub's PATCH is spec-conform and the hub's own store has the bump (see the pull test), so the
    # hub does not paper over it with an extra Location PATCH.
    assert stored["last_updated"] == "2024-05-01T10:00:00Z"
    # and the hub recorded every attempt: one each, 200/1000, nothing redirected or retried
    deliveries = PushDelivery.objects.filter(receiver=net.extrawest_platform, module="locations")
    assert wait_until(lambda: {d.status for d in deliveries.all()} == {"DELIVERED"}, timeout=10)
    attempts = PushAttempt.objects.filter(
        delivery__receiver=net.extrawest_platform, delivery__module="locations"
    ).order_by("pk")
    assert [(a.method, a.http_status, a.ocpi_status) for a in attempts] == [
        ("PUT", 200, 1000),
        ("PATCH", 200, 1000),
    ]
    assert attempts[0].request_id == put["headers"]["x-request-id"]
    assert not OcpiExchange.objects.filter(
        platform=net.extrawest_platform, http_status__gte=300
    ).exists()


def test_tariff_put_and_delete_are_accepted_by_extrawest(net: Net) -> None:
    # when: the CPO PUTs a tariff
    response = net.cpo.request("PUT", "tariffs/NL/CP1/T1", role="RECEIVER", json=tariff())
    assert response.status_code == 201
    # then: both eMSPs get it
    sim = net.emsp.wait_for(
        lambda r: r.method == "PUT" and r.path == "/ocpi/2.2.1/tariffs/NL/CP1/T1", timeout=20
    )
    assert sim.json == tariff()
    put = net.extrawest_answered("PUT", f"{XW_TARIFFS}NL/CP1/T1")
    assert put["body"] == tariff()
    assert_hub_auth(put, net.extrawest_platform)
    assert (put["status"], put["response"]["status_code"]) == (200, 1000)  # pydantic `Tariff`
    stored = net.extrawest.state()["objects"]["tariffs"]["nl/cp1/t1"]
    assert without_unset(stored) == ci_lower(tariff())
    assert stored["last_updated"] == "2024-05-01T10:00:00Z"
    # when: the CPO deletes it
    assert net.cpo.request("DELETE", "tariffs/NL/CP1/T1", role="RECEIVER").status_code == 200
    # then: both eMSPs get the DELETE, and extrawest removed its copy
    net.emsp.wait_for(
        lambda r: r.method == "DELETE" and r.path == "/ocpi/2.2.1/tariffs/NL/CP1/T1", timeout=20
    )
    deleted = net.extrawest_answered("DELETE", f"{XW_TARIFFS}NL/CP1/T1")
    assert (deleted["status"], deleted["response"]["status_code"]) == (200, 1000)
    state = net.extrawest.state()
    assert "nl/cp1/t1" not in state["objects"]["tariffs"]
    assert [d["key"] for d in state["deleted"]] == ["nl/cp1/t1"]
    # and the hub marked both deliveries delivered
    deliveries = PushDelivery.objects.filter(receiver=net.extrawest_platform, module="tariffs")
    assert wait_until(lambda: {d.status for d in deliveries.all()} == {"DELIVERED"}, timeout=10)
    assert [d.operation for d in deliveries.order_by("pk")] == ["PUT", "DELETE"]


def test_extrawest_pulls_locations_from_the_hub(net: Net) -> None:
    # given: two locations at the hub, LOC1 newer (its EVSE patched) than LOC2
    older = location("LOC2", last_updated="2024-04-01T08:00:00Z")
    for loc in (location(), older):
        response = net.cpo.request(
            "PUT", f"locations/NL/CP1/{loc['id']}", role="RECEIVER", json=loc
        )
        assert response.status_code == 201
    patch = {"status": "CHARGING", "last_updated": "2024-05-01T10:05:00Z"}
    net.cpo.request("PATCH", "locations/NL/CP1/LOC1/EVSE1", role="RECEIVER", json=patch)
    url = f"{net.hub_url}/ocpi/2.2.1/emsp/locations"
    # when: the extrawest eMSP GETs the hub's Sender list with the token it holds (sent the
    # library's way: Token base64(B), no routing headers - GET all via the hub)
    listed = net.extrawest.call("GET", url)
    # then: both locations, as the hub stores them (the EVSE patch applied, parents bumped)
    assert listed["status_code"] == 200
    body = listed["json"]
    assert body["status_code"] == 1000
    assert listed["headers"]["x-total-count"] == "2"
    by_id = {loc["id"]: loc for loc in body["data"]}
    assert set(by_id) == {"LOC1", "LOC2"}
    assert by_id["LOC1"]["evses"][0]["status"] == "CHARGING"
    assert by_id["LOC1"]["last_updated"] == "2024-05-01T10:05:00Z"
    assert by_id["LOC2"] == older
    # when: only what changed since 1 May (date_from is inclusive)
    since = net.extrawest.call("GET", f"{url}?date_from=2024-05-01T10:05:00Z")
    # then: LOC1 only
    assert since["json"]["status_code"] == 1000
    assert [loc["id"] for loc in since["json"]["data"]] == ["LOC1"]
    assert since["headers"]["x-total-count"] == "1"
    later = net.extrawest.call("GET", f"{url}?date_from=2024-05-01T10:05:01Z")
    assert later["json"]["data"] == []
    # and a page of one carries a Link the partner can follow with the same token
    page = net.extrawest.call("GET", f"{url}?limit=1")
    assert len(page["json"]["data"]) == 1
    next_url = page["headers"]["link"].split(";")[0].strip("<>")
    rest = net.extrawest.call("GET", next_url)
    assert rest["json"]["status_code"] == 1000
    assert {page["json"]["data"][0]["id"], rest["json"]["data"][0]["id"]} == {"LOC1", "LOC2"}


def test_cpo_put_addressed_to_extrawest_reaches_only_it(net: Net) -> None:
    headers = routing_headers(to=("DE", "EXE"), frm=("NL", "CP1"))
    # when: the CPO PUTs a location addressed to the extrawest eMSP (direct routing)
    response = net.cpo.request(
        "PUT", "locations/NL/CP1/LOC9", role="RECEIVER", json=location("LOC9"), headers=headers
    )
    # then: forwarded synchronously - extrawest has it before the hub answers
    assert response.status_code == 200
    body = response.json()
    assert body["status_code"] == 1000
    # library deviation: `"data": [location]`; a routing hub forwards the answer unchanged
    assert [loc["id"] for loc in body["data"]] == ["loc9"]
    (received,) = net.extrawest_requests("PUT", f"{XW_LOCATIONS}NL/CP1/LOC9")
    assert received["body"] == location("LOC9")
    assert received["headers"]["ocpi-from-party-id"] == "CP1"  # FROM kept: not a broadcast
    assert received["headers"]["ocpi-to-party-id"] == "EXE"
    assert received["headers"]["x-correlation-id"] == headers["X-Correlation-ID"]
    assert received["headers"]["x-request-id"] != headers["X-Request-ID"]
    assert without_unset(net.extrawest.state()["objects"]["locations"]["nl/cp1/loc9"]) == (
        ci_lower(location("LOC9"))
    )
    # the hub neither stored nor queued it
    assert not Location.objects.exists()
    assert not PushDelivery.objects.filter(module="locations").exists()
    # when: a broadcast PUT follows, and has gone through the worker to both eMSPs
    net.cpo.request("PUT", "locations/NL/CP1/LOC2", role="RECEIVER", json=location("LOC2"))
    net.emsp.wait_for(lambda r: r.method == "PUT" and r.path == f"{SIM_LOCATIONS}/LOC2", timeout=20)
    net.extrawest_answered("PUT", f"{XW_LOCATIONS}NL/CP1/LOC2")
    # then: the simulated eMSP got that one, and still nothing of the addressed LOC9
    assert [r.path for r in net.emsp.requests_to("/ocpi/2.2.1/locations")] == [
        f"{SIM_LOCATIONS}/LOC2"
    ]
    assert len(net.extrawest_requests("PUT", f"{XW_LOCATIONS}NL/CP1/LOC9")) == 1


def test_spec_valid_objects_extrawest_models_mishandle(net: Net) -> None:
    # given: a location valid in 2.2.1 - its EVSE announces maintenance (`status_schedule`,
    # StatusSchedule * = a list) - and one whose last_updated has fractional seconds
    scheduled = location("LOC7")
    scheduled["evses"][0]["status_schedule"] = [
        {"period_begin": "2024-06-01T08:00:00Z", "period_end": "2024-06-01T12:00:00Z",
         "status": "OUTOFORDER"}
    ]  # fmt: skip
    precise = location("LOC8", last_updated="2024-05-01T10:00:00.250Z")
    for loc in (scheduled, precise):
        response = net.cpo.request(
            "PUT", f"locations/NL/CP1/{loc['id']}", role="RECEIVER", json=loc
        )
        assert response.status_code == 201  # the hub validates against 2.2.1 and accepts
    # then: the simulated eMSP stores both as sent
    for loc in (scheduled, precise):
        sim = net.emsp.wait_for(
            lambda r, loc=loc: r.method == "PUT" and r.path == f"{SIM_LOCATIONS}/{loc['id']}",
            timeout=20,
        )
        assert sim.json == loc

    # library deviation: extrawest models EVSE.status_schedule as one StatusSchedule, not a
    # list, so its pydantic validation refuses the spec's form with a FastAPI 422 (no OCPI
    # envelope). The hub must not rewrite a CPO's object to suit one receiver, so it records
    # the refusal and, as for every 4xx, does not retry (DESIGN §5).
    refused = net.extrawest_answered("PUT", f"{XW_LOCATIONS}NL/CP1/LOC7")
    assert refused["body"] == scheduled
    assert refused["status"] == 422
    assert refused["response"]["detail"][0]["loc"][:4] == ["body", "evses", 0, "status_schedule"]
    assert "nl/cp1/loc7" not in net.extrawest.state()["objects"].get("locations", {})
    delivery = PushDelivery.objects.get(
        receiver=net.extrawest_platform, module="locations", object_key="NL/CP1/LOC7"
    )
    assert wait_until(lambda: delivery_status(delivery) == "FAILED", timeout=10)
    delivery.refresh_from_db()
    assert delivery.last_error.startswith("HTTP 422")
    (attempt,) = delivery.tries.all()
    assert (attempt.http_status, attempt.ocpi_status) == (422, None)
    assert attempt.request_id == refused["headers"]["x-request-id"]
    # the receiver stays connected: a refused object is not an unreachable platform
    net.extrawest_platform.refresh_from_db()
    assert net.extrawest_platform.status == "CONNECTED"

    # library deviation: its DateTime drops fractional seconds (2.2.1 types: "Fractional
    # seconds MAY be used"); the hub sent last_updated unchanged, the library stores less.
    truncated = net.extrawest_answered("PUT", f"{XW_LOCATIONS}NL/CP1/LOC8")
    assert truncated["body"]["last_updated"] == "2024-05-01T10:00:00.250Z"
    assert (truncated["status"], truncated["response"]["status_code"]) == (200, 1000)
    stored = net.extrawest.state()["objects"]["locations"]["nl/cp1/loc8"]
    assert stored["last_updated"] == "2024-05-01T10:00:00Z"
