"""The hub the fuzzer talks to: its own database, a CPO and an eMSP registered through the real
handshake with simulated partners on 127.0.0.1, and a few stored objects so that GETs and
PATCHes reach real rows."""

import base64
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.test import Client
from django.test.testcases import LiveServerThread
from django.test.utils import setup_databases, teardown_databases

from partners.ocpi import DEFAULT_MODULES_BY_ROLE
from partners.simulated import SimulatedPartner
from tests.fixtures import load_ocpi_fixture as load_fixture

CPO = ("NL", "CP1")
EMSP = ("DE", "MS1")
LOCATION_ID = "LOC1"


@dataclass(frozen=True)
class Identity:
    """Whose token a request carries, and the party it speaks for."""

    name: str
    token: str
    party: tuple[str, str] | None = None

    @property
    def authorization(self) -> str:
        return "Token " + base64.b64encode(self.token.encode()).decode()


@dataclass
class World:
    cpo: Identity
    emsp: Identity
    token_a: Identity
    stranger: Identity
    #: Known ids, for cases that must reach stored objects rather than random ones.
    known: dict[str, str] = field(default_factory=dict)


def _role(kind: str, party: tuple[str, str]) -> dict[str, Any]:
    return {
        "role": kind,
        "country_code": party[0],
        "party_id": party[1],
        "business_details": {"name": f"Fuzz {kind}"},
    }


@contextmanager
def database() -> Iterator[None]:
    """A fresh test database: SQLite file per run (settings.test), or a `test_fuzz_<pid>`
    database on the DATABASE_URL server."""
    db = settings.DATABASES["default"]
    if db["ENGINE"] != "django.db.backends.sqlite3":
        db.setdefault("TEST", {})["NAME"] = f"test_fuzz_{os.getpid()}"
    old = setup_databases(verbosity=0, interactive=False)
    try:
        yield
    finally:
        teardown_databases(old, verbosity=0)


@contextmanager
def live_hub() -> Iterator[str]:
    """The hub over HTTP, only for the registration handshakes (partners call it back)."""
    thread = LiveServerThread("127.0.0.1", _as_is, port=0)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    url = f"http://127.0.0.1:{thread.port}"
    previous = settings.OCPI_BASE_URL
    settings.OCPI_BASE_URL = url
    try:
        yield url
    finally:
        thread.terminate()
        settings.OCPI_BASE_URL = previous


def _as_is(application: Any) -> Any:
    """LiveServerThread wraps the hub in a static-files handler; the OCPI API needs none."""
    return application


def _modules(role: str) -> list[tuple[str, str]]:
    return [("credentials", "SENDER"), *DEFAULT_MODULES_BY_ROLE[role]]


def _register(partner: SimulatedPartner, name: str) -> str:
    from hub.services.registry.credentials import hub_versions_url, platform_invite

    _, token_a = platform_invite(name=name)
    partner.register_with(hub_versions_url(), token_a)
    assert partner.hub_token
    return partner.hub_token


def _seed(world: World) -> None:
    """Store a location, tariff, session and CDR of the CPO and a token of the eMSP through
    the hub's own API, so the stored rows are exactly what a partner would create."""
    client = Client(SERVER_NAME="localhost")

    def call(who: Identity, method: str, path: str, body: Any) -> None:
        response = client.generic(
            method,
            path,
            data=json.dumps(body),
            content_type="application/json",
            headers={"Authorization": who.authorization},
        )
        status = response.json().get("status_code")
        if status != 1000:
            raise RuntimeError(f"seeding {method} {path}: {response.status_code} {response.json()}")

    cc, pid = CPO
    location = load_fixture("locations", "location_full")
    location.update(country_code=cc, party_id=pid, id=LOCATION_ID)
    call(world.cpo, "PUT", f"/ocpi/2.2.1/cpo/locations/{cc}/{pid}/{LOCATION_ID}", location)
    tariff = load_fixture("tariffs", "tariff_complex")
    tariff.update(country_code=cc, party_id=pid)
    call(world.cpo, "PUT", f"/ocpi/2.2.1/cpo/tariffs/{cc}/{pid}/{tariff['id']}", tariff)
    token = load_fixture("tokens", "token_rfid")
    token.update(country_code=EMSP[0], party_id=EMSP[1])
    call(world.emsp, "PUT", f"/ocpi/2.2.1/emsp/tokens/{EMSP[0]}/{EMSP[1]}/{token['uid']}", token)
    session = load_fixture("sessions", "session_active")
    call(world.cpo, "PUT", f"/ocpi/2.2.1/cpo/sessions/{cc}/{pid}/{session['id']}", session)
    cdr = load_fixture("cdrs", "cdr_delivery")
    call(world.cpo, "POST", "/ocpi/2.2.1/cpo/cdrs", cdr)
    evse = location["evses"][0]
    # A command in flight, so that results posted to its hub URL reach a real request.
    command = {
        "response_url": "https://emsp.example.com/ocpi/2.2.1/commands/START_SESSION/1",
        "token": token,
        "location_id": LOCATION_ID,
        "evse_uid": evse["uid"],
        "connector_id": evse["connectors"][0]["id"],
    }
    call(world.emsp, "POST", "/ocpi/2.2.1/emsp/commands/START_SESSION", command)
    from hub.models import AsyncRequest

    request_id = str(AsyncRequest.objects.latest("created_at").pk)
    world.known.update(
        country_code=cc,
        party_id=pid,
        location_id=LOCATION_ID,
        evse_uid=evse["uid"],
        connector_id=evse["connectors"][0]["id"],
        tariff_id=tariff["id"],
        session_id=session["id"],
        cdr_id=cdr["id"],
        token_uid=token["uid"],
        command="START_SESSION",
        request_id=request_id,
    )


@contextmanager
def fuzz_world() -> Iterator[World]:
    """Database, partners, registrations and stored objects; all torn down on exit."""
    from hub.services.registry.credentials import platform_invite

    with ExitStack() as stack:
        stack.enter_context(database())
        stack.callback(_purge_broker)
        # Both also implement charging profiles (not in the partners' defaults), so that
        # routed SET/GET/CLEAR requests and ActiveChargingProfile pushes have a receiver.
        cpo_partner = stack.enter_context(
            SimulatedPartner(
                roles=[_role("CPO", CPO)],
                modules=[*_modules("CPO"), ("chargingprofiles", "RECEIVER")],
                name="fuzz-cpo",
            )
        )
        emsp_partner = stack.enter_context(
            SimulatedPartner(
                roles=[_role("EMSP", EMSP)],
                modules=[*_modules("EMSP"), ("chargingprofiles", "SENDER")],
                name="fuzz-emsp",
            )
        )
        with live_hub():
            cpo_token = _register(cpo_partner, "Fuzz CPO")
            emsp_token = _register(emsp_partner, "Fuzz eMSP")
        _, token_a = platform_invite(name="Fuzz invitee")
        world = World(
            cpo=Identity("cpo", cpo_token, CPO),
            emsp=Identity("emsp", emsp_token, EMSP),
            token_a=Identity("token_a", token_a),
            stranger=Identity("stranger", "not-a-token-the-hub-issued"),
        )
        _seed(world)
        yield world


def _purge_broker() -> None:
    """Drop the deliveries the run enqueued (no worker consumes them)."""
    from hub.celery import app

    with app.connection_for_write() as conn:
        for queue in settings.HUB_WORKER_QUEUES:
            conn.default_channel.queue_purge(queue)
    folder = getattr(settings, "CELERY_BROKER_FOLDER", None)
    if folder and settings.CELERY_BROKER_URL.startswith("filesystem://"):
        for suffix in ("", "-processed", "-control"):
            shutil.rmtree(folder + suffix, ignore_errors=True)


__all__ = ["Identity", "World", "fuzz_world"]
