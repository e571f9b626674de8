"""The scripted day: five simulated partners register with the live hub through the
credentials handshake and then trade locations, status, tokens, an authorization, remote
start and stop, a session and its CDR; one eMSP goes down and catches up; the CDRs are
reconciled. Every fact printed is read back from the partners' received requests or the hub's
database, and every wait has a timeout (DemoError)."""

import io
import json
import random
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.management import call_command

from hub.management.demo import world
from hub.management.demo.console import Narrator
from hub.management.demo.hubproc import DemoError
from hub.models import (
    AsyncRequest,
    Cdr,
    CircuitState,
    DeliveryStatus,
    Location,
    OcpiExchange,
    Platform,
    PushAttempt,
    PushDelivery,
    ReceiverCircuit,
    ReconciliationReport,
    Session,
    Token,
)
from partners.ocpi import ocpi_timestamp, role
from partners.simulated import SimulatedPartner

V = "/ocpi/2.2.1"
STATUSES = ("CHARGING", "BLOCKED", "RESERVED", "INOPERATIVE", "OUTOFORDER")


@dataclass
class Party:
    """A plan and its running simulated partner (and, once registered, its platform)."""

    plan: world.PartyPlan
    partner: SimulatedPartner
    platform: Platform | None = None
    objects: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ref(self) -> tuple[str, str]:
        return (self.plan.country_code, self.plan.party_id)

    @property
    def label(self) -> str:
        return self.plan.label

    def accepted(self, method: str, prefix: str, depth: int | None = None) -> set[str]:
        """Distinct paths under `prefix` that this partner accepted (2xx) for `method`."""
        return {
            r.path
            for r in self.partner.received
            if r.method == method
            and r.path.startswith(prefix)
            and r.response_status is not None
            and 200 <= r.response_status < 300
            and (depth is None or r.path.count("/") == depth)
        }

    def count(self, method: str, prefix: str) -> int:
        """Requests (not distinct) under `prefix` this partner accepted for `method`."""
        return sum(
            1
            for r in self.partner.received
            if r.method == method
            and r.path.startswith(prefix)
            and r.response_status is not None
            and 200 <= r.response_status < 300
        )


@dataclass(frozen=True)
class StatusChange:
    cpo: Party
    location_id: str
    evse_uid: str
    status: str


def check(response: Any, what: str, *, codes: Iterable[int] = (200, 201)) -> Any:
    """The OCPI answer's data, or DemoError naming the request and what came back."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if response.status_code not in set(codes) or not isinstance(body, dict):
        raise DemoError(f"{what}: HTTP {response.status_code} {response.text[:300]}")
    if body.get("status_code") != 1000:
        raise DemoError(f"{what}: OCPI {body.get('status_code')} {body.get('status_message')}")
    return body.get("data")


class ScriptedDay:
    """The demo's partners and its steps, in order (`play`)."""

    def __init__(self, narrator: Narrator, *, quick: bool, seed: int = 2026) -> None:
        self.say = narrator
        self.quick = quick
        self.rng = random.Random(seed)
        cpo_plans, emsp_plans = world.network(quick=quick)
        self.cpos = [self._party(p) for p in cpo_plans]
        self.emsps = [self._party(p) for p in emsp_plans]
        self.hub = (settings.OCPI_COUNTRY_CODE, settings.OCPI_PARTY_ID)
        self.changed: set[tuple[str, str]] = set()  # (cpo key, location id) already patched

    @staticmethod
    def _party(plan: world.PartyPlan) -> Party:
        partner = SimulatedPartner(
            roles=[role(plan.role, plan.country_code, plan.party_id, name=plan.name)],
            name=plan.label,
            # A real eMSP keeps each location as one tree: an EVSE PATCH updates it.
            location_trees=plan.role == "EMSP",
            max_limit=100,
        )
        return Party(plan, partner)

    @property
    def parties(self) -> list[Party]:
        return [*self.cpos, *self.emsps]

    def stop(self) -> None:
        for party in self.parties:
            party.partner.stop()

    def headers(self, correlation_id: str) -> dict[str, str]:
        return {"X-Correlation-ID": correlation_id}

    def logged(self, correlation_id: str) -> str:
        count = OcpiExchange.objects.filter(correlation_id=correlation_id).count()
        return f"{count} exchanges in the hub's log under this X-Correlation-ID"

    # ---- the day ------------------------------------------------------------------------

    def play(self) -> None:
        self.start_partners()
        self.register()
        self.publish_locations()
        self.push_tokens()
        self.status_changes(10 if self.quick else 60, "morning status changes")
        self.authorize()
        session_id = self.remote_start()
        self.session_and_cdr(session_id)
        self.emsp_down_and_back()
        self.reconcile()
        self.summary()

    def start_partners(self) -> None:
        self.say.step("Simulated partners start on 127.0.0.1", correlated=False)
        for party in self.parties:
            party.partner.start()
            modules = ", ".join(f"{m} {r}" for m, r in party.partner.modules if m != "credentials")
            self.say.fact(f"{party.label} on {party.partner.base_url}")
            self.say.note(f"serves {modules}")

    def register(self) -> None:
        for party in self.parties:
            plan = party.plan
            cid = self.say.step(f"{party.label} registers with the hub", "register")
            out = io.StringIO()
            spec = f"{plan.country_code}-{plan.party_id}:{plan.role}"
            call_command("ocpi_invite", "--name", plan.name, "--party", spec, "--json", stdout=out)
            invite = json.loads(out.getvalue())
            self.say.note(
                f"hub admin: ocpi_invite --party {spec} → platform #{invite['platform_id']}, "
                f"Token A for {invite['versions_url']}"
            )
            party.partner.register_with(
                invite["versions_url"], invite["token_a"], correlation_id=cid
            )
            platform = Platform.objects.get(pk=invite["platform_id"])
            if not platform.registered:
                raise DemoError(
                    f"{party.label}: the handshake ended but the hub has no registration"
                )
            party.platform = platform
            endpoints = platform.endpoints.count()
            retry = party.partner.request(
                "GET", invite["versions_url"], token=invite["token_a"], headers=self.headers(cid)
            )
            if retry.status_code != 401:
                raise DemoError(f"{party.label}: Token A still opens the versions after use")
            self.say.fact(
                f"GET versions, GET 2.2.1 details, POST credentials: platform #{platform.pk} "
                f"{platform.status}, {endpoints} endpoints of the partner stored; "
                "Token A now gets 401"
            )
            self.say.note(self.logged(cid))
        others = len(self.parties) - 1
        self.say.wait(
            "HubClientInfo: every partner hears of the 4 others",
            others * len(self.parties),
            lambda: sum(
                min(others, len(p.accepted("PUT", f"{V}/hubclientinfo/"))) for p in self.parties
            ),
        )
        connected = Platform.objects.filter(registered=True, status="CONNECTED").count()
        self.say.fact(f"the hub has {connected} registered, CONNECTED platforms")

    def publish_locations(self) -> None:
        total = sum(c.plan.objects for c in self.cpos)
        cid = self.say.step(f"The CPOs publish {total} locations (PUT to the hub)", "locations")
        stamp = ocpi_timestamp(world.utc_now() - timedelta(minutes=5))
        jobs: list[tuple[Party, dict[str, Any]]] = []
        for cpo in self.cpos:
            cpo.objects = world.locations(cpo.plan, self.rng, stamp)
            cpo.partner.set_objects("locations", cpo.objects)  # its SENDER list, too
            jobs += [(cpo, location) for location in cpo.objects]

        def put(job: tuple[Party, dict[str, Any]]) -> None:
            cpo, location = job
            cc, pid = cpo.ref
            response = cpo.partner.request(
                "PUT",
                f"locations/{cc}/{pid}/{location['id']}",
                role="RECEIVER",
                json=location,
                headers=self.headers(cid),
                from_party=cpo.ref,
                to_party=self.hub,
            )
            check(response, f"{cpo.label} PUT location {location['id']}")

        self._run_all("PUT locations to the hub", jobs, put)
        evses = sum(len(loc["evses"]) for c in self.cpos for loc in c.objects)
        stored = Location.objects.count()
        self.say.fact(f"the hub stored {stored} locations with {evses} EVSEs (OCPI 1000 each)")
        self.say.wait(
            "the hub broadcasts them to both eMSPs",
            total * len(self.emsps),
            lambda: sum(len(e.accepted("PUT", f"{V}/locations/", depth=6)) for e in self.emsps),
        )
        for emsp in self.emsps:
            received = len(emsp.accepted("PUT", f"{V}/locations/", depth=6))
            delivered = PushDelivery.objects.filter(
                receiver=emsp.platform, module="locations", status=DeliveryStatus.DELIVERED
            ).count()
            self.say.fact(
                f"{emsp.label} received {received} locations "
                f"(the hub's outbox: {delivered} deliveries DELIVERED)"
            )

    def _run_all(
        self, label: str, jobs: list[Any], call: Callable[[Any], None], workers: int = 4
    ) -> None:
        """Send the requests of a step a few at a time, with a progress bar."""
        done = [0]
        failures: list[BaseException] = []

        def run() -> None:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                futures = [pool.submit(call, job) for job in jobs]
                for future in as_completed(futures):
                    error = future.exception()
                    if error is not None:
                        failures.append(error)
                    done[0] += 1

        with ThreadPoolExecutor(max_workers=1) as runner:
            running = runner.submit(run)
            self.say.wait(label, len(jobs), lambda: done[0] if not failures else len(jobs))
            running.result()
        if failures:
            raise DemoError(f"{label}: {len(failures)} failed; first: {failures[0]}")

    def push_tokens(self) -> None:
        total = sum(e.plan.objects for e in self.emsps)
        cid = self.say.step(f"The eMSPs push {total} tokens (PUT to the hub)", "tokens")
        stamp = ocpi_timestamp(world.utc_now() - timedelta(minutes=5))
        jobs = []
        for emsp in self.emsps:
            emsp.objects = world.tokens(emsp.plan, stamp)
            emsp.partner.set_objects("tokens", emsp.objects)  # what its authorize answers from
            jobs += [(emsp, token) for token in emsp.objects]

        def put(job: tuple[Party, dict[str, Any]]) -> None:
            emsp, token = job
            cc, pid = emsp.ref
            response = emsp.partner.request(
                "PUT",
                f"tokens/{cc}/{pid}/{token['uid']}",
                role="RECEIVER",
                json=token,
                params={"type": token["type"]},
                headers=self.headers(cid),
                from_party=emsp.ref,
                to_party=self.hub,
            )
            check(response, f"{emsp.label} PUT token {token['uid']}")

        self._run_all("PUT tokens to the hub", jobs, put)
        self.say.fact(f"the hub stored {Token.objects.count()} tokens")
        self.say.wait(
            "the hub broadcasts them to the three CPOs",
            total * len(self.cpos),
            lambda: sum(len(c.accepted("PUT", f"{V}/tokens/")) for c in self.cpos),
        )
        for cpo in self.cpos:
            self.say.fact(f"{cpo.label} received {len(cpo.accepted('PUT', f'{V}/tokens/'))} tokens")

    # ---- status changes -----------------------------------------------------------------

    def pick_changes(self, count: int) -> list[StatusChange]:
        """`count` EVSEs of locations not changed before (one change per location, so the
        second-precision `last_updated` of each change is newer than what the hub holds)."""
        candidates = [
            (cpo, location)
            for cpo in self.cpos
            for location in cpo.objects
            if (cpo.plan.key, location["id"]) not in self.changed
        ]
        chosen = self.rng.sample(candidates, min(count, len(candidates)))
        changes = []
        for cpo, location in chosen:
            self.changed.add((cpo.plan.key, location["id"]))
            evse = self.rng.choice(location["evses"])
            changes.append(
                StatusChange(cpo, location["id"], evse["uid"], self.rng.choice(STATUSES))
            )
        return changes

    def send_changes(self, changes: list[StatusChange], cid: str) -> None:
        def patch(change: StatusChange) -> None:
            cc, pid = change.cpo.ref
            response = change.cpo.partner.request(
                "PATCH",
                f"locations/{cc}/{pid}/{change.location_id}/{change.evse_uid}",
                role="RECEIVER",
                json={"status": change.status, "last_updated": ocpi_timestamp()},
                headers=self.headers(cid),
                from_party=change.cpo.ref,
                to_party=self.hub,
            )
            check(response, f"{change.cpo.label} PATCH EVSE {change.evse_uid}")

        self._run_all("PATCH EVSE statuses to the hub", changes, patch)

    @staticmethod
    def holds(emsp: Party, change: StatusChange) -> bool:
        """Whether the eMSP's copy of the location shows the change."""
        cc, pid = change.cpo.ref
        location = emsp.partner.stored_object("locations", cc, pid, change.location_id)
        if not isinstance(location, dict):
            return False
        evses: list[dict[str, Any]] = location.get("evses", [])
        evse: dict[str, Any] = next((e for e in evses if e.get("uid") == change.evse_uid), {})
        return evse.get("status") == change.status

    def status_changes(self, count: int, what: str) -> list[StatusChange]:
        cid = self.say.step(f"{count} EVSE status changes (PATCH to the hub)", "status")
        changes = self.pick_changes(count)
        before = {e.plan.key: e.count("PATCH", f"{V}/locations/") for e in self.emsps}
        self.send_changes(changes, cid)
        self.say.wait(
            f"{what} reach both eMSPs",
            len(changes) * len(self.emsps),
            lambda: sum(self.holds(e, c) for e in self.emsps for c in changes),
        )
        for emsp in self.emsps:
            patches = emsp.count("PATCH", f"{V}/locations/") - before[emsp.plan.key]
            self.say.fact(
                f"{emsp.label} holds all {len(changes)} new statuses ({patches} EVSE PATCHes)"
            )
        self.say.note(self.logged(cid))
        return changes

    # ---- authorization, commands, session, CDR ------------------------------------------

    def authorize(self) -> None:
        cpo, emsp = self.cpos[2], self.emsps[1]
        token = emsp.objects[1]  # an RFID card: whitelist NEVER, the charger must ask
        location = cpo.objects[0]
        cid = self.say.step(
            f"Real-time authorization: a driver holds {emsp.plan.name}'s card {token['uid']} "
            f"to a charger of {cpo.plan.name}",
            "authorize",
        )
        response = cpo.partner.request(
            "POST",
            f"tokens/{token['uid']}/authorize",
            role="SENDER",
            params={"type": token["type"]},
            json={"location_id": location["id"], "evse_uids": [location["evses"][0]["uid"]]},
            headers=self.headers(cid),
            from_party=cpo.ref,
        )
        info = check(response, f"{cpo.label} POST authorize {token['uid']}", codes=(200,))
        asked = [
            r
            for r in emsp.partner.requests_to(f"{V}/tokens/{token['uid']}/authorize", "POST")
            if r.headers.get("X-Correlation-ID") == cid
        ]
        if not asked or not isinstance(info, dict):
            raise DemoError("authorization: the eMSP was never asked")
        self.say.fact(
            f"the CPO asked the hub without a TO party; the hub found the token's owner and "
            f"routed it to {emsp.label}, which answered {info.get('allowed')}"
        )
        self.say.note(self.logged(cid))

    def command(self, emsp: Party, cpo: Party, command: str, body: dict[str, Any], cid: str) -> str:
        """eMSP → hub → CPO, the CPO's asynchronous CommandResult → hub → eMSP."""
        uid = f"{command.lower()}-{cid[-8:]}"
        own_url = emsp.partner.module_url("commands", command, uid)
        response = emsp.partner.request(
            "POST",
            f"commands/{command}",
            role="RECEIVER",
            json={"response_url": own_url, **body},
            headers=self.headers(cid),
            from_party=emsp.ref,
        )
        answer = check(response, f"{emsp.label} POST {command}", codes=(200,))
        if not isinstance(answer, dict) or answer.get("result") != "ACCEPTED":
            raise DemoError(f"{command}: the CPO answered {answer}")
        forwarded = cpo.partner.stored_object("commands", command)
        if not isinstance(forwarded, dict) or "response_url" not in forwarded:
            raise DemoError(f"{command}: {cpo.label} never got the command")
        hub_url = forwarded["response_url"]
        self.say.fact(
            f"{cpo.label} got it from the hub and answered ACCEPTED (timeout "
            f"{answer.get('timeout')} s); its response_url is the hub's: {hub_url}"
        )
        # The CPO's backend: the charge point did it; the result goes to the hub's URL.
        result = {"result": "ACCEPTED"}
        check(
            cpo.partner.request(
                "POST",
                hub_url,
                json=result,
                headers=self.headers(cid),
                from_party=cpo.ref,
                to_party=emsp.ref,
            ),
            f"{cpo.label} POST CommandResult",
        )
        path = f"{V}/commands/{command}/{uid}"
        self.say.wait(
            f"the CommandResult reaches {emsp.plan.name}'s own response_url",
            1,
            lambda: len(emsp.accepted("POST", path)),
        )
        state = AsyncRequest.objects.filter(correlation_id=cid).values_list("state", flat=True)
        self.say.fact(
            f"{emsp.label} got result {result['result']} at {own_url} "
            f"(hub: {', '.join(state) or 'no record'})"
        )
        return uid

    def remote_start(self) -> str:
        cpo, emsp = self.cpos[0], self.emsps[0]
        token, location = emsp.objects[0], cpo.objects[0]
        evse = location["evses"][0]
        cid = self.say.step(
            f"{emsp.plan.name}'s app starts a charge at {cpo.plan.name} {location['id']} "
            "(START_SESSION)",
            "start",
        )
        body = {
            "token": token,
            "location_id": location["id"],
            "evse_uid": evse["uid"],
            "connector_id": evse["connectors"][0]["id"],
        }
        self.command(emsp, cpo, "START_SESSION", body, cid)
        self.say.note(self.logged(cid))
        return f"SES-{cid[-8:].upper()}"

    def session_and_cdr(self, session_id: str) -> None:
        cpo, emsp = self.cpos[0], self.emsps[0]
        token, location = emsp.objects[0], cpo.objects[0]
        cc, pid = cpo.ref
        charge = world.Charge(
            start=world.utc_now().replace(microsecond=0) - timedelta(minutes=45),
            minutes=45,
            kwh=Decimal("18.5"),
        )
        cid = self.say.step(f"{cpo.plan.name} reports session {session_id}", "session")
        self.say.note("the day is compressed: the charge is recorded as 45 minutes, 18.5 kWh")
        path = f"sessions/{cc}/{pid}/{session_id}"
        session = world.session(cpo.plan, session_id, token, location, charge.start, _stamp(0))
        check(
            cpo.partner.request(
                "PUT", path, json=session, headers=self.headers(cid), from_party=cpo.ref
            ),
            "session PUT",
        )
        check(
            cpo.partner.request(
                "PATCH",
                path,
                json={"kwh": 9.2, "last_updated": _stamp(1)},
                headers=self.headers(cid),
                from_party=cpo.ref,
            ),
            "session PATCH",
        )
        emsp_path = f"{V}/{path}"

        def emsp_session(field: str, value: Any) -> int:
            held = emsp.partner.stored_object("sessions", cc, pid, session_id)
            return int(isinstance(held, dict) and held.get(field) == value)

        self.say.wait(
            f"the session reaches {emsp.plan.name} (the token's owner) with 9.2 kWh",
            1,
            lambda: emsp_session("kwh", 9.2),
        )
        puts, patches = emsp.count("PUT", emsp_path), emsp.count("PATCH", emsp_path)
        self.say.fact(
            f"{emsp.label} holds session {session_id} at 9.2 kWh ({puts} PUT, {patches} PATCH "
            "received: a PATCH still waiting in the outbox folds into the PUT before it)"
        )

        cid = self.say.step(f"{emsp.plan.name}'s app stops the charge (STOP_SESSION)", "stop")
        self.command(emsp, cpo, "STOP_SESSION", {"session_id": session_id}, cid)
        cid = self.say.step(f"{cpo.plan.name} completes the session and sends its CDR", "cdr")
        final = {
            "status": "COMPLETED",
            "end_date_time": ocpi_timestamp(charge.end),
            "kwh": float(charge.kwh),
            "total_cost": world.money(charge.total_cost),
            "last_updated": _stamp(2),
        }
        check(
            cpo.partner.request(
                "PATCH", path, json=final, headers=self.headers(cid), from_party=cpo.ref
            ),
            "session PATCH COMPLETED",
        )
        self.say.wait(
            f"{emsp.plan.name} holds the session COMPLETED",
            1,
            lambda: emsp_session("status", "COMPLETED"),
        )
        cdr_id = f"CDR-{session_id[4:]}"
        cdr = world.cdr(cpo.plan, cdr_id, session_id, token, location, charge, _stamp(3))
        response = cpo.partner.request(
            "POST",
            "cdrs",
            role="RECEIVER",
            json=cdr,
            headers=self.headers(cid),
            from_party=cpo.ref,
        )
        check(response, "CDR POST", codes=(200, 201))
        cpo.partner.set_objects("cdrs", [cdr])  # its SENDER list, for the reconciliation
        self.say.fact(f"the hub stored the CDR; its Location: {response.headers.get('Location')}")
        self.say.wait(
            f"the CDR reaches {emsp.plan.name}",
            1,
            lambda: PushDelivery.objects.filter(
                module="cdrs", receiver=emsp.platform, status=DeliveryStatus.DELIVERED
            ).count(),
        )
        delivery = PushDelivery.objects.get(module="cdrs", receiver=emsp.platform)
        cost = cdr["total_cost"]
        self.say.fact(
            f"{emsp.label} received CDR {cdr_id}: {charge.kwh} kWh, EUR {cost['excl_vat']} "
            f"excl. VAT / {cost['incl_vat']:.2f} incl.; its receipt (Location): {delivery.receipt}"
        )
        self.say.note(self.logged(cid))

    # ---- an eMSP goes down and comes back -----------------------------------------------

    def pending(self, emsp: Party) -> int:
        return PushDelivery.objects.filter(
            receiver=emsp.platform,
            status__in=(DeliveryStatus.PENDING, DeliveryStatus.IN_FLIGHT),
        ).count()

    def emsp_down_and_back(self) -> None:
        up, down = self.emsps
        count = 8 if self.quick else 40
        cid = self.say.step(
            f"{down.label} goes down; {count} more status changes meanwhile", "outage"
        )
        port = down.partner.port
        down.partner.stop()
        self.say.note(f"its server on port {port} stops: connection refused")
        changes = self.pick_changes(count)
        self.send_changes(changes, cid)
        self.say.wait(
            f"{up.plan.name} (up) gets them all",
            len(changes),
            lambda: sum(self.holds(up, c) for c in changes),
        )

        def circuit_open() -> int:
            return int(
                ReceiverCircuit.objects.filter(
                    receiver=down.platform, state=CircuitState.OPEN
                ).exists()
            )

        self.say.wait(f"the hub notices {down.plan.name} is down (circuit OPEN)", 1, circuit_open)
        failed = PushAttempt.objects.filter(delivery__receiver=down.platform).exclude(error="")
        backlog = self.pending(down)
        last = failed.order_by("pk").last()
        why = last.error.rsplit(" failed: ", 1)[-1] if last is not None else "?"
        self.say.fact(
            f"hub: {failed.count()} failed attempts to {down.plan.name} (last: {why}), "
            f"circuit OPEN, {backlog} deliveries waiting in the outbox"
        )
        cid = self.say.step(f"{down.label} comes back and catches up", "catchup")
        before = down.count("PATCH", f"{V}/locations/") + down.count("PUT", f"{V}/locations/")
        down.partner.start()
        self.say.note(f"its server listens again on {down.partner.base_url}")
        self.say.wait(
            "the outbox drains its backlog",
            backlog,
            lambda: max(0, backlog - self.pending(down)),
        )
        self.say.wait(
            f"{down.plan.name} holds every status it missed",
            len(changes),
            lambda: sum(self.holds(down, c) for c in changes),
        )
        after = down.count("PATCH", f"{V}/locations/") + down.count("PUT", f"{V}/locations/")
        state = ReceiverCircuit.objects.get(receiver=down.platform).state
        self.say.fact(
            f"{down.label} caught up: {after - before} location updates after it came back, "
            f"all {len(changes)} missed statuses applied; circuit {state}, "
            f"{self.pending(down)} deliveries waiting"
        )

    # ---- reconciliation -----------------------------------------------------------------

    def reconcile(self) -> None:
        cpo, emsp = self.cpos[1], self.emsps[1]
        token, location = emsp.objects[1], cpo.objects[0]
        # The hub pulls the CPOs' lists itself, under ids of its own.
        self.say.step("CDR reconciliation (manage.py reconcile_cdrs)", correlated=False)
        # A charge earlier today whose CDR the CPO never got to the hub: only its own list
        # has it, and the reconciliation must find it.
        charge = world.Charge(
            start=world.utc_now().replace(microsecond=0) - timedelta(hours=2),
            minutes=30,
            kwh=Decimal("9"),
        )
        lost = world.cdr(cpo.plan, "CDR-LOST-1", None, token, location, charge, _stamp(0))
        cpo.partner.set_objects("cdrs", [lost])
        self.say.note(
            f"{cpo.plan.name}'s own CDR list has {lost['id']} (for {emsp.plan.name}), "
            "which never reached the hub"
        )
        ends = [c.end_date_time for c in Cdr.objects.all()] + [charge.end]
        first = min(ends).date()
        last = max(ends).date() + timedelta(days=1)
        out = io.StringIO()
        call_command(
            "reconcile_cdrs", "--from", str(first), "--to", str(last), "--no-progress", stdout=out
        )
        for line in out.getvalue().splitlines():
            self.say.console.print(f"      {line}", highlight=False)
        reports = ReconciliationReport.objects.filter(period_start=first, period_end=last)
        for report in reports.order_by("cpo_party_id"):
            found = {k: v for k, v in report.counts.items() if v}
            self.say.fact(
                f"{report.cpo_country_code}*{report.cpo_party_id} → "
                f"{report.emsp_country_code}*{report.emsp_party_id}: {report.status}, "
                f"{report.totals.get('cdrs')} CDR(s), {report.totals.get('kwh')} kWh, "
                f"findings: {found or 'none'}"
            )
        if not reports.exists():
            raise DemoError("reconciliation wrote no report")
        self.say.wait(
            f"the CDR it found MISSING is ingested and delivered to {emsp.plan.name}",
            1,
            lambda: int(
                any(
                    r.json and r.json.get("id") == lost["id"]
                    for r in emsp.partner.received
                    if r.method == "POST" and r.response_status == 200
                )
            ),
        )
        self.say.fact(f"{emsp.label} received {lost['id']}; admin: CDRs & reconciliation")

    def summary(self) -> None:
        self.say.step("What happened, read back", correlated=False)
        for emsp in self.emsps:
            self.say.fact(
                f"{emsp.label} received {len(emsp.accepted('PUT', f'{V}/locations/', depth=6))} "
                f"locations, {emsp.count('PATCH', f'{V}/locations/')} status updates, "
                f"{emsp.count('PUT', f'{V}/sessions/') + emsp.count('PATCH', f'{V}/sessions/')} "
                f"session updates, {emsp.count('POST', f'{V}/cdrs')} CDRs, "
                f"{emsp.count('POST', f'{V}/commands/')} command results"
            )
        for cpo in self.cpos:
            self.say.fact(
                f"{cpo.label} received {len(cpo.accepted('PUT', f'{V}/tokens/'))} tokens, "
                f"{cpo.count('POST', f'{V}/commands/')} commands"
            )
        by_status = {
            s: PushDelivery.objects.filter(status=s).count() for s in DeliveryStatus.values
        }
        self.say.fact(
            f"hub: {Platform.objects.filter(registered=True).count()} platforms, "
            f"{Location.objects.count()} locations, {Token.objects.count()} tokens, "
            f"{Session.objects.count()} session(s), {Cdr.objects.count()} CDRs, "
            f"{OcpiExchange.objects.count()} exchanges logged; deliveries "
            + ", ".join(f"{k} {v}" for k, v in by_status.items() if v)
        )


def _stamp(offset_s: int) -> str:
    """`last_updated` of one object's successive versions: now plus a growing offset, so each
    is newer than the last even within one second (OCPI DateTimes are read to the second)."""
    return ocpi_timestamp(world.utc_now() + timedelta(seconds=offset_s))
