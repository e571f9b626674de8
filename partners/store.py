"""What a simulated partner records and keeps: every request it received and every call it
sent (for assertions and waits), the objects pushed to it, and the lists it serves as a
SENDER. `PartnerStore` is the part of `SimulatedPartner` that reads and writes them, always
under the partner's lock (server threads write while the test thread reads)."""

from __future__ import annotations

import copy
import json as jsonlib
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx

from partners.ocpi import (
    OCPI_VERSION,
    JsonObject,
    TokenEncoding,
)
from partners.state import PartnerState


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


class PartnerStore(PartnerState):
    """Recorded traffic and stored objects of a `SimulatedPartner` (a mixin over its state)."""

    def _record_arrival(
        self,
        method: str,
        target: str,
        headers: httpx.Headers,
        body: bytes,
        *,
        response_status: int | None = None,
    ) -> ReceivedRequest:
        """Record an inbound request on arrival, naming the token it used, and wake waiters."""
        split = urlsplit(target)
        try:
            parsed_json: Any = jsonlib.loads(body) if body else None
        except ValueError:
            parsed_json = None
        record = ReceivedRequest(
            method=method.upper(),
            path=split.path.rstrip("/") or "/",
            query=parse_qs(split.query, keep_blank_values=True),
            headers=headers,
            body=body,
            json=parsed_json,
            time=datetime.now(tz=UTC),
            response_status=response_status,
        )
        with self._received_cond:
            record.token, record.token_form = self._identify_token(headers.get("Authorization"))
            self._received.append(record)
            self._received_cond.notify_all()
        return record

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
