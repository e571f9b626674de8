"""The pooled client connects to the address it checked but speaks TLS to the name: SNI and
the certificate check use the URL's host name, never the IP it resolved to. A real TLS server
on 127.0.0.1 with a certificate for one name (trustme makes the CA and the certificate)."""

import json
import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import trustme

import hub.ocpi.client as client_module
from hub.ocpi.client import OcpiClient, OcpiTransportError
from tests.security.resolver import FakeResolver

NAME = "tls.partner.test"


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - stdlib hook name
        body = json.dumps(
            {"data": [], "status_code": 1000, "timestamp": "2024-01-01T00:00:00Z"}
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass


class TlsServer:
    """HTTPS on 127.0.0.1 with a certificate for `NAME` only; records SNI names and Hosts."""

    def __init__(self, ca: trustme.CA) -> None:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ca.issue_cert(NAME).configure_cert(context)
        self.sni: list[str | None] = []
        context.sni_callback = lambda sock, name, ctx: self.sni.append(name)  # type: ignore[assignment,misc,return-value]
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.httpd.hosts = []  # type: ignore[attr-defined]
        self.httpd.socket = context.wrap_socket(self.httpd.socket, server_side=True)
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def hosts(self) -> list[str]:
        return list(self.httpd.hosts)  # type: ignore[attr-defined]


@pytest.fixture
def tls_server(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, dns: FakeResolver
) -> Iterator[TlsServer]:
    ca = trustme.CA()
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    # The pooled client trusts this CA (httpx reads SSL_CERT_FILE) and is built afresh.
    monkeypatch.setenv("SSL_CERT_FILE", str(ca_file))
    monkeypatch.setattr(client_module, "_shared_client", None)
    dns.answer(NAME, ["127.0.0.1"])
    dns.answer("other.partner.test", ["127.0.0.1"])
    server = TlsServer(ca)
    server.thread.start()
    try:
        yield server
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()
        if client_module._shared_client is not None:
            client_module._shared_client.close()


@pytest.mark.django_db
def test_tls_to_the_checked_address_uses_the_name_for_sni_and_certificate(
    tls_server: TlsServer,
) -> None:
    # when: the hub calls the partner by name (resolved once, to 127.0.0.1)
    result = OcpiClient(token="t").get(f"https://{NAME}:{tls_server.port}/ocpi/versions")
    # then: the TLS handshake named the host, the certificate for it was accepted
    assert result.ok
    assert tls_server.sni == [NAME]
    assert tls_server.hosts == [f"{NAME}:{tls_server.port}"]


@pytest.mark.django_db
def test_tls_certificate_for_another_name_is_refused(tls_server: TlsServer) -> None:
    # when: another name resolving to the same address: the certificate does not match it
    with pytest.raises(OcpiTransportError):
        OcpiClient(token="t").get(f"https://other.partner.test:{tls_server.port}/ocpi/versions")
    # then: the handshake named the host asked for, and no request was sent
    assert tls_server.sni == ["other.partner.test"]
    assert tls_server.hosts == []
