"""A simulated partner that can answer as a hostile one would, at the socket level.

`HostilePartner` is a `SimulatedPartner` (registration, modules, faults all as usual) whose
answers to chosen requests are written byte by byte on the socket:

- `gzip_bomb(size)`: a gzip body of about size/1000 bytes that inflates to `size` bytes — a
  valid envelope after `size` bytes of JSON whitespace, so a reader without a cap would
  succeed, after inflating it all;
- `endless()`: a chunked body of whitespace that never ends;
- `drip(interval)`: a valid envelope, one byte every `interval` seconds;
- `drip_headers(interval)`: the status line, then a header one byte every `interval` seconds.

Each writer stops when the client goes away, when the partner stops, or after `_MAX_S`, so no
server thread outlives its test for long. Like the base partner, nothing here imports the hub.
Hostile requests are recorded in `received` with `response_status` 0 (no answer was given):
they never count as accepted.
"""

from __future__ import annotations

import contextlib
import functools
import json as jsonlib
import threading
import time
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httpx

from partners.handler import PartnerHandler
from partners.ocpi import envelope
from partners.server import PartnerServer
from partners.simulated import SimulatedPartner

# The longest any hostile answer goes on (a thread per request writes it).
_MAX_S = 120.0
_PAD = 64 * 1024

Writer = Callable[[PartnerHandler, threading.Event], None]


def _envelope_bytes() -> bytes:
    return jsonlib.dumps(envelope([])).encode()


@functools.lru_cache(maxsize=4)
def bomb_bytes(size: int) -> bytes:
    """gzip of `size` bytes of spaces followed by an empty success envelope (cached: the
    compression of a gigabyte takes a second or two)."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1024 * 1024)
    parts = []
    left = size
    while left > 0:
        parts.append(compressor.compress(block[: min(left, len(block))]))
        left -= len(block)
    parts.append(compressor.compress(_envelope_bytes()))
    parts.append(compressor.flush())
    return b"".join(parts)


def _start(handler: PartnerHandler, headers: dict[str, str]) -> None:
    handler.send_response(200)
    for name, value in {"Content-Type": "application/json", **headers}.items():
        handler.send_header(name, value)
    handler.end_headers()


def gzip_bomb(size: int = 1024**3) -> Writer:
    body = bomb_bytes(size)

    def write(handler: PartnerHandler, stopping: threading.Event) -> None:
        _start(handler, {"Content-Encoding": "gzip", "Content-Length": str(len(body))})
        handler.wfile.write(body)

    return write


def endless() -> Writer:
    def write(handler: PartnerHandler, stopping: threading.Event) -> None:
        _start(handler, {"Transfer-Encoding": "chunked"})
        chunk = f"{_PAD:x}\r\n".encode() + b" " * _PAD + b"\r\n"
        ends = time.monotonic() + _MAX_S
        while not stopping.is_set() and time.monotonic() < ends:
            handler.wfile.write(chunk)

    return write


def drip(interval: float = 1.0) -> Writer:
    def write(handler: PartnerHandler, stopping: threading.Event) -> None:
        body = b" " * 1000 + _envelope_bytes()
        _start(handler, {"Content-Length": str(len(body))})
        ends = time.monotonic() + _MAX_S
        for index in range(len(body)):
            if stopping.wait(interval) or time.monotonic() > ends:
                return
            handler.wfile.write(body[index : index + 1])

    return write


def drip_headers(interval: float = 1.0) -> Writer:
    def write(handler: PartnerHandler, stopping: threading.Event) -> None:
        handler.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nX-Slow: ")
        ends = time.monotonic() + _MAX_S
        while not stopping.wait(interval) and time.monotonic() < ends:
            handler.wfile.write(b"a")

    return write


@dataclass
class HostileRule:
    path_prefix: str
    writer: Writer
    method: str | None = None
    times: int | None = None
    hits: int = 0


class _HostileHandler(PartnerHandler):
    def _hostile_dispatch(self) -> None:
        partner = cast(HostilePartner, cast(PartnerServer, self.server).partner)
        path = urlsplit(self.path).path.rstrip("/") or "/"
        rule = partner._take_rule(self.command, path)
        if rule is None:
            self._dispatch()
            return
        try:
            body = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        partner._record(self.command, self.path, httpx.Headers(list(self.headers.items())), body)
        self.close_connection = True
        with contextlib.suppress(OSError):  # the hub gave up and closed: as intended
            rule.writer(self, partner._stopping)

    do_GET = do_POST = do_PUT = do_PATCH = _hostile_dispatch  # noqa: N815
    do_DELETE = do_HEAD = do_OPTIONS = _hostile_dispatch  # noqa: N815


class HostilePartner(SimulatedPartner):
    """A simulated partner whose answers to chosen requests are hostile (see module doc)."""

    handler_class = _HostileHandler

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._rules: list[HostileRule] = []

    def set_hostile(
        self,
        path_prefix: str,
        writer: Writer,
        *,
        method: str | None = None,
        times: int | None = None,
    ) -> HostileRule:
        """Answer requests under `path_prefix` (a module name or a path) with `writer`; the
        newest matching rule wins; `times` limits it to the next N requests."""
        rule = HostileRule(self._normalize_prefix(path_prefix), writer, method, times)
        with self._lock:
            self._rules.append(rule)
        return rule

    def reset_behaviour(self) -> None:
        with self._lock:
            self._rules.clear()
        super().reset_behaviour()

    def _take_rule(self, method: str, path: str) -> HostileRule | None:
        with self._lock:
            for rule in reversed(self._rules):
                if rule.times is not None and rule.times <= 0:
                    continue
                if rule.method is not None and rule.method.upper() != method.upper():
                    continue
                if path.startswith(rule.path_prefix):
                    rule.hits += 1
                    if rule.times is not None:
                        rule.times -= 1
                    return rule
        return None

    def _record(self, method: str, target: str, headers: httpx.Headers, body: bytes) -> None:
        """Record a hostile request as answered with nothing (`response_status` 0)."""
        self._record_arrival(method, target, headers, body, response_status=0)
