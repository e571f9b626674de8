"""Send the plan's requests through schemathesis and judge every answer.

Each request is judged three ways:
- HTTP 5xx: a server error, always a defect;
- no OCPI envelope (not JSON, or not {status_code, status_message, timestamp, data}): a defect
  on every /ocpi/ path;
- refused (HTTP 4xx, or an OCPI status other than 1000) yet the stored state changed: a defect,
  except the hub's records of command/charging-profile requests (hub_asyncrequest): a FAILED
  row for one it could not route (4000/4001/4003, by decision), or its record of one it did
  forward and whose receiver refused it (the refusal relayed is the receiver's); both counted;
- an ERROR the hub logged while answering (a failure it swallowed): a defect;
- a usable X-Request-ID / X-Correlation-ID not echoed: a defect.
Responses are also checked against the schema (status code, content type, body, headers);
those mismatches are reported per operation.
"""

import json
import logging
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import hypothesis
import hypothesis.errors
from hypothesis import HealthCheck, Phase
from schemathesis.core.failures import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests import contract
from tests.contract import check_envelope
from tests.fuzz import state
from tests.fuzz.plan import Run
from tests.fuzz.world import World

SCHEMA_CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
#: OCPI 4000/4001/4003: the hub's own routing failures (hub could not reach the receiver).
ROUTING_FAILURES = (4000, 4001, 4003)
#: An authorization the hub answers itself and records for analytics (hub.services.analytics
#: .records): 2004, no eMSP knows the token; 4001, no eMSP to route it to.
AUTHORIZATION_DENIALS = (2004, 4001)
USABLE_ID = re.compile(r"^[\x21-\x7e]{1,255}$")
#: Failure samples kept per operation and kind (the counts are always complete).
SAMPLES = 5


@dataclass
class OperationStats:
    requests: int = 0
    unsendable: int = 0
    server_errors: int = 0
    non_envelope: int = 0
    state_changes: int = 0
    schema_mismatches: int = 0
    id_echo: int = 0
    errors_logged: int = 0
    recorded_routing_failures: int = 0
    forwarded_refusals_recorded: int = 0
    authorization_outcomes_recorded: int = 0
    # A dot-segment id that was forwarded to a partner (it must be refused before).
    escaped: int = 0
    unsatisfiable_runs: list[str] = field(default_factory=list)
    by_run: Counter[str] = field(default_factory=Counter)
    http_status: Counter[int] = field(default_factory=Counter)
    ocpi_status: Counter[int] = field(default_factory=Counter)
    messages: Counter[str] = field(default_factory=Counter)
    samples: dict[str, list[dict[str, Any]]] = field(default_factory=dict)

    def sample(self, kind: str, entry: dict[str, Any]) -> None:
        kept = self.samples.setdefault(kind, [])
        if len(kept) < SAMPLES:
            kept.append(entry)

    def as_json(self) -> dict[str, Any]:
        return {
            "requests": self.requests,
            "unsendable": self.unsendable,
            "server_errors": self.server_errors,
            "non_envelope": self.non_envelope,
            "state_changes": self.state_changes,
            "schema_mismatches": self.schema_mismatches,
            "id_echo": self.id_echo,
            "errors_logged": self.errors_logged,
            "recorded_routing_failures": self.recorded_routing_failures,
            "forwarded_refusals_recorded": self.forwarded_refusals_recorded,
            "authorization_outcomes_recorded": self.authorization_outcomes_recorded,
            "escaped": self.escaped,
            "unsatisfiable_runs": self.unsatisfiable_runs,
            "by_run": dict(self.by_run),
            "http_status": {str(k): v for k, v in sorted(self.http_status.items())},
            "ocpi_status": {str(k): v for k, v in sorted(self.ocpi_status.items())},
            "top_messages": dict(self.messages.most_common(8)),
            "samples": self.samples,
        }


class _ErrorRecorder(logging.Handler):
    """ERROR records the hub logs while answering: a failure it swallowed (the answer may look
    fine) is a defect too."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(f"{record.name}: {record.getMessage()}"[:300])


class Fuzzer:
    def __init__(self, world: World, seed: int) -> None:
        self.world = world
        self.seed = seed
        self.identities = {
            "cpo": world.cpo,
            "emsp": world.emsp,
            "token_a": world.token_a,
            "stranger": world.stranger,
        }
        self.stats: dict[str, OperationStats] = {}
        self.fingerprint = state.take()
        self.outbound = state.outbound_exchanges()
        self.fingerprint_seconds = 0.0
        self.errors = _ErrorRecorder()
        logging.getLogger().addHandler(self.errors)

    def fuzz(self, operation: Any, run: Run) -> None:
        stats = self.stats.setdefault(
            f"{operation.method.upper()} {operation.path}", OperationStats()
        )
        strategy = operation.as_strategy(
            generation_mode=run.mode,
            path_parameters=run.path_parameters or None,
            headers=run.headers or None,
        )

        @hypothesis.seed(self.seed)
        @hypothesis.settings(
            max_examples=run.examples,
            deadline=None,
            database=None,
            derandomize=False,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            print_blob=False,
            report_multiple_bugs=False,
        )
        @hypothesis.given(case=strategy)
        def send(case: Any) -> None:
            self._send(case, run, stats)

        try:
            send()
        except hypothesis.errors.Unsatisfiable:
            # Negative mode finds nothing to break in an operation without constraints.
            stats.unsatisfiable_runs.append(f"{run.identity}/{run.label}")

    def _send(self, case: Any, run: Run, stats: OperationStats) -> None:
        identity = self.identities[run.identity]
        if run.label in AIMED:
            _aim(case, run)
        if run.label == "dot-segment":
            # The aimed id, verbatim: schemathesis would percent-encode it once more.
            case.path_parameters = {**(case.path_parameters or {}), **run.path_parameters}
        headers = {k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"}
        headers["Authorization"] = identity.authorization
        case.headers = headers
        self.errors.messages.clear()
        try:
            # requests sends `data` in place of the generated JSON body.
            response = case.call(data=run.raw_body) if run.raw_body is not None else case.call()
        except (ValueError, TypeError, UnicodeError) as exc:
            # Requests no HTTP client could send (e.g. a header with a line break): not sent.
            stats.unsendable += 1
            stats.sample("unsendable", {"error": repr(exc)[:300]})
            return
        stats.requests += 1
        stats.by_run[f"{run.identity}/{run.label}"] += 1
        stats.http_status[response.status_code] += 1
        request = {
            "run": f"{run.identity}/{run.label}",
            "method": case.method,
            "url": response.request.url,
            "headers": {k: v for k, v in headers.items() if k != "Authorization"},
            "body": _body_of(response.request.body),
            "http_status": response.status_code,
            "response": response.content[:500].decode("utf-8", "replace"),
        }
        if self.errors.messages:
            stats.errors_logged += 1
            stats.sample("error_logged", {**request, "errors": list(self.errors.messages)})
        if response.status_code >= 500:
            stats.server_errors += 1
            stats.sample("server_error", request)
        body, problems = _envelope(response)
        contract.take_violations()  # settings.test's middleware: judged here, usable ids only
        echo = _echo_problems(headers, response)
        if echo:
            stats.id_echo += 1
            stats.sample("id_echo", {**request, "problems": echo})
        ocpi_status = body.get("status_code") if isinstance(body, dict) else None
        if problems:
            stats.non_envelope += 1
            stats.sample("non_envelope", {**request, "problems": problems})
        if isinstance(ocpi_status, int):
            stats.ocpi_status[ocpi_status] += 1
            stats.messages[f"{ocpi_status} {str(body.get('status_message'))[:70]}"] += 1
        refused = response.status_code >= 400 or ocpi_status != 1000
        started = time.perf_counter()
        after = state.take()
        self.fingerprint_seconds += time.perf_counter() - started
        changed = self.fingerprint.changed_tables(after)
        self.fingerprint = after
        outbound = state.outbound_exchanges()
        forwarded = outbound > self.outbound
        self.outbound = outbound
        if run.label == "dot-segment" and forwarded:
            stats.escaped += 1
            stats.sample("escaped", request)
        if refused and changed == [state.RECORDED_FAILURES] and ocpi_status in ROUTING_FAILURES:
            stats.recorded_routing_failures += 1
        elif refused and forwarded and changed and set(changed) <= state.ASYNC_TABLES:
            # The hub forwarded the request and relays the receiver's refusal: its record of
            # the forwarded command/profile request (and the answer) is the hub's work, kept.
            stats.forwarded_refusals_recorded += 1
        elif (
            refused
            and changed == [state.AUTHORIZATION_RECORDS]
            and (forwarded or ocpi_status in AUTHORIZATION_DENIALS)
        ):
            stats.authorization_outcomes_recorded += 1
        elif refused and changed:
            stats.state_changes += 1
            stats.sample("state_change", {**request, "tables": changed})
        try:
            case.validate_response(response, checks=SCHEMA_CHECKS)
        except FailureGroup as group:
            stats.schema_mismatches += 1
            titles = sorted({f.title for f in group.exceptions})
            stats.sample("schema_mismatch", {**request, "failures": titles})


AIMED = ("known", "routed")


def _aim(case: Any, run: Run) -> None:
    """Make an aimed case reach the stored object: only the run's own routing headers, and a
    body whose party and id are the URL's (the hub refuses a mismatch with 2001)."""
    headers = case.headers or {}
    for name in list(headers):
        if name.lower().startswith("ocpi-") and name not in run.headers:
            del headers[name]
    params = case.path_parameters or {}
    body = case.body
    if not isinstance(body, dict) or not params:
        return
    for key in ("country_code", "party_id"):
        if key in params and key in body:
            body[key] = params[key]
    last = re.findall(r"{(\w+)}", case.operation.path)[-1]
    if last not in ("country_code", "party_id", "command"):
        for key in ("id", "uid"):
            if key in body:
                body[key] = params[last]


def _echo_problems(sent: dict[str, str], response: Any) -> list[str]:
    """X-Request-ID / X-Correlation-ID: a usable id is echoed, an unusable or missing one is
    replaced by a generated one (hub.ocpi.routing.message_ids); either way one is returned."""
    problems = []
    for name in ("X-Request-ID", "X-Correlation-ID"):
        got = response.headers.get(name.lower(), [])
        value = next((v for k, v in sent.items() if k.lower() == name.lower()), None)
        if len(got) != 1 or not got[0]:
            problems.append(f"{name}: {len(got)} values in the response")
        elif value is not None and USABLE_ID.match(value.strip()) and got[0] != value.strip():
            problems.append(f"{name}: sent {value!r}, got {got[0]!r}")
    return problems


def _body_of(body: Any) -> str | None:
    if body is None:
        return None
    if isinstance(body, bytes):
        return body[:500].decode("utf-8", "replace")
    return str(body)[:500]


def _envelope(response: Any) -> tuple[Any, list[str]]:
    content_type = ",".join(response.headers.get("content-type", []))
    try:
        body = json.loads(response.content)
    except ValueError:
        return None, [f"body is not JSON ({content_type or 'no content type'})"]
    problems = check_envelope(body)
    if "application/json" not in content_type:
        problems.append(f"content type {content_type!r} is not JSON")
    return body, problems
