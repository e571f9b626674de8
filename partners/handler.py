"""How a simulated partner answers: `PartnerHandler` turns HTTP into calls of the partner and
writes its `Reply` back (knowing no OCPI), and `OcpiHandling`, the part of `SimulatedPartner`
that speaks OCPI 2.2.1 inbound: the token rules, versions and details, the credentials
handshake as receiver, and the functional modules (store, list with pagination, POST
answers), each answer in the OCPI envelope with the correlation headers echoed."""

from __future__ import annotations

import copy
import json as jsonlib
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import urlencode

import httpx

from partners.ocpi import (
    HTTP_REASONS,
    OCPI_VERSION,
    ROUTING_HEADERS,
    UNKNOWN_OBJECT_STATUS,
    JsonObject,
    OcpiCallError,
    TokenEncoding,
    envelope,
    generate_token,
    header_tokens,
    parse_ocpi_datetime,
)
from partners.state import PartnerState
from partners.store import ReceivedRequest

if TYPE_CHECKING:
    from partners.server import PartnerServer


@dataclass
class Reply:
    """What the HTTP handler writes back; `drop` closes the connection without an answer."""

    status: int
    body: Any = None
    raw: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    drop: bool = False


class PartnerHandler(BaseHTTPRequestHandler):
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
        partner = cast("PartnerServer", self.server).partner
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
            self.send_response(reply.status, HTTP_REASONS.get(reply.status))
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


class OcpiHandling(PartnerState):
    """The inbound OCPI side of a `SimulatedPartner` (a mixin over its state)."""

    # ---- inbound handling --------------------------------------------------------------

    def _normalize_prefix(self, prefix: str) -> str:
        base = self._base_url_or_none()
        if base and prefix.startswith(base):
            prefix = prefix[len(base) :]
        if not prefix.startswith("/"):
            prefix = f"/ocpi/{OCPI_VERSION}/{prefix}"
        return prefix

    def _handle(self, method: str, target: str, headers: httpx.Headers, body: bytes) -> Reply:
        """Record, apply faults, route, and echo the correlation headers. Never raises."""
        record = self._record_arrival(method, target, headers, body)
        try:
            reply = self._apply_behaviour(record) or self._route(record)
        except Exception as exc:  # noqa: BLE001 - a test helper must answer, not die
            with self._lock:
                self._errors.append(exc)
            reply = Reply(500, envelope(None, 3000, f"Simulated partner crashed: {exc!r}"))
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
        candidates = header_tokens(header)
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
        for suffix in ROUTING_HEADERS:
            to_value = headers.get(f"OCPI-to-{suffix}")
            from_value = headers.get(f"OCPI-from-{suffix}")
            if to_value:
                out[f"OCPI-from-{suffix}"] = to_value
            if from_value:
                out[f"OCPI-to-{suffix}"] = from_value
        return out

    def _route(self, record: ReceivedRequest) -> Reply:
        parts = [p for p in record.path.split("/") if p]
        if len(parts) < 2 or parts[0] != "ocpi":
            return Reply(404, envelope(None, 2000, f"Unknown path {record.path}"))
        if parts[1] == "versions" and len(parts) == 2:
            return self._versions(record)
        version = parts[1]
        if version not in self.versions:
            return Reply(404, envelope(None, 2000, f"Version {version} not offered"))
        if len(parts) == 2:
            return self._details(record, version)
        module = parts[2]
        record.module = module
        if module not in {m for m, _ in self.modules}:
            return Reply(404, envelope(None, 2000, f"No {module} endpoint"))
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
    def _unauthorized(record: ReceivedRequest) -> Reply:
        message = "Missing Authorization" if record.token is None else "Unknown token"
        return Reply(401, envelope(None, 2000, message), headers={"WWW-Authenticate": "Token"})

    def _versions(self, record: ReceivedRequest) -> Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        if record.method != "GET":
            return Reply(405, envelope(None, 2000, "Only GET"))
        if self.fail_versions:
            return Reply(500, envelope(None, 3000, "Simulated versions failure"))
        data = [{"version": v, "url": self.details_url(v)} for v in self.versions]
        return Reply(200, envelope(data))

    def _details(self, record: ReceivedRequest, version: str) -> Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        if record.method != "GET":
            return Reply(405, envelope(None, 2000, "Only GET"))
        endpoints: list[JsonObject] = []
        seen: set[str] = set()
        for module, role in self.modules:
            url = self.module_url(module, version=version)
            if version.startswith("2.2"):
                endpoints.append({"identifier": module, "role": role, "url": url})
            elif module not in seen:  # 2.1.1 endpoints have no role
                endpoints.append({"identifier": module, "url": url})
            seen.add(module)
        return Reply(200, envelope({"version": version, "endpoints": endpoints}))

    def _credentials(self, record: ReceivedRequest) -> Reply:
        if record.token not in self._handshake_tokens():
            return self._unauthorized(record)
        method = record.method
        if method == "GET":
            return Reply(200, envelope(self.credentials()))
        if method == "POST":
            if self.registered:
                return Reply(405, envelope(None, 2000, "Already registered; use PUT"))
            return self._accept_registration(record, update=False)
        if method == "PUT":
            if not self.registered:
                return Reply(405, envelope(None, 2000, "Not registered; use POST"))
            return self._accept_registration(record, update=True)
        if method == "DELETE":
            if not self.registered:
                return Reply(405, envelope(None, 2000, "Not registered"))
            self._forget_registration()
            return Reply(200, envelope(None))
        return Reply(405, envelope(None, 2000, f"{method} not allowed"))

    def _accept_registration(self, record: ReceivedRequest, *, update: bool) -> Reply:
        """Receiver side of POST/PUT credentials: call the hub back with its new token first."""
        if record.body and record.json is None:
            return Reply(400, envelope(None, 2001, "Body is not JSON"))
        body = record.json
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("token"), str)
            or not body["token"]
            or not isinstance(body.get("url"), str)
            or not isinstance(body.get("roles"), list)
            or not body["roles"]
        ):
            return Reply(200, envelope(None, 2001, "Credentials need token, url and roles"))
        hub_token, versions_url = body["token"], body["url"]
        try:
            version, endpoints = self._fetch_endpoints(versions_url, hub_token, self.versions)
        except LookupError as exc:
            return Reply(200, envelope(None, 3002, f"Unsupported version: {exc}"))
        except OcpiCallError as exc:
            return Reply(200, envelope(None, 3001, f"Unable to use the client's API: {exc}"))
        identifiers = {str(e.get("identifier")) for e in endpoints}
        missing = [m for m in self.required_endpoints if m not in identifiers]
        if missing:
            return Reply(200, envelope(None, 3003, f"Missing endpoints: {missing}"))
        new_own = generate_token()
        self._registered_with(new_own, hub_token, versions_url, version, endpoints, body)
        return Reply(200, envelope(self.credentials()))

    # functional modules: only the token issued to the hub is valid.

    def _functional(
        self, record: ReceivedRequest, version: str, module: str, rest: list[str]
    ) -> Reply:
        with self._lock:
            own = self._own_token
        if own is None or record.token != own:
            return self._unauthorized(record)
        if record.body and record.json is None:
            return Reply(400, envelope(None, 2001, "Body is not JSON"))
        method, path = record.method, record.path
        unknown = UNKNOWN_OBJECT_STATUS.get(module, 2000)
        if (
            self.location_trees
            and module == "locations"
            and method in ("PUT", "PATCH")
            and len(rest) in (4, 5)
        ):
            return self._location_part(record, rest)
        if method == "GET":
            if not rest:
                return self._list(record, module)
            found = self._find(path, module, rest)
            if found is None:
                return Reply(404, envelope(None, unknown, f"Unknown object {path}"))
            return self._ok(record, found)
        if method == "PUT":
            if record.json is None:
                return Reply(200, envelope(None, 2001, "PUT needs a body"))
            with self._lock:
                self._stored[path] = copy.deepcopy(record.json)
            return self._ok(record, None)
        if method == "PATCH":
            if not isinstance(record.json, dict):
                return Reply(200, envelope(None, 2001, "PATCH needs a JSON object"))
            with self._lock:
                current = self._stored.get(path)
                if not isinstance(current, dict):
                    return Reply(404, envelope(None, unknown, f"Unknown object {path}"))
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
                return Reply(404, envelope(None, unknown, f"Unknown object {path}"))
            return self._ok(record, None)
        return Reply(405, envelope(None, 2000, f"{method} not allowed"))

    def _location_part(self, record: ReceivedRequest, rest: list[str]) -> Reply:
        """PUT/PATCH of an EVSE (or connector) applied inside the stored location (2.2.1
        mod_locations Receiver: the object URLs address parts of one location)."""
        if not isinstance(record.json, dict):
            return Reply(200, envelope(None, 2001, f"{record.method} needs a JSON object"))
        location_path = record.path.rsplit("/", len(rest) - 3)[0]
        with self._lock:
            location = self._stored.get(location_path)
            parent: Any = location
            for key, child_id, id_field in zip(
                ("evses", "connectors"), rest[3:], ("uid", "id"), strict=False
            ):
                children = parent.get(key) if isinstance(parent, dict) else None
                if not isinstance(children, list):
                    return Reply(404, envelope(None, 2003, f"Unknown location {location_path}"))
                found = next((c for c in children if c.get(id_field) == child_id), None)
                if found is None:
                    if record.method == "PATCH" or child_id != rest[-1]:
                        return Reply(404, envelope(None, 2003, f"Unknown object {record.path}"))
                    found = {}
                    children.append(found)
                parent = found
            if record.method == "PUT":
                parent.clear()
            parent.update(copy.deepcopy(record.json))
            # A change of an EVSE or connector changes its location (mod_locations: parents'
            # last_updated follow their children's).
            if isinstance(location, dict) and "last_updated" in record.json:
                location["last_updated"] = record.json["last_updated"]
        return self._ok(record, None)

    def _ok(self, record: ReceivedRequest, data: Any) -> Reply:
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
        return Reply(200, envelope(data))

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

    def _post_reply(self, record: ReceivedRequest, module: str, rest: list[str]) -> Reply:
        """Sensible default answers: commands are ACCEPTED, known tokens are ALLOWED. A
        CommandResult POSTed to an eMSP's response_url (`commands/{command}/{uid}`) gets a
        plain success: the CommandResponse answers only the command itself."""
        if module == "commands" and len(rest) <= 1:
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
                return Reply(404, envelope(None, 2004, f"Unknown token {uid}"))
            return self._ok(record, {"allowed": "ALLOWED", "token": copy.deepcopy(token)})
        return self._ok(record, None)

    def _list(self, record: ReceivedRequest, module: str) -> Reply:
        """Sender interface list GET with 2.2.1 pagination (date_from incl., date_to excl.)."""
        try:
            offset = int(record.param("offset") or 0)
            limit = int(record.param("limit") or self.max_limit)
            date_from_raw, date_to_raw = record.param("date_from"), record.param("date_to")
            date_from = parse_ocpi_datetime(date_from_raw) if date_from_raw else None
            date_to = parse_ocpi_datetime(date_to_raw) if date_to_raw else None
        except ValueError as exc:
            return Reply(200, envelope(None, 2001, f"Invalid pagination parameter: {exc}"))
        if offset < 0 or limit < 1:
            return Reply(200, envelope(None, 2001, "offset must be >= 0 and limit >= 1"))
        limit = min(limit, self.max_limit)
        selected: list[JsonObject] = []
        for obj in self.objects(module):
            if date_from is not None or date_to is not None:
                raw = obj.get("last_updated")
                if not isinstance(raw, str):
                    continue
                moment = parse_ocpi_datetime(raw)
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
