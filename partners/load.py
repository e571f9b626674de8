"""A cheap OCPI 2.2.1 partner for load: benchmarks and the demo start many of them at once.

`SimulatedPartner` records every request (headers, body, parsed JSON) and keeps the objects it
is sent, which is what a functional test needs and far too much for thousands of pushes a
second. `LoadPartner` keeps only counters, per (module, method), with the moments of the
first and last arrival, and answers every module request with a success envelope:

- CPO or eMSP role: its version details list the interfaces of that role
  (`DEFAULT_MODULES_BY_ROLE`), so the hub can register it through the real handshake, either
  way (`register_with` for partner-initiated; answering the hub's POST of credentials with
  Token A for hub-initiated);
- `latency_s`: every module request waits that long in its own server thread before its
  answer, so concurrent requests overlap (a slow partner, not a serial one);
- `error_rate`: that share of module requests fail (HTTP 503, or HTTP 200 with OCPI status
  3000 when `error_kind="ocpi"`), drawn from `random.Random(seed)` in arrival order, so the
  same seed and the same requests give the same failures.

The handshake (versions, details, credentials) pays no latency and never fails: the load is
on the modules. Like the rest of the package, nothing here imports the hub.
"""

from __future__ import annotations

import base64
import contextlib
import json
import random
import socket
import socketserver
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, Self, cast

import httpx

from partners.ocpi import (
    DEFAULT_MODULES_BY_ROLE,
    OCPI_VERSION,
    JsonObject,
    Module,
    OcpiCallError,
    envelope,
    generate_token,
    header_tokens,
    role,
)

ErrorKind = Literal["http", "ocpi"]
Key = tuple[str, str]  # (module, method)

_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    503: "Service Unavailable",
}


@dataclass(frozen=True)
class Arrivals:
    """Module requests counted so far: how many, and when the first and last arrived
    (`time.monotonic()`, None before the first)."""

    count: int
    first: float | None
    last: float | None

    def rate(self) -> float:
        """Requests per second from the first arrival to the last (0 below two)."""
        if self.count < 2 or self.first is None or self.last is None or self.last <= self.first:
            return 0.0
        return (self.count - 1) / (self.last - self.first)


@dataclass
class _Answer:
    status: int
    body: Any
    headers: dict[str, str] | None = None


class _LoadServer(ThreadingHTTPServer):
    """One thread per connection (a keep-alive client reuses its thread); open connections are
    tracked so `stop` can cut them instead of leaving threads blocked in `read`."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    # The stdlib's listen backlog is 5: a burst of new connections beyond it waits for a SYN
    # retry (a second) or is reset, which would read as the partner's latency.
    request_queue_size = 256

    def __init__(self, partner: LoadPartner) -> None:
        self.partner = partner
        self._conn_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        super().__init__(("127.0.0.1", 0), _LoadHandler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a possibly slow DNS lookup; not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name, self.server_port = str(host), int(port)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections.add(request)
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.discard(request)

    def close_connections(self) -> None:
        with self._conn_lock:
            connections = list(self._connections)
        for sock in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)


class _LoadHandler(BaseHTTPRequestHandler):
    """The least HTTP work per request: read the body, ask the partner, write the whole answer
    in one send (no Nagle wait between headers and body)."""

    protocol_version = "HTTP/1.1"
    server_version = "LoadOcpiPartner/1.0"
    disable_nagle_algorithm = True
    timeout = 30  # an idle keep-alive connection frees its thread

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """No access log: the counters are the record."""

    def _dispatch(self) -> None:
        partner = cast(_LoadServer, self.server).partner
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        answer = partner._answer(self.command, self.path, self.headers, body)
        payload = json.dumps(answer.body).encode()
        lines = [
            f"HTTP/1.1 {answer.status} {_REASONS.get(answer.status, 'Error')}",
            "Content-Type: application/json",
            f"Content-Length: {len(payload)}",
            f"X-Request-ID: {self.headers.get('X-Request-ID') or uuid.uuid4()}",
            f"X-Correlation-ID: {self.headers.get('X-Correlation-ID') or uuid.uuid4()}",
        ]
        lines += [f"{name}: {value}" for name, value in (answer.headers or {}).items()]
        try:
            self.wfile.write(("\r\n".join(lines) + "\r\n\r\n").encode() + payload)
        except OSError:
            self.close_connection = True

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch  # noqa: N815


class LoadPartner:
    """A counting OCPI partner on its own 127.0.0.1 port (use as a context manager).

    `token`: the token the hub presents to call it, for setups that register the partner in
    the hub's database directly (a benchmark's factories); a handshake replaces it. Counters
    are read with `counts`, `arrivals` and `wait_for` from any thread.
    """

    def __init__(
        self,
        kind: str = "EMSP",
        country_code: str = "DE",
        party_id: str = "LOD",
        *,
        latency_s: float = 0.0,
        error_rate: float = 0.0,
        error_kind: ErrorKind = "http",
        seed: int = 0,
        token: str | None = None,
        token_a: str | None = None,
        name: str | None = None,
        client_timeout: float = 10.0,
    ) -> None:
        kind = kind.upper()
        if kind not in ("CPO", "EMSP"):
            raise ValueError("a load partner is a CPO or an EMSP")
        if not 0.0 <= error_rate <= 1.0:
            raise ValueError("error_rate is a share between 0 and 1")
        self.role: JsonObject = role(kind, country_code, party_id)
        self.modules: list[Module] = [("credentials", "SENDER"), *DEFAULT_MODULES_BY_ROLE[kind]]
        self.name = name or f"{party_id}-load"
        self.latency_s = latency_s
        self.error_rate = error_rate
        self.error_kind: ErrorKind = error_kind
        self.client_timeout = client_timeout
        self._random = random.Random(seed)  # noqa: S311 - chosen failures, not secrets
        self._lock = threading.Lock()
        self._arrived = threading.Condition(self._lock)
        self._counts: Counter[Key] = Counter()
        self._errors = 0
        self._module_total = 0
        self._first: float | None = None
        self._last: float | None = None
        self._token_a = token_a or generate_token()
        self._own_token: str | None = token
        self._pending_tokens: set[str] = set()
        self._registered = False
        self._hub_token: str | None = None
        self._hub_endpoints: list[JsonObject] = []
        self._module_auth: frozenset[str] = self._auth_values(token)
        self._stopping = threading.Event()
        self._server: _LoadServer | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle and addresses -------------------------------------------------------

    def start(self) -> Self:
        """Listen on an ephemeral 127.0.0.1 port, served by a daemon thread (idempotent)."""
        if self._server is not None:
            return self
        self._stopping.clear()
        self._server = _LoadServer(self)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"load-partner-{self.name}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving and cut open connections (bounded: no test hangs on shutdown)."""
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is None:
            return
        self._stopping.set()  # ends latency waits at once
        server.shutdown()
        server.close_connections()
        server.server_close()
        if thread is not None:
            thread.join(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        if self._server is None:
            raise RuntimeError(f"{self.name} is not started")
        return f"http://127.0.0.1:{self._server.server_port}"

    @property
    def versions_url(self) -> str:
        """What goes into the Credentials `url`."""
        return f"{self.base_url}/ocpi/versions"

    def module_url(self, module: str) -> str:
        return f"{self.base_url}/ocpi/{OCPI_VERSION}/{module}"

    @property
    def party(self) -> tuple[str, str]:
        return str(self.role["country_code"]), str(self.role["party_id"])

    # ---- registration state ------------------------------------------------------------

    @property
    def token_a(self) -> str:
        """The token this partner issued offline for a hub-initiated registration."""
        return self._token_a

    @property
    def own_token(self) -> str | None:
        """The token the hub presents to call this partner's modules."""
        with self._lock:
            return self._own_token

    @property
    def hub_token(self) -> str | None:
        """The token this partner presents to call the hub (after a handshake)."""
        with self._lock:
            return self._hub_token

    @property
    def registered(self) -> bool:
        with self._lock:
            return self._registered

    def credentials(self, token: str) -> JsonObject:
        return {"token": token, "url": self.versions_url, "roles": [dict(self.role)]}

    # ---- counters ----------------------------------------------------------------------

    def counts(self) -> dict[Key, int]:
        """Module requests received so far, per (module, method): a snapshot."""
        with self._lock:
            return dict(self._counts)

    def count(self, module: str | None = None, method: str | None = None) -> int:
        """Module requests received of `module` and `method` (either None: any)."""
        with self._lock:
            return sum(
                n
                for (mod, meth), n in self._counts.items()
                if (module is None or mod == module) and (method is None or meth == method)
            )

    @property
    def errors_answered(self) -> int:
        """How many module requests got an injected failure."""
        with self._lock:
            return self._errors

    def arrivals(self) -> Arrivals:
        """All module requests: count, first and last arrival."""
        with self._lock:
            return Arrivals(self._module_total, self._first, self._last)

    def reset_counts(self) -> None:
        """Forget every count and arrival (the random draws go on from where they were)."""
        with self._lock:
            self._counts.clear()
            self._errors = self._module_total = 0
            self._first = self._last = None

    def wait_for(self, total: int, timeout: float) -> bool:
        """Until `total` module requests have arrived, or `timeout` seconds passed."""
        deadline = time.monotonic() + timeout
        with self._arrived:
            while self._module_total < total:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._arrived.wait(left)
            return True

    # ---- outbound: the partner-initiated handshake -------------------------------------

    def register_with(self, versions_url: str, token_a: str) -> JsonObject:
        """Versions, details and POST credentials with the hub's Token A; the hub calls our
        versions back with the new token B while the POST is open. Returns the hub's
        Credentials (its token C becomes `hub_token`)."""
        endpoints = self._fetch_endpoints(versions_url, token_a)
        url = next((str(e["url"]) for e in endpoints if e.get("identifier") == "credentials"), "")
        if not url:
            raise OcpiCallError("no credentials endpoint", method="GET", url=versions_url)
        new_token = generate_token()
        with self._lock:
            self._pending_tokens.add(new_token)
        try:
            data = self._call("POST", url, token_a, self.credentials(new_token))
        finally:
            with self._lock:
                self._pending_tokens.discard(new_token)
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise OcpiCallError("answer is not a Credentials object", method="POST", url=url)
        self._registered_as(new_token, data["token"], endpoints)
        return data

    def _fetch_endpoints(self, versions_url: str, token: str) -> list[JsonObject]:
        listed = self._call("GET", versions_url, token)
        details_url = next(
            (
                str(v.get("url"))
                for v in (listed if isinstance(listed, list) else [])
                if isinstance(v, dict) and v.get("version") == OCPI_VERSION
            ),
            "",
        )
        if not details_url:
            raise LookupError(f"no {OCPI_VERSION} among {listed!r:.200}")
        details = self._call("GET", details_url, token)
        if not isinstance(details, dict) or not isinstance(details.get("endpoints"), list):
            raise OcpiCallError("details without endpoints", method="GET", url=details_url)
        return [dict(e) for e in details["endpoints"] if isinstance(e, dict)]

    def _call(self, method: str, url: str, token: str, body: Any = None) -> Any:
        """One OCPI call whose answer must be a success envelope; returns its `data`."""
        headers = {
            "Authorization": "Token " + base64.b64encode(token.encode()).decode(),
            "X-Request-ID": str(uuid.uuid4()),
            "X-Correlation-ID": str(uuid.uuid4()),
        }
        try:
            with httpx.Client(timeout=self.client_timeout, trust_env=False) as client:
                response = client.request(method, url, headers=headers, json=body)
        except httpx.HTTPError as exc:
            raise OcpiCallError(f"no answer: {exc}", method=method, url=url) from exc
        try:
            answer = response.json()
        except ValueError:
            answer = None
        code = answer.get("status_code") if isinstance(answer, dict) else None
        if not response.is_success or not isinstance(code, int) or code // 1000 != 1:
            raise OcpiCallError(
                "not a success",
                method=method,
                url=url,
                http_status=response.status_code,
                envelope=answer if isinstance(answer, dict) else None,
                body=response.text,
            )
        return cast(JsonObject, answer).get("data")

    def _registered_as(self, own: str, hub_token: str, endpoints: list[JsonObject]) -> None:
        with self._lock:
            self._own_token, self._hub_token = own, hub_token
            self._hub_endpoints = endpoints
            self._registered = True
            self._module_auth = self._auth_values(own)

    @staticmethod
    def _auth_values(token: str | None) -> frozenset[str]:
        """The Authorization values that carry `token`: base64 (2.2.1) and raw (2.1.1 style),
        compared as strings so a module request costs no decoding."""
        if token is None:
            return frozenset()
        return frozenset({"Token " + base64.b64encode(token.encode()).decode(), "Token " + token})

    # ---- inbound -----------------------------------------------------------------------

    def _answer(self, method: str, target: str, headers: Any, body: bytes) -> _Answer:
        path = target.split("?", 1)[0]
        parts = [p for p in path.split("/") if p]
        if len(parts) < 2 or parts[0] != "ocpi":
            return _Answer(404, envelope(None, 2000, f"Unknown path {path}"))
        if parts[1] == "versions" and len(parts) == 2:
            return self._versions(headers)
        if parts[1] != OCPI_VERSION:
            return _Answer(404, envelope(None, 2000, f"Version {parts[1]} not offered"))
        if len(parts) == 2:
            return self._details(headers)
        module = parts[2]
        if module == "credentials":
            return self._credentials(method, headers, body)
        return self._module(module, method, headers, parts[3:])

    def _handshake_ok(self, headers: Any) -> bool:
        with self._lock:
            valid = set(self._pending_tokens)
            if self._own_token:
                valid.add(self._own_token)
            if not self._registered:
                valid.add(self._token_a)
        return any(token in valid for token, _ in header_tokens(headers.get("Authorization")))

    def _versions(self, headers: Any) -> _Answer:
        if not self._handshake_ok(headers):
            return _Answer(401, envelope(None, 2000, "Unknown token"))
        return _Answer(
            200, envelope([{"version": OCPI_VERSION, "url": f"{self.base_url}/ocpi/2.2.1"}])
        )

    def _details(self, headers: Any) -> _Answer:
        if not self._handshake_ok(headers):
            return _Answer(401, envelope(None, 2000, "Unknown token"))
        endpoints = [
            {"identifier": module, "role": role_, "url": self.module_url(module)}
            for module, role_ in self.modules
        ]
        return _Answer(200, envelope({"version": OCPI_VERSION, "endpoints": endpoints}))

    def _credentials(self, method: str, headers: Any, body: bytes) -> _Answer:
        """Receiver side of a hub-initiated registration: the hub POSTs (or PUTs) its
        credentials with Token A (or our token); we read its versions and details with the
        token it sent, then answer ours with a new token."""
        if not self._handshake_ok(headers):
            return _Answer(401, envelope(None, 2000, "Unknown token"))
        if method == "GET":
            return _Answer(200, envelope(self.credentials(self.own_token or self._token_a)))
        if method == "DELETE":
            with self._lock:
                self._registered, self._own_token, self._hub_token = False, None, None
                self._module_auth = frozenset()
            return _Answer(200, envelope(None))
        if method not in ("POST", "PUT"):
            return _Answer(405, envelope(None, 2000, f"{method} not allowed"))
        try:
            sent = json.loads(body or b"null")
        except ValueError:
            sent = None
        if not isinstance(sent, dict) or not sent.get("token") or not sent.get("url"):
            return _Answer(200, envelope(None, 2001, "Credentials need token, url and roles"))
        try:
            endpoints = self._fetch_endpoints(str(sent["url"]), str(sent["token"]))
        except (OcpiCallError, LookupError) as exc:
            return _Answer(200, envelope(None, 3001, f"Unable to use the client's API: {exc}"))
        own = generate_token()
        self._registered_as(own, str(sent["token"]), endpoints)
        return _Answer(200, envelope(self.credentials(own)))

    def _module(self, module: str, method: str, headers: Any, rest: list[str]) -> _Answer:
        if headers.get("Authorization") not in self._module_auth:
            return _Answer(401, envelope(None, 2000, "Unknown token"))
        with self._arrived:
            now = time.monotonic()
            self._counts[(module, method)] += 1
            self._module_total += 1
            if self._first is None:
                self._first = now
            self._last = now
            failing = self.error_rate > 0 and self._random.random() < self.error_rate
            if failing:
                self._errors += 1
            self._arrived.notify_all()
        if self.latency_s > 0:
            self._stopping.wait(self.latency_s)  # this thread only: others answer meanwhile
        if failing:
            if self.error_kind == "ocpi":
                return _Answer(200, envelope(None, 3000, "Load partner: injected failure"))
            return _Answer(503, envelope(None, 3000, "Load partner: injected failure"))
        return self._success(module, method, rest)

    def _success(self, module: str, method: str, rest: list[str]) -> _Answer:
        if method == "GET" and not rest:  # a SENDER list: empty, one page
            return _Answer(200, envelope([]), {"X-Total-Count": "0", "X-Limit": "100"})
        if method == "POST" and module == "commands":
            return _Answer(200, envelope({"result": "ACCEPTED", "timeout": 30}))
        if method == "POST" and module == "cdrs":  # a CDRs RECEIVER answers the CDR's URL
            return _Answer(
                200, envelope(None), {"Location": f"{self.module_url('cdrs')}/{uuid.uuid4()}"}
            )
        return _Answer(200, envelope(None))


@contextlib.contextmanager
def load_partners(count: int, kind: str = "EMSP", **options: Any) -> Iterator[list[LoadPartner]]:
    """`count` started load partners with parties XX0..XXn ("DE"/"L00", "DE"/"L01", …); all
    stopped on exit."""
    country = options.pop("country_code", "DE" if kind.upper() == "EMSP" else "NL")
    partners = [
        LoadPartner(kind, country, f"L{i:02d}", name=f"load-{kind.lower()}-{i}", **options)
        for i in range(count)
    ]
    try:
        for partner in partners:
            partner.start()
        yield partners
    finally:
        for partner in partners:
            partner.stop()
