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

The partner is put together from one module per concern: `server` (the HTTP server and its
lifecycle), `handler` (HTTP to OCPI, the inbound answers), `store` (what it received, sent and
keeps), `behaviour` (injected faults and reply overrides), `client` (its calls to the hub)
and `ocpi` (envelope, tokens, roles). This module holds its registration state.

Token naming, always from this partner's point of view:

- `token_a`: the token this partner issued offline for a hub-initiated registration;
- `own_token`: the token the hub must present to call this partner;
- `hub_token`: the token this partner presents to call the hub.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterable, Mapping, Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any, cast

from partners.behaviour import Behaviour, PartnerBehaviour, ReplyOverride
from partners.client import PartnerClient
from partners.handler import OcpiHandling, PartnerHandler
from partners.ocpi import (
    DEFAULT_ROLES,
    OCPI_VERSION,
    JsonObject,
    Module,
    OcpiCallError,
    TokenEncoding,
    default_modules,
    generate_token,
)
from partners.server import PartnerServer, PartnerServing
from partners.store import PartnerStore, ReceivedRequest, SentRequest


class SimulatedPartner(PartnerServing, PartnerStore, PartnerBehaviour, PartnerClient, OcpiHandling):
    """A CPO/eMSP/hub-like OCPI platform on its own loopback port, scripted by tests.

    Use as a context manager (`with SimulatedPartner() as partner:`) so the server always stops.
    All public state is read under a lock and returned as snapshots: the server threads write
    while the test thread reads.
    """

    #: The HTTP handler of the partner's server (a subclass may answer at the socket level:
    #: tests.partners.hostile, for example).
    handler_class: type[BaseHTTPRequestHandler] = PartnerHandler

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
        location_trees: bool = False,
    ) -> None:
        """Configure the partner; nothing listens until `start()` (or `with`).

        `modules` are (identifier, role) pairs listed in the version details; only those are
        served, so omitting one simulates a partner that lacks an endpoint. `required_endpoints`
        are the hub endpoints this partner insists on when it receives a registration (3003).
        Offering only `versions=["2.1.1"]` simulates an old partner: its details list endpoints
        in the 2.1.1 form (no roles), enough for the hub's 3002 path; the modules themselves,
        credentials included, still speak 2.2.1.

        `location_trees`: hold each location as one tree, as a real locations RECEIVER does, so
        a PUT or PATCH of an EVSE or connector of a location it holds changes that location
        (and a PATCH of an EVSE it got in a location PUT succeeds). Off, objects are stored by
        URL only, and such a PATCH answers 404 (the hub then falls back to a full PUT).
        """
        if token_encoding not in ("base64", "raw"):
            raise ValueError("token_encoding must be 'base64' or 'raw'")
        self.roles: list[JsonObject] = [copy.deepcopy(dict(r)) for r in (roles or DEFAULT_ROLES)]
        self.modules: list[Module] = (
            [(m.lower(), r.upper()) for m, r in modules]
            if modules is not None
            else default_modules(self.roles)
        )
        self.versions: list[str] = list(versions)
        self.token_encoding: TokenEncoding = token_encoding
        self.required_endpoints: list[str] = list(required_endpoints)
        self.max_limit = max_limit
        self.client_timeout = client_timeout
        self.location_trees = location_trees
        self.name = name or f"{self.roles[0].get('party_id', 'SIM')}-sim"
        #: When True the versions endpoint answers HTTP 500 (a partner that is down).
        self.fail_versions = False

        self._lock = threading.RLock()
        self._received_cond = threading.Condition(self._lock)
        self._stopping = threading.Event()
        self._server: PartnerServer | None = None
        self._thread: threading.Thread | None = None

        self._port_hint = 0  # 0: any free port; after the first start, that port again
        self._token_a: str = token_a or generate_token()
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
        self._replies: list[ReplyOverride] = []

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
            self._token_a = token or generate_token()
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

    def register_with(
        self,
        versions_url: str,
        token_a: str,
        *,
        version: str = OCPI_VERSION,
        correlation_id: str | None = None,
    ) -> JsonObject:
        """Register as the sender: versions, details, POST credentials (new token B).

        On success the hub's token C becomes `hub_token`, B becomes `own_token` and the hub's
        endpoints are stored; the answer's `data` is returned. The hub calls back our versions
        with B during the POST, so B is accepted from before the POST is sent. With
        `correlation_id` the three calls carry that X-Correlation-ID (one handshake, one id).
        """
        headers = {"X-Correlation-ID": correlation_id} if correlation_id else None
        _, endpoints = self._fetch_endpoints(versions_url, token_a, [version], headers)
        credentials_url = self._endpoint_url(endpoints, "credentials")
        if credentials_url is None:
            raise OcpiCallError(
                "hub version details lack a credentials endpoint", method="GET", url=versions_url
            )
        new_token = generate_token()
        with self._lock:
            self._pending_own_tokens.add(new_token)
        try:
            data = self._call_data(
                "POST",
                credentials_url,
                token=token_a,
                json=self.credentials(new_token),
                headers=headers,
            )
            token_c = self._check_credentials(data, "POST", credentials_url)
        finally:
            with self._lock:
                self._pending_own_tokens.discard(new_token)
        self._registered_with(new_token, token_c, versions_url, version, endpoints, data)
        return cast(JsonObject, data)

    def update_credentials(self, token: str | None = None) -> JsonObject:
        """PUT new credentials (new token B', or `token`) to the hub: token rotation.

        The hub re-fetches our versions with B' while the PUT is open, so B' is accepted from
        before the call; the old own token stays valid until the hub has answered.
        """
        credentials_url = self._require_hub_credentials_url()
        new_token = token or generate_token()
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

    def _registered_with(
        self,
        own_token: str,
        hub_token: str,
        versions_url: str,
        version: str,
        endpoints: list[JsonObject],
        credentials: Any,
    ) -> None:
        """A registration completed (as sender or as receiver): Token A is spent."""
        with self._lock:
            self._own_token = own_token
            self._hub_token = hub_token
            self._hub_versions_url = versions_url
            self._hub_version = version
            self._hub_endpoints = endpoints
            self._hub_credentials = copy.deepcopy(credentials)
            self._registered = True
            self._token_a_valid = False

    def _forget_registration(self) -> None:
        with self._lock:
            self._registered = False
            self._own_token = None
            self._hub_token = None
            self._token_a_valid = False
            self._pending_own_tokens.clear()
