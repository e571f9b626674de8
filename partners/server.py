"""Where a simulated partner listens: a threaded HTTP server on 127.0.0.1 (an ephemeral port,
kept across a restart) and its lifecycle, bounded in time so no test hangs on shutdown.
`PartnerServing` is the part of `SimulatedPartner` that starts, stops and addresses it."""

from __future__ import annotations

import contextlib
import socket
import socketserver
import threading
import time
from http.server import ThreadingHTTPServer
from typing import Any, Self

from partners.ocpi import (
    OCPI_VERSION,
)
from partners.state import PartnerState


def free_port() -> int:
    """A loopback port nobody listens on (at the time of asking)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PartnerServer(ThreadingHTTPServer):
    """A threading server that knows its partner and can cut open connections on shutdown.

    Keep-alive connections would otherwise keep handler threads blocked in `read` after the
    test ended; tracking them lets `stop()` close them and join their threads with a timeout.
    """

    daemon_threads = True
    block_on_close = False
    # A restarted partner (stop() then start()) comes back on the same port, as a real
    # platform does after an outage; meanwhile connections are refused.
    allow_reuse_address = True

    def __init__(self, partner: PartnerState) -> None:
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


class PartnerServing(PartnerState):
    """Lifecycle and addresses of a `SimulatedPartner` (a mixin over its state)."""

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> Self:
        """Bind an ephemeral port on 127.0.0.1 and serve in a daemon thread (idempotent)."""
        with self._lock:
            if self._server is not None:
                return self
            self._stopping.clear()
            server = PartnerServer(self)
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

    def __enter__(self) -> Self:
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
