"""A simulated OCPI 2.2.1 partner platform: a real HTTP server on 127.0.0.1 for integration tests.

Why a real server: the hub talks to partners over HTTP (registration handshakes, pushes,
forwarded commands). Mocking its HTTP client would test the mock; a partner on an ephemeral
loopback port exercises the real client, headers, timeouts and error paths, and can inject
faults (5xx, delays, dropped connections, redirects) the way a misbehaving partner would.

Design rules:

- No import from the hub project: the partner is an independent implementation of the spec,
  so it cannot share (and thereby hide) a hub bug. Outbound calls use httpx.
- Every instance owns its server, port, thread and state; nothing is module-global, so tests
  can run in parallel (pytest-xdist) and several partners can run in one test.
- The partner is symmetric: it can be the receiver of a registration (the hub POSTs its
  credentials) or the sender (`register_with`), so two partners can register with each other
  and the helper can be tested without the hub.
- Every wait has a timeout, so a hub that never calls back fails a test instead of hanging it.

Token naming, always from this partner's point of view:

- `token_a`: the token this partner issued offline for a hub-initiated registration;
- `own_token`: the token the hub must present to call this partner;
- `hub_token`: the token this partner presents to call the hub.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json as jsonlib
import secrets
import socket
import socketserver
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal, cast
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

OCPI_VERSION = "2.2.1"

JsonObject = dict[str, Any]
TokenEncoding = Literal["base64", "raw"]
Module = tuple[str, str]

#: Roles a partner plays when none are given: one CPO.
DEFAULT_ROLES: tuple[JsonObject, ...] = (
    {
        "role": "CPO",
        "country_code": "NL",
        "party_id": "SIM",
        "business_details": {"name": "Sim CPO"},
    },
)

#: The interfaces each role usually implements (2.2.1: every module's "Interfaces" section).
#: `hubclientinfo` RECEIVER is included because parties connected to a hub implement it.
DEFAULT_MODULES_BY_ROLE: Mapping[str, tuple[Module, ...]] = {
    "CPO": (
        ("locations", "SENDER"),
        ("tariffs", "SENDER"),
        ("sessions", "SENDER"),
        ("cdrs", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "RECEIVER"),
    ),
    "EMSP": (
        ("locations", "RECEIVER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "RECEIVER"),
        ("tokens", "SENDER"),
        ("commands", "SENDER"),
        ("hubclientinfo", "RECEIVER"),
    ),
    "HUB": (
        ("locations", "SENDER"),
        ("locations", "RECEIVER"),
        ("tariffs", "SENDER"),
        ("tariffs", "RECEIVER"),
        ("sessions", "SENDER"),
        ("sessions", "RECEIVER"),
        ("cdrs", "SENDER"),
        ("cdrs", "RECEIVER"),
        ("tokens", "SENDER"),
        ("tokens", "RECEIVER"),
        ("commands", "SENDER"),
        ("commands", "RECEIVER"),
        ("hubclientinfo", "SENDER"),
    ),
}

# The status code a GET of an unknown object answers with, per module (2.2.1 status_codes).
_UNKNOWN_OBJECT_STATUS = {"locations": 2003, "tokens": 2004}
_ROUTING_HEADERS = ("country-code", "party-id")
_HTTP_REASONS = {301: "Moved Permanently", 302: "Found", 307: "Temporary Redirect"}


# --------------------------------------------------------------------------------------------
# Small pure helpers
# --------------------------------------------------------------------------------------------


def ocpi_timestamp(moment: datetime | None = None) -> str:
    """An OCPI DateTime (UTC, `Z`, no fraction): the hub must accept exactly this form."""
    moment = moment or datetime.now(tz=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def envelope(
    data: Any = None, status_code: int = 1000, status_message: str = "Success"
) -> JsonObject:
    """The OCPI response envelope every answer of the partner is wrapped in."""
    return {
        "data": data,
        "status_code": status_code,
        "status_message": status_message,
        "timestamp": ocpi_timestamp(),
    }


def encode_token(token: str, encoding: TokenEncoding) -> str:
    """The Authorization header value: base64 per 2.2.1, or raw like 2.1.1-era platforms."""
    if encoding == "raw":
        return f"Token {token}"
    return "Token " + base64.b64encode(token.encode("utf-8")).decode("ascii")


def _generate_token() -> str:
    """A new credentials token: random, printable ASCII, well under 2.2.1's 64 characters."""
    return "sim-" + secrets.token_urlsafe(24)


def _header_tokens(header: str | None) -> list[tuple[str, TokenEncoding]]:
    """The tokens an Authorization header may stand for, base64 reading first.

    A partner must accept both forms, and a raw token can happen to be valid base64, so both
    readings are returned and the caller accepts whichever names a known token.
    """
    if not header:
        return []
    scheme, _, credential = header.strip().partition(" ")
    credential = credential.strip()
    if scheme.lower() != "token" or not credential:
        return []
    candidates: list[tuple[str, TokenEncoding]] = []
    try:
        decoded = base64.b64decode(credential, validate=True).decode("ascii")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        decoded = ""
    # The spec's own examples encode a trailing newline; accept it like lenient servers do.
    decoded = decoded.removesuffix("\n")
    if decoded:
        candidates.append((decoded, "base64"))
    candidates.append((credential, "raw"))
    return candidates


def _parse_ocpi_datetime(value: str) -> datetime:
    """Read an OCPI DateTime ("no Z implies UTC") for the pagination date filters."""
    parsed = datetime.fromisoformat(value.replace("z", "Z"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _version_key(version: str) -> tuple[int, ...]:
    """Sort key so "2.2.1" > "2.1.1" > "2.0" when picking the highest mutual version."""
    parts: list[int] = []
    for piece in version.split("."):
        try:
            parts.append(int(piece))
        except ValueError:
            parts.append(-1)
    return tuple(parts)


def _default_modules(roles: Sequence[Mapping[str, Any]]) -> list[Module]:
    """Credentials plus the usual interfaces of every role, deduplicated in a stable order."""
    modules: list[Module] = [("credentials", "SENDER")]
    for role in roles:
        for module in DEFAULT_MODULES_BY_ROLE.get(str(role.get("role", "")).upper(), ()):
            if module not in modules:
                modules.append(module)
    return modules


# --------------------------------------------------------------------------------------------
# Public data types
# --------------------------------------------------------------------------------------------


class OcpiCallError(Exception):
    """An outbound OCPI call of the partner failed.

    Carries what a test needs to assert on the hub's answer: the HTTP status (None when no
    response arrived), the parsed envelope (None when the body was not JSON) and the raw text.
    """

    def __init__(
        self,
        message: str,
        *,
        method: str,
        url: str,
        http_status: int | None = None,
        envelope: JsonObject | None = None,
        body: str | None = None,
    ) -> None:
        super().__init__(f"{message} ({method} {url} -> HTTP {http_status}: {body!r:.300})")
        self.message = message
        self.method = method
        self.url = url
        self.http_status = http_status
        self.envelope = envelope
        self.body = body

    @property
    def status_code(self) -> int | None:
        """The OCPI `status_code` of the answer, if it had an envelope."""
        if self.envelope is None:
            return None
        code = self.envelope.get("status_code")
        return code if isinstance(code, int) else None


@dataclass
class ReceivedRequest:
    """One inbound request, recorded on arrival (before any fault) so retries are visible.

    `response_status` is None while the answer is pending (e.g. in an injected delay) and 0
    when the connection was dropped without an answer.
    """

    method: str
    path: str
    query: dict[str, list[str]]
    headers: httpx.Headers
    body: bytes
    json: Any
    time: datetime
    token: str | None = None
    token_form: TokenEncoding | None = None
    module: str | None = None
    response_status: int | None = None
    response_body: Any = None

    @property
    def target(self) -> str:
        """Path plus query string, as sent."""
        query = urlencode([(k, v) for k, vs in self.query.items() for v in vs])
        return f"{self.path}?{query}" if query else self.path

    def param(self, name: str) -> str | None:
        """The first value of a query parameter."""
        values = self.query.get(name)
        return values[0] if values else None


@dataclass
class SentRequest:
    """One outbound call of the partner (to the hub), for asserting on what it sent."""

    method: str
    url: str
    headers: httpx.Headers
    json: Any
    time: datetime
    status: int | None = None
    response_json: Any = None
    error: str | None = None


@dataclass
class Behaviour:
    """A fault injected into matching inbound requests (see `SimulatedPartner.set_behaviour`).

    `times` counts down per matching request; at 0 the behaviour expires, which makes
    "fail twice, then succeed" retry tests possible.
    """

    path_prefix: str | None = None
    method: str | None = None
    status: int | None = None
    envelope: Any = None
    raw_body: bytes | None = None
    delay: float = 0.0
    close_connection: bool = False
    redirect_to: str | None = None
    times: int | None = None
    hits: int = 0

    def matches(self, method: str, path: str) -> bool:
        """True if this behaviour applies to a request (and has not expired)."""
        if self.times is not None and self.times <= 0:
            return False
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_prefix is None or path.startswith(self.path_prefix)

    @property
    def answers(self) -> bool:
        """True if the behaviour replaces the normal answer (not only delays it)."""
        return (
            self.close_connection
            or self.redirect_to is not None
            or self.status is not None
            or self.envelope is not None
            or self.raw_body is not None
        )


@dataclass
class _Reply:
    """What the HTTP handler writes back; `drop` closes the connection without an answer."""

    status: int
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


@dataclass
class _ReplyOverride:
    path_prefix: str
    method: str | None
    data: Any


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------


class _PartnerServer(ThreadingHTTPServer):
    """A threading server that knows its partner and can cut open connections on shutdown.

    Keep-alive connections would otherwise keep handler threads blocked in `read` after the
    test ended; tracking them lets `stop()` close them and join their threads with a timeout.
    """

    daemon_threads = True
    block_on_close = False
    # A restarted partner (stop() then start()) comes back on the same port, as a real
    # platform does after an outage; meanwhile connections are refused.
    allow_reuse_address = True

    def __init__(self, partner: SimulatedPartner) -> None:
        self.partner = partner
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        super().__init__(("127.0.0.1", partner._port_hint), partner.handler_class)

    def server_bind(self) -> None:
        # HTTPServer.server_bind calls getfqdn(), a possibly slow DNS lookup; not needed here.
        socketserver.TCPServer.server_bind(self)
        host, port = self.server_address[:2]
        self.server_name = str(host)
        self.server_port = int(port)

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        with self._conn_lock:
            self._connections[request] = threading.current_thread()
        try:
            super().process_request_thread(request, client_address)
        finally:
            with self._conn_lock:
                self._connections.pop(request, None)

    def close_connections(self, timeout: float) -> None:
        """Shut down every open connection and wait (bounded) for their threads."""
        with self._conn_lock:
            connections = list(self._connections.items())
        for sock, _thread in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + timeout
        for _sock, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))


class _PartnerHandler(BaseHTTPRequestHandler):
    """Turns HTTP requests into `SimulatedPartner._handle` calls; knows no OCPI itself."""

    protocol_version = "HTTP/1.1"
    server_version = "SimulatedOcpiPartner/1.0"
    # Idle keep-alive connections time out instead of holding a thread forever.
    timeout = 30

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Silence the stdlib's stderr access log; `partner.received` is the record."""

    def _read_body(self) -> bytes:
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks: list[bytes] = []
            while True:
                size_line = self.rfile.readline(65537)
                size = int(size_line.split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    # Trailer section up to the empty line.
                    while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline(65537)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _dispatch(self) -> None:
        partner = cast(_PartnerServer, self.server).partner
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        headers = httpx.Headers(list(self.headers.items()))
        reply = partner._handle(self.command, self.path, headers, body)
        if reply.drop:
            self.close_connection = True
            return
        if reply.raw is not None:
            payload = reply.raw
        elif reply.status in (204, 304):
            payload = b""
        else:
            payload = jsonlib.dumps(reply.body).encode("utf-8")
        try:
            self.send_response(reply.status, _HTTP_REASONS.get(reply.status))
            out_headers = {"Content-Type": "application/json", **reply.headers}
            for name, value in out_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)
        except OSError:
            self.close_connection = True

    # The stdlib dispatches on `do_<METHOD>`; every method goes through the same router.
    do_GET = do_POST = do_PUT = do_PATCH = _dispatch  # noqa: N815
    do_DELETE = do_HEAD = do_OPTIONS = _dispatch  # noqa: N815


# --------------------------------------------------------------------------------------------
# The partner
# --------------------------------------------------------------------------------------------


class SimulatedPartner:
    """A CPO/eMSP/hub-like OCPI platform on its own loopback port, scripted by tests.

    Use as a context manager (`with SimulatedPartner() as partner:`) so the server always stops.
    All public state is read under a lock and returned as snapshots: the server threads write
    while the test thread reads.
    """

    #: The HTTP handler of the partner's server (a subclass may answer at the socket level:
    #: tests.partners.hostile).
    handler_class: type[BaseHTTPRequestHandler] = _PartnerHandler

    def __init__(
        self,
        roles: Sequence[Mapping[str, Any]] | None = None,
        modules: Iterable[Module] | None = None,
        versions: Sequence[str] = (OCPI_VERSION,),
        token_a: str | None = None,
        token_encoding: TokenEncoding = "base64",
        *,
        required_endpoints: Sequence[str] = ("credentials",),
        max_limit: int = 50,
        client_timeout: float = 10.0,
        name: str | None = None,
    ) -> None:
        """Configure the partner; nothing listens until `start()` (or `with`).

        `modules` are (identifier, role) pairs listed in the version details; only those are
        served, so omitting one simulates a partner that lacks an endpoint. `required_endpoints`
        are the hub endpoints this partner insists on when it receives a registration (3003).
        Offering only `versions=["2.1.1"]` simulates an old partner: its details list endpoints
        in the 2.1.1 form (no roles), enough for the hub's 3002 path; the modules themselves,
        credentials included, still speak 2.2.1.
        """
        if token_encoding not in ("base64", "raw"):
            raise ValueError("token_encoding must be 'base64' or 'raw'")
        self.roles: list[JsonObject] = [copy.deepcopy(dict(r)) for r in (roles or DEFAULT_ROLES)]
        self.modules: list[Module] = (
            [(m.lower(), r.upper()) for m, r in modules]
            if modules is not None
            else _default_modules(self.roles)
        )
        self.versions: list[str] = list(versions)
        self.token_encoding: TokenEncoding = token_encoding
        self.required_endpoints: list[str] = list(required_endpoints)
        self.max_limit = max_limit
        self.client_timeout = client_timeout
        self.name = name or f"{self.roles[0].get('party_id', 'SIM')}-sim"
        #: When True the versions endpoint answers HTTP 500 (a partner that is down).
        self.fail_versions = False

        self._lock = threading.RLock()
        self._received_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: _PartnerServer | None = None
        self._thread: threading.Thread | None = None

        self._port_hint = 0  # 0: any free port; after the first start, that port again
        self._token_a: str = token_a or _generate_token()
        self._token_a_valid = True
        self._own_token: str | None = None
        self._pending_own_tokens: set[str] = set()
        self._hub_token: str | None = None
        self._registered = False
        self._hub_versions_url: str | None = None
        self._hub_version: str | None = None
        self._hub_endpoints: list[JsonObject] = []
        self._hub_credentials: JsonObject | None = None

        self._received: list[ReceivedRequest] = []
        self._sent: list[SentRequest] = []
        self._errors: list[BaseException] = []
        self._stored: dict[str, Any] = {}
        self._objects: dict[str, list[JsonObject]] = {}
        self._behaviours: list[Behaviour] = []
        self._replies: list[_ReplyOverride] = []

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> SimulatedPartner:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread (idempotent)."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = _PartnerServer(self)
            thread = threading.Thread(
                target=server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name=f"simulated-partner-{self.name}-{server.server_port}",
                daemon=True,
            )
            self._server, self._thread = server, thread
            self._port_hint = server.server_port
        thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        """Stop serving, cut open connections and join the threads, all bounded by `timeout`."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server, self._thread = None, None
        if server is None:
            return
        self._stopping.set()  # interrupts injected delays
        deadline = time.monotonic() + timeout
        server.shutdown()
        server.close_connections(max(0.0, deadline - time.monotonic()))
        server.server_close()
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))

    def __enter__(self) -> SimulatedPartner:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SimulatedPartner {self.name} {self._base_url_or_none() or '(stopped)'}>"

    # ---- addresses ---------------------------------------------------------------------

    def _base_url_or_none(self) -> str | None:
        server = self._server
        return f"http://127.0.0.1:{server.server_port}" if server is not None else None

    @property
    def port(self) -> int:
        """The ephemeral port (only while started)."""
        server = self._server
        if server is None:
            raise RuntimeError(f"{self.name} is not started")
        return server.server_port

    @property
    def base_url(self) -> str:
        """`http://127.0.0.1:<port>` (only while started)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def versions_url(self) -> str:
        """The versions endpoint: what goes into the Credentials `url`."""
        return f"{self.base_url}/ocpi/versions"

    def details_url(self, version: str = OCPI_VERSION) -> str:
        """The version details endpoint of one offered version."""
        return f"{self.base_url}/ocpi/{version}"

    def module_url(self, module: str, *segments: str, version: str = OCPI_VERSION) -> str:
        """The URL of a module endpoint of this partner, plus optional path segments."""
        return "/".join([f"{self.base_url}/ocpi/{version}/{module}", *segments])

    def module_path(self, module: str, *segments: str, version: str = OCPI_VERSION) -> str:
        """Like `module_url` without scheme and host: the key of `stored`."""
        return "/".join([f"/ocpi/{version}/{module}", *segments])

    # ---- registration state ------------------------------------------------------------

    @property
    def token_a(self) -> str:
        """The token this partner issued offline for a hub-initiated registration."""
        with self._lock:
            return self._token_a

    @property
    def token_a_valid(self) -> bool:
        """False once a registration used (and thereby killed) Token A."""
        with self._lock:
            return self._token_a_valid

    def issue_token_a(self, token: str | None = None) -> str:
        """Issue a fresh Token A (e.g. for a re-registration after unregistering)."""
        with self._lock:
            self._token_a = token or _generate_token()
            self._token_a_valid = True
            return self._token_a

    @property
    def own_token(self) -> str | None:
        """The token the hub must present to call this partner (None before registration)."""
        with self._lock:
            return self._own_token

    @property
    def hub_token(self) -> str | None:
        """The token this partner presents when it calls the hub."""
        with self._lock:
            return self._hub_token

    @property
    def registered(self) -> bool:
        """True between a successful registration and an unregistration."""
        with self._lock:
            return self._registered

    @property
    def hub_endpoints(self) -> list[JsonObject]:
        """The hub's endpoints from its version details (snapshot)."""
        with self._lock:
            return copy.deepcopy(self._hub_endpoints)

    @property
    def hub_versions_url(self) -> str | None:
        """The versions URL the hub gave in its Credentials."""
        with self._lock:
            return self._hub_versions_url

    @property
    def hub_version(self) -> str | None:
        """The OCPI version negotiated with the hub."""
        with self._lock:
            return self._hub_version

    @property
    def hub_credentials(self) -> JsonObject | None:
        """The hub's last Credentials object (from its POST/PUT or from our POST's answer)."""
        with self._lock:
            return copy.deepcopy(self._hub_credentials)

    def hub_endpoint(self, identifier: str, role: str | None = None) -> str | None:
        """The URL of a hub endpoint, or None if the hub does not offer it.

        Without `role` the counterpart of this partner's own interface is chosen (a SENDER of
        locations pushes to the hub's RECEIVER; a RECEIVER pulls from the hub's SENDER). If that
        does not decide it and the candidates differ, the call is ambiguous: ValueError.
        """
        with self._lock:
            candidates = [e for e in self._hub_endpoints if str(e.get("identifier")) == identifier]
            own_roles = {r for m, r in self.modules if m == identifier}
        if role is not None:
            candidates = [e for e in candidates if str(e.get("role", "")).upper() == role.upper()]
        elif len({e.get("url") for e in candidates}) > 1 and len(own_roles) == 1:
            counterpart = "RECEIVER" if own_roles == {"SENDER"} else "SENDER"
            preferred = [e for e in candidates if str(e.get("role", "")).upper() == counterpart]
            candidates = preferred or candidates
        urls = {str(e.get("url")) for e in candidates}
        if not urls:
            return None
        if len(urls) > 1:
            raise ValueError(f"hub endpoint {identifier!r} is ambiguous, pass role=: {urls}")
        return urls.pop()

    def credentials(self, token: str | None = None) -> JsonObject:
        """This partner's Credentials object (with `own_token` unless another is given)."""
        with self._lock:
            own = token if token is not None else self._own_token
            return {
                "token": own or self._token_a,
                "url": self.versions_url,
                "roles": copy.deepcopy(self.roles),
            }

    # ---- recorded traffic --------------------------------------------------------------

    @property
    def received(self) -> list[ReceivedRequest]:
        """Every inbound request so far, oldest first (snapshot list)."""
        with self._lock:
            return list(self._received)

    @property
    def sent(self) -> list[SentRequest]:
        """Every outbound call so far, oldest first (snapshot list)."""
        with self._lock:
            return list(self._sent)

    @property
    def errors(self) -> list[BaseException]:
        """Unexpected exceptions inside the partner (answered 500); tests may assert empty."""
        with self._lock:
            return list(self._errors)

    def clear_received(self) -> None:
        """Forget the recorded inbound requests (e.g. after the registration phase)."""
        with self._lock:
            self._received.clear()

    def requests_to(self, path_prefix: str, method: str | None = None) -> list[ReceivedRequest]:
        """Recorded requests whose path starts with `path_prefix` (module ids allowed)."""
        prefix = self._normalize_prefix(path_prefix)
        return [
            r
            for r in self.received
            if r.path.startswith(prefix) and (method is None or r.method == method.upper())
        ]

    def wait_for(
        self,
        predicate: Callable[[ReceivedRequest], bool],
        timeout: float = 5.0,
        *,
        since: int = 0,
        answered: bool = True,
    ) -> ReceivedRequest:
        """Wait until a recorded request (index >= `since`) matches; TimeoutError otherwise.

        Hub pushes are often asynchronous (Celery tasks), so tests wait for the request
        rather than sleeping. Requests are recorded on arrival; by default only those whose
        answer was decided are considered (`answered=False`: also those still in a delay).
        """
        deadline = time.monotonic() + timeout
        with self._received_cond:
            while True:
                for request in self._received[since:]:
                    if (request.response_status is not None or not answered) and predicate(request):
                        return request
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    seen = [f"{r.method} {r.target} -> {r.response_status}" for r in self._received]
                    raise TimeoutError(f"{self.name}: no matching request in {timeout}s; {seen}")
                self._received_cond.wait(min(remaining, 0.1))

    def wait_until(self, condition: Callable[[], bool], timeout: float = 5.0) -> None:
        """Poll any condition (e.g. on `stored`) until true; TimeoutError after `timeout`."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() >= deadline:
                raise TimeoutError(f"{self.name}: condition not met within {timeout}s")
            time.sleep(0.02)

    # ---- stored objects ----------------------------------------------------------------

    @property
    def stored(self) -> dict[str, Any]:
        """Objects received by PUT/PATCH/POST, keyed by path (snapshot)."""
        with self._lock:
            return copy.deepcopy(self._stored)

    def stored_object(self, module: str, *segments: str, version: str = OCPI_VERSION) -> Any:
        """The object stored at a module path, or None."""
        key = self.module_path(module, *segments, version=version)
        with self._lock:
            return copy.deepcopy(self._stored.get(key))

    def store(self, path: str, obj: Any) -> None:
        """Pre-load an object at a path (served by GET as if it had been PUT)."""
        with self._lock:
            self._stored[self._normalize_prefix(path).rstrip("/")] = copy.deepcopy(obj)

    def set_objects(self, module: str, objects: Sequence[JsonObject]) -> None:
        """Set the list a SENDER module serves to paginated GETs (order is kept)."""
        with self._lock:
            self._objects[module] = [copy.deepcopy(dict(o)) for o in objects]

    def objects(self, module: str) -> list[JsonObject]:
        """The list a SENDER module serves (snapshot)."""
        with self._lock:
            return copy.deepcopy(self._objects.get(module, []))

    # ---- scripting answers -------------------------------------------------------------

    def set_behaviour(
        self,
        path_prefix: str | None = None,
        *,
        status: int | None = None,
        http_status: int | None = None,
        envelope: Any = None,
        raw_body: bytes | None = None,
        delay: float = 0.0,
        close_connection: bool = False,
        redirect_to: str | None = None,
        method: str | None = None,
        times: int | None = None,
    ) -> Behaviour:
        """Inject a fault into requests whose path starts with `path_prefix` (None: all).

        - `status`/`http_status` (synonyms): answer this HTTP status with a generic envelope
          (3000 for 5xx, 2000 for 4xx), or with `envelope` / `raw_body` if given;
        - `envelope`: answer this JSON body (HTTP 200 unless a status is given);
        - `raw_body`: answer these bytes (e.g. an HTML error page, invalid JSON);
        - `delay`: sleep first (interrupted by `stop()`); alone, the request then proceeds;
        - `close_connection`: drop the connection without any answer;
        - `redirect_to`: answer a redirect (307 unless a 3xx status is given) to this URL;
        - `method`: only this HTTP method; `times`: only the next N matching requests.

        A path prefix without a leading "/" names a module of OCPI 2.2.1 ("locations").
        The newest matching behaviour wins. Faulted requests are still recorded.
        """
        if status is not None and http_status is not None and status != http_status:
            raise ValueError("status and http_status are synonyms; give one")
        behaviour = Behaviour(
            path_prefix=self._normalize_prefix(path_prefix) if path_prefix is not None else None,
            method=method.upper() if method else None,
            status=status if status is not None else http_status,
            envelope=copy.deepcopy(envelope),
            raw_body=raw_body,
            delay=delay,
            close_connection=close_connection,
            redirect_to=redirect_to,
            times=times,
        )
        with self._lock:
            self._behaviours.append(behaviour)
        return behaviour

    def reset_behaviour(self) -> None:
        """Remove every injected fault and reply override, and `fail_versions`."""
        with self._lock:
            self._behaviours.clear()
            self._replies.clear()
            self.fail_versions = False

    def set_reply(self, path_prefix: str, data: Any, *, method: str | None = None) -> None:
        """Answer successful module requests under `path_prefix` with this `data` (1000).

        Unlike `set_behaviour(envelope=...)` the request is still processed (stored), e.g. to
        make a CPO answer a command with {"result": "REJECTED", "timeout": 30}.
        """
        with self._lock:
            self._replies.append(
                _ReplyOverride(
                    self._normalize_prefix(path_prefix), method.upper() if method else None, data
                )
            )

    # ---- outbound calls ----------------------------------------------------------------

    def _auth_header(self, token: str, encoding: TokenEncoding | None = None) -> str:
        return encode_token(token, encoding or self.token_encoding)

    def _send(
        self,
        method: str,
        url: str,
        *,
        token: str | None,
        json: Any = None,
        raw_body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        params: Mapping[str, Any] | None = None,
        encoding: TokenEncoding | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """One recorded outbound call.

        A fresh client per call keeps threads independent, and `trust_env=False` keeps proxy
        variables from routing loopback traffic elsewhere.
        """
        out = httpx.Headers(
            {
                "X-Request-ID": str(uuid.uuid4()),
                "X-Correlation-ID": str(uuid.uuid4()),
                "Accept": "application/json",
            }
        )
        if token is not None:
            out["Authorization"] = self._auth_header(token, encoding)
        out.update(dict(headers or {}))
        record = SentRequest(
            method=method.upper(),
            url=url,
            headers=httpx.Headers(out),
            json=copy.deepcopy(json),
            time=datetime.now(tz=UTC),
        )
        with self._lock:
            self._sent.append(record)
        kwargs: dict[str, Any] = {}
        if raw_body is not None:
            kwargs["content"] = raw_body
        elif json is not None:
            kwargs["json"] = json
        try:
            with httpx.Client(
                timeout=timeout or self.client_timeout,
                trust_env=False,
                follow_redirects=follow_redirects,
            ) as client:
                response = client.request(method.upper(), url, headers=out, params=params, **kwargs)
        except httpx.HTTPError as exc:
            record.error = f"{type(exc).__name__}: {exc}"
            raise
        record.status = response.status_code
        with contextlib.suppress(ValueError):
            record.response_json = response.json()
        return response

    def _call_data(self, method: str, url: str, *, token: str | None, json: Any = None) -> Any:
        """An OCPI call whose answer must be HTTP 2xx with a 1xxx envelope; returns `data`."""
        try:
            response = self._send(method, url, token=token, json=json)
        except httpx.HTTPError as exc:
            raise OcpiCallError(
                f"no answer: {type(exc).__name__}: {exc}", method=method, url=url
            ) from exc
        body_text = response.text
        try:
            body = response.json()
        except ValueError:
            body = None
        env = body if isinstance(body, dict) else None
        if not response.is_success:
            raise OcpiCallError(
                "HTTP error",
                method=method,
                url=url,
                http_status=response.status_code,
                envelope=env,
                body=body_text,
            )
        code = env.get("status_code") if env is not None else None
        if env is None or not isinstance(code, int) or code // 1000 != 1:
            raise OcpiCallError(
                "not a success envelope",
                method=method,
                url=url,
                http_status=response.status_code,
                envelope=env,
                body=body_text,
            )
        return env.get("data")

    def _fetch_endpoints(
        self, versions_url: str, token: str, acceptable: Sequence[str]
    ) -> tuple[str, list[JsonObject]]:
        """GET versions, pick the highest acceptable version, GET its details.

        Raises OcpiCallError for transport/envelope failures and LookupError when no version
        is acceptable (the caller maps these to 3001 and 3002).
        """
        listed = self._call_data("GET", versions_url, token=token)
        if not isinstance(listed, list):
            raise OcpiCallError("versions data is not a list", method="GET", url=versions_url)
        offered = {
            str(v.get("version")): str(v.get("url"))
            for v in listed
            if isinstance(v, dict) and v.get("url")
        }
        mutual = sorted(set(offered) & set(acceptable), key=_version_key)
        if not mutual:
            raise LookupError(f"no mutual version: offered {sorted(offered)}")
        version = mutual[-1]
        details = self._call_data("GET", offered[version], token=token)
        if not isinstance(details, dict) or not isinstance(details.get("endpoints"), list):
            raise OcpiCallError(
                "version details without endpoints", method="GET", url=offered[version]
            )
        endpoints = [dict(e) for e in details["endpoints"] if isinstance(e, dict)]
        return version, endpoints

    def register_with(
        self, versions_url: str, token_a: str, *, version: str = OCPI_VERSION
    ) -> JsonObject:
        """Register as the sender: versions, details, POST credentials (new token B).

        On success the hub's token C becomes `hub_token`, B becomes `own_token` and the hub's
        endpoints are stored; the answer's `data` is returned. The hub calls back our versions
        with B during the POST, so B is accepted from before the POST is sent.
        """
        _, endpoints = self._fetch_endpoints(versions_url, token_a, [version])
        credentials_url = self._endpoint_url(endpoints, "credentials")
        if credentials_url is None:
            raise OcpiCallError(
                "hub version details lack a credentials endpoint", method="GET", url=versions_url
            )
        new_token = _generate_token()
        with self._lock:
            self._pending_own_tokens.add(new_token)
        try:
            data = self._call_data(
                "POST", credentials_url, token=token_a, json=self.credentials(new_token)
            )
            token_c = self._check_credentials(data, "POST", credentials_url)
        finally:
            with self._lock:
                self._pending_own_tokens.discard(new_token)
        with self._lock:
            self._own_token = new_token
            self._hub_token = token_c
            self._hub_versions_url = versions_url
            self._hub_version = version
            self._hub_endpoints = endpoints
            self._hub_credentials = copy.deepcopy(data)
            self._registered = True
            self._token_a_valid = False
        return cast(JsonObject, data)

    def update_credentials(self, token: str | None = None) -> JsonObject:
        """PUT new credentials (new token B', or `token`) to the hub: token rotation.

        The hub re-fetches our versions with B' while the PUT is open, so B' is accepted from
        before the call; the old own token stays valid until the hub has answered.
        """
        credentials_url = self._require_hub_credentials_url()
        new_token = token or _generate_token()
        with self._lock:
            self._pending_own_tokens.add(new_token)
            current = self._hub_token
        try:
            data = self._call_data(
                "PUT", credentials_url, token=current, json=self.credentials(new_token)
            )
            token_c = self._check_credentials(data, "PUT", credentials_url)
        finally:
            with self._lock:
                self._pending_own_tokens.discard(new_token)
        with self._lock:
            self._own_token = new_token
            self._hub_token = token_c
            self._hub_credentials = copy.deepcopy(data)
        return cast(JsonObject, data)

    def unregister(self) -> Any:
        """DELETE our credentials at the hub; on success both tokens are dead."""
        credentials_url = self._require_hub_credentials_url()
        data = self._call_data("DELETE", credentials_url, token=self.hub_token)
        self._forget_registration()
        return data

    def request(
        self,
        method: str,
        url_or_module: str,
        *,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
        token: str | None = None,
        raw_body: bytes | None = None,
        params: Mapping[str, Any] | None = None,
        role: str | None = None,
        send_token: bool = True,
        token_encoding: TokenEncoding | None = None,
        from_party: tuple[str, str] | None = None,
        to_party: tuple[str, str] | None = None,
        timeout: float | None = None,
        follow_redirects: bool = False,
    ) -> httpx.Response:
        """Call the hub as this partner and return the raw response (no status checks).

        `url_or_module` is an absolute URL, or a module identifier optionally followed by
        path segments ("locations/NL/SIM/LOC1") resolved through the hub's endpoints. The
        token is `hub_token` unless `token` is given; `send_token=False` sends none.
        `from_party`/`to_party` add the 2.2.1 routing headers; explicit `headers` win.
        """
        url = self._resolve(url_or_module, role)
        out: dict[str, str] = {}
        for prefix, party in (("OCPI-from", from_party), ("OCPI-to", to_party)):
            if party is not None:
                out[f"{prefix}-country-code"], out[f"{prefix}-party-id"] = party
        out.update(dict(headers or {}))
        chosen = (token if token is not None else self.hub_token) if send_token else None
        return self._send(
            method,
            url,
            token=chosen,
            json=json,
            raw_body=raw_body,
            headers=out,
            params=params,
            encoding=token_encoding,
            timeout=timeout,
            follow_redirects=follow_redirects,
        )

    def _resolve(self, url_or_module: str, role: str | None) -> str:
        if url_or_module.startswith(("http://", "https://")):
            return url_or_module
        identifier, _, rest = url_or_module.strip("/").partition("/")
        base = self.hub_endpoint(identifier, role)
        if base is None:
            raise LookupError(f"the hub offered no {identifier!r} endpoint: {self.hub_endpoints}")
        return f"{base.rstrip('/')}/{rest}" if rest else base

    @staticmethod
    def _endpoint_url(endpoints: Sequence[Mapping[str, Any]], identifier: str) -> str | None:
        for endpoint in endpoints:
            if endpoint.get("identifier") == identifier and endpoint.get("url"):
                return str(endpoint["url"])
        return None

    def _require_hub_credentials_url(self) -> str:
        with self._lock:
            url = self._endpoint_url(self._hub_endpoints, "credentials")
        if url is None:
            raise RuntimeError(f"{self.name} knows no hub credentials endpoint (not registered?)")
        return url

    @staticmethod
    def _check_credentials(data: Any, method: str, url: str) -> str:
        if not isinstance(data, dict) or not isinstance(data.get("token"), str):
            raise OcpiCallError(
                "answer data is not a Credentials object", method=method, url=url, body=repr(data)
            )
        return cast(str, data["token"])

    def _forget_registration(self) -> None:
        with self._lock:
            self._registered = False
            self._own_token = None
            self._hub_token = None
            self._token_a_valid = False
            self._pending_own_tokens.clear()

    # ---- inbound handling --------------------------------------------------------------

    def _normalize_prefix(self, prefix: str) -> str:
        base = self._base_url_or_none()
        if base and prefix.startswith(base):
            prefix = prefix[len(base) :]
        if not prefix.startswith("/"):
            prefix = f"/ocpi/{OCPI_VERSION}/{prefix}"
        return prefix

    def _handle(self, method: str, target: str, headers: httpx.Headers, body: bytes) -> _Reply:
        """Record, apply faults, route, and echo the correlation headers. Never raises."""
        split = urlsplit(target)
        path = split.path.rstrip("/") or "/"
        try:
            parsed_json: Any = jsonlib.loads(body) if body else None
        except ValueError:
            parsed_json = None
        record = ReceivedRequest(
            method=method.upper(),
            path=path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            json=parsed_json,
            time=datetime.now(tz=UTC),
        )
        with self._received_cond:
            record.token, record.token_form = self._identify_token(headers.get("Authorization"))
            self._received.append(record)
            self._received_cond.notify_all()
        try:
            reply = self._apply_behaviour(record) or self._route(record)
        except Exception as exc:  # noqa: BLE001 - a test helper must answer, not die
            with self._lock:
                self._errors.append(exc)
            reply = _Reply(500, envelope(None, 3000, f"Simulated partner crashed: {exc!r}"))
        if not reply.drop:
            reply.headers = {**self._echo_headers(headers), **reply.headers}
        with self._received_cond:
            record.response_status = 0 if reply.drop else reply.status
            record.response_body = reply.body
            self._received_cond.notify_all()
        return reply

    def _identify_token(self, header: str | None) -> tuple[str | None, TokenEncoding | None]:
        """Map the header to a known token (any state) so records say which one was used."""
        known = {
            t for t in (self._token_a, self._own_token, *self._pending_own_tokens) if t is not None
        }
        candidates = _header_tokens(header)
        for token, form in candidates:
            if token in known:
                return token, form
        if candidates:
            return candidates[-1]  # unknown: keep the raw credential for the record
        return None, None

    @staticmethod
    def _echo_headers(headers: httpx.Headers) -> dict[str, str]:
        """X-Request-ID / X-Correlation-ID echoed; routing headers swapped (2.2.1 hub rule)."""
        out = {
            "X-Request-ID": headers.get("X-Request-ID") or str(uuid.uuid4()),
            "X-Correlation-ID": headers.get("X-Correlation-ID") or str(uuid.uuid4()),
        }
        for suffix in _ROUTING_HEADERS:
            to_value = headers.get(f"OCPI-to-{suffix}")
            from_value = headers.get(f"OCPI-from-{suffix}")
            if to_value:
                out[f"OCPI-from-{suffix}"] = to_value
            if from_value:
                out[f"OCPI-to-{suffix}"] = from_value
        return out

    def _apply_behaviour(self, record: ReceivedRequest) -> _Reply | None:
        with self._lock:
            behaviour = next(
                (b for b in reversed(self._behaviours) if b.matches(record.method, record.path)),
                None,
            )
            if behaviour is not None:
                behaviour.hits += 1
                if behaviour.times is not None:
                    behaviour.times -= 1
        if behaviour is None:
            return None
        if behaviour.delay > 0 and self._stopping.wait(behaviour.delay):
            return _Reply(0, drop=True)
        if behaviour.close_connection:
            return _Reply(0, drop=True)
        if behaviour.redirect_to is not None:
            status = behaviour.status if behaviour.status and behaviour.status // 100 == 3 else 307
            return _Reply(status, raw=b"", headers={"Location": behaviour.redirect_to})
        if not behaviour.answers:
            return None
        status = behaviour.status if behaviour.status is not None else 200
        if behaviour.raw_body is not None:
            return _Reply(status, raw=behaviour.raw_body, headers={"Content-Type": "text/plain"})
        if behaviour.envelope is not None:
            return _Reply(status, copy.deepcopy(behaviour.envelope))
        code = 3000 if status >= 500 else 2000 if status >= 400 else 1000
        return _Reply(status, envelope(None, code, f"Simulated HTTP {status}"))

    def _route(self, record: ReceivedRequest) -> _Reply:
        parts = [p for p in record.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "ocpi":
            return _Reply(404, envelope(None, 2000, f"Unknown path {record.path}"))
        if parts[1] == "versions" and len(parts) == 2:
            return self._versions(record)
        version = parts[1]
        if version not in self.versions:
            return _Reply(404, envelope(None, 2000, f"Version {version} not offered"))
        if len(parts) == 2:
            return self._details(record, version)
        module = parts[2]
        record.module = module
        if module not in {m for m, _ in self.modules}:
            return _Reply(404, envelope(None, 2000, f"No {module} endpoint"))
        if module == "credentials" and len(parts) == 3:
            return self._credentials(record)
        return self._functional(record, version, module, parts[3:])

    # versions and details: Token A, the current token and tokens in a handshake are valid.

    def _handshake_tokens(self) -> set[str]:
        with self._lock:
            tokens = set(self._pending_own_tokens)
            if self._own_token:
                tokens.add(self._own_token)
            if self._token_a_valid and not self._registered:
                tokens.add(self._token_a)
            return tokens

    @staticmethod
    def _unauthorized(record: ReceivedRequest) -> _Reply:
        message = "Missing Authorization" if record.token is None else "Unknown token"
        return _Reply(401, envelope(None, 2000, message), headers={"WWW-Authenticate": "Token"})

    def _versions(self, record: ReceivedRequest) -> _Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        if record.method != "GET":
            return _Reply(405, envelope(None, 2000, "Only GET"))
        if self.fail_versions:
            return _Reply(500, envelope(None, 3000, "Simulated versions failure"))
        data = [{"version": v, "url": self.details_url(v)} for v in self.versions]
        return _Reply(200, envelope(data))

    def _details(self, record: ReceivedRequest, version: str) -> _Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        if record.method != "GET":
            return _Reply(405, envelope(None, 2000, "Only GET"))
        endpoints: list[JsonObject] = []
        seen: set[str] = set()
        for module, role in self.modules:
            url = self.module_url(module, version=version)
            if version.startswith("2.2"):
                endpoints.append({"identifier": module, "role": role, "url": url})
            elif module not in seen:  # 2.1.1 endpoints have no role
                endpoints.append({"identifier": module, "url": url})
            seen.add(module)
        return _Reply(200, envelope({"version": version, "endpoints": endpoints}))

    def _credentials(self, record: ReceivedRequest) -> _Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        method = record.method
        if method == "GET":
            return _Reply(200, envelope(self.credentials()))
        if method == "POST":
            if self.registered:
                return _Reply(405, envelope(None, 2000, "Already registered; use PUT"))
            return self._accept_registration(record, update=False)
        if method == "PUT":
            if not self.registered:
                return _Reply(405, envelope(None, 2000, "Not registered; use POST"))
            return self._accept_registration(record, update=True)
        if method == "DELETE":
            if not self.registered:
                return _Reply(405, envelope(None, 2000, "Not registered"))
            self._forget_registration()
            return _Reply(200, envelope(None))
        return _Reply(405, envelope(None, 2000, f"{method} not allowed"))

    def _accept_registration(self, record: ReceivedRequest, *, update: bool) -> _Reply:
        """Receiver side of POST/PUT credentials: call the hub back with its new token first."""
        if record.body and record.json is None:
            return _Reply(400, envelope(None, 2001, "Body is not JSON"))
        body = record.json
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("token"), str)
            or not body["token"]
            or not isinstance(body.get("url"), str)
            or not isinstance(body.get("roles"), list)
            or not body["roles"]
        ):
            return _Reply(200, envelope(None, 2001, "Credentials need token, url and roles"))
        hub_token, versions_url = body["token"], body["url"]
        try:
            version, endpoints = self._fetch_endpoints(versions_url, hub_token, self.versions)
        except LookupError as exc:
            return _Reply(200, envelope(None, 3002, f"Unsupported version: {exc}"))
        except OcpiCallError as exc:
            return _Reply(200, envelope(None, 3001, f"Unable to use the client's API: {exc}"))
        identifiers = {str(e.get("identifier")) for e in endpoints}
        missing = [m for m in self.required_endpoints if m not in identifiers]
        if missing:
            return _Reply(200, envelope(None, 3003, f"Missing endpoints: {missing}"))
        new_own = _generate_token()
        with self._lock:
            self._hub_token = hub_token
            self._hub_versions_url = versions_url
            self._hub_version = version
            self._hub_endpoints = endpoints
            self._hub_credentials = copy.deepcopy(body)
            self._own_token = new_own
            self._registered = True
            self._token_a_valid = False
        return _Reply(200, envelope(self.credentials()))

    # functional modules: only the token issued to the hub is valid.

    def _functional(
        self, record: ReceivedRequest, version: str, module: str, rest: list[str]
    ) -> _Reply:
        with self._lock:
            own = self._own_token
        if own is None or record.token != own:
            return self._unauthorized(record)
        if record.body and record.json is None:
            return _Reply(400, envelope(None, 2001, "Body is not JSON"))
        method, path = record.method, record.path
        unknown = _UNKNOWN_OBJECT_STATUS.get(module, 2000)
        if method == "GET":
            if not rest:
                return self._list(record, module)
            found = self._find(path, module, rest)
            if found is None:
                return _Reply(404, envelope(None, unknown, f"Unknown object {path}"))
            return self._ok(record, found)
        if method == "PUT":
            if record.json is None:
                return _Reply(200, envelope(None, 2001, "PUT needs a body"))
            with self._lock:
                self._stored[path] = copy.deepcopy(record.json)
            return self._ok(record, None)
        if method == "PATCH":
            if not isinstance(record.json, dict):
                return _Reply(200, envelope(None, 2001, "PATCH needs a JSON object"))
            with self._lock:
                current = self._stored.get(path)
                if not isinstance(current, dict):
                    return _Reply(404, envelope(None, unknown, f"Unknown object {path}"))
                current.update(copy.deepcopy(record.json))
            return self._ok(record, None)
        if method == "POST":
            if record.json is not None:
                with self._lock:
                    self._stored[path] = copy.deepcopy(record.json)
            return self._post_reply(record, module, rest)
        if method == "DELETE":
            with self._lock:
                removed = self._stored.pop(path, None)
            if removed is None:
                return _Reply(404, envelope(None, unknown, f"Unknown object {path}"))
            return self._ok(record, None)
        return _Reply(405, envelope(None, 2000, f"{method} not allowed"))

    def _ok(self, record: ReceivedRequest, data: Any) -> _Reply:
        with self._lock:
            override = next(
                (
                    r
                    for r in reversed(self._replies)
                    if record.path.startswith(r.path_prefix)
                    and (r.method is None or r.method == record.method)
                ),
                None,
            )
        if override is not None:
            data = copy.deepcopy(override.data)
        return _Reply(200, envelope(data))

    def _find(self, path: str, module: str, rest: list[str]) -> Any:
        """A stored object, else (Sender interface) an object of the served list by id."""
        with self._lock:
            if path in self._stored:
                return copy.deepcopy(self._stored[path])
            candidates = self._objects.get(module, [])
            obj: Any = next((o for o in candidates if rest[0] in (o.get("id"), o.get("uid"))), None)
            # Locations: /{location_id}/{evse_uid}/{connector_id}.
            for key, child in zip(("evses", "connectors"), rest[1:], strict=False):
                if not isinstance(obj, dict):
                    return None
                obj = next(
                    (c for c in obj.get(key, []) if child in (c.get("uid"), c.get("id"))), None
                )
            return copy.deepcopy(obj)

    def _post_reply(self, record: ReceivedRequest, module: str, rest: list[str]) -> _Reply:
        """Sensible default answers: commands are ACCEPTED, known tokens are ALLOWED."""
        if module == "commands":
            return self._ok(record, {"result": "ACCEPTED", "timeout": 30})
        if module == "cdrs" and not rest and isinstance(record.json, dict):
            # mod_cdrs Receiver POST: the answer MUST carry `Location`, the created CDR's URL.
            created = f"{record.path.rstrip('/')}/{record.json.get('id')}"
            with self._lock:
                self._stored[created] = copy.deepcopy(record.json)
            reply = self._ok(record, None)
            reply.headers = {**reply.headers, "Location": f"{self.base_url}{created}"}
            return reply
        if module == "tokens" and len(rest) >= 2 and rest[-1] == "authorize":
            uid, token_type = rest[0], record.param("type") or "RFID"
            with self._lock:
                token = next(
                    (
                        t
                        for t in self._objects.get("tokens", [])
                        if t.get("uid") == uid and t.get("type", "RFID") == token_type
                    ),
                    None,
                )
            if token is None:
                return _Reply(404, envelope(None, 2004, f"Unknown token {uid}"))
            return self._ok(record, {"allowed": "ALLOWED", "token": copy.deepcopy(token)})
        return self._ok(record, None)

    def _list(self, record: ReceivedRequest, module: str) -> _Reply:
        """Sender interface list GET with 2.2.1 pagination (date_from incl., date_to excl.)."""
        try:
            offset = int(record.param("offset") or 0)
            limit = int(record.param("limit") or self.max_limit)
            date_from_raw, date_to_raw = record.param("date_from"), record.param("date_to")
            date_from = _parse_ocpi_datetime(date_from_raw) if date_from_raw else None
            date_to = _parse_ocpi_datetime(date_to_raw) if date_to_raw else None
        except ValueError as exc:
            return _Reply(200, envelope(None, 2001, f"Invalid pagination parameter: {exc}"))
        if offset < 0 or limit < 1:
            return _Reply(200, envelope(None, 2001, "offset must be >= 0 and limit >= 1"))
        limit = min(limit, self.max_limit)
        selected: list[JsonObject] = []
        for obj in self.objects(module):
            if date_from is not None or date_to is not None:
                raw = obj.get("last_updated")
                if not isinstance(raw, str):
                    continue
                moment = _parse_ocpi_datetime(raw)
                if (date_from is not None and moment < date_from) or (
                    date_to is not None and moment >= date_to
                ):
                    continue
            selected.append(obj)
        page = selected[offset : offset + limit]
        headers = {"X-Total-Count": str(len(selected)), "X-Limit": str(self.max_limit)}
        if offset + limit < len(selected):
            query = [
                (k, v) for k, vs in record.query.items() if k not in ("offset", "limit") for v in vs
            ]
            query += [("offset", str(offset + limit)), ("limit", str(limit))]
            headers["Link"] = f'<{self.base_url}{record.path}?{urlencode(query)}>; rel="next"'
        reply = self._ok(record, page)
        reply.headers.update(headers)
        return reply
