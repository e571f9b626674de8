"""A fast OCPI stub partner for the routed-request benchmark (S1): a threaded HTTP/1.1 server
on 127.0.0.1 that answers every request at once from canned bytes — the location for a GET,
an empty success for anything else — after checking only that an Authorization is present.

Why not `partners.SimulatedPartner`: it records every request (headers, parsed body, a lock,
a condition), deep-copies what it serves and routes by version details, which is right for
tests and costs as much as the hub's own work per request here. Both sides of S1 reach the
same stub, so a slow stub would cap both and hide the hub's cost (`s1_routed --stub
simulated` measures with it, for comparison).
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


def envelope(data: Any) -> bytes:
    return json.dumps(
        {
            "data": data,
            "status_code": 1000,
            "status_message": "Success",
            "timestamp": "2024-06-01T00:00:00Z",
        },
        separators=(",", ":"),
    ).encode()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "BenchStub/1.0"
    timeout = 30

    def setup(self) -> None:
        super().setup()
        # Headers and body leave in one write; without NODELAY a small answer after a small
        # one waits for the peer's delayed ACK (Nagle): 40 ms per request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """No access log: it would cost more than the answer."""

    def _answer(self) -> None:
        stub: FastStub = self.server.stub  # type: ignore[attr-defined]
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if not self.headers.get("Authorization"):
            payload, status = b'{"status_code":2000,"status_message":"no token"}', 401
        else:
            payload = stub.get_body if self.command == "GET" else stub.ok_body
            status = 200
        head = [f"HTTP/1.1 {status} {'OK' if status == 200 else 'Unauthorized'}"]
        head += ["Content-Type: application/json", f"Content-Length: {len(payload)}"]
        head += [
            f"{name}: {self.headers[name]}"
            for name in ("X-Request-ID", "X-Correlation-ID")
            if self.headers.get(name)
        ]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        with stub.lock:
            stub.served += 1

    do_GET = do_PUT = do_PATCH = do_POST = do_DELETE = _answer  # noqa: N815


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A load generator closing its connections at the end is no error to print."""


class FastStub:
    """`with FastStub(location) as stub:` serves `location` to every GET on `stub.base_url`."""

    def __init__(self, location: dict[str, Any]) -> None:
        self.get_body = envelope(location)
        self.ok_body = envelope(None)
        self.lock = threading.Lock()
        self.served = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.stub = self  # type: ignore[attr-defined]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> FastStub:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)
