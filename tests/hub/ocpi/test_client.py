"""The outbound client with an injected transport: no network."""

import base64
import json

import httpx
import pytest

from hub.models import OcpiExchange
from hub.ocpi.client import OcpiClient, OcpiRemoteError, OcpiTransportError, UrlNotAllowedError
from hub.ocpi.routing import PartyRef

pytestmark = pytest.mark.django_db

URL = "http://127.0.0.1:9/ocpi/2.2.1/locations"


def envelope(data: object = None, status: int = 1000) -> dict[str, object]:
    return {"data": data, "status_code": status, "timestamp": "2024-01-01T00:00:00Z"}


def test_request_sends_token_ids_and_routing_headers() -> None:
    # given
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=envelope([1]))

    client = OcpiClient(token="secret-token", transport=httpx.MockTransport(handler))
    # when
    result = client.get(
        URL,
        correlation_id="corr-1",
        from_party=PartyRef.of("nl", "hub"),
        to_party=PartyRef.of("DE", "abc"),
    )
    # then
    sent = seen[0]
    assert sent.headers["Authorization"] == "Token " + base64.b64encode(b"secret-token").decode()
    assert sent.headers["X-Correlation-ID"] == "corr-1"
    assert sent.headers["X-Request-ID"] and sent.headers["X-Request-ID"] != "corr-1"
    assert sent.headers["OCPI-from-party-id"] == "HUB"
    assert sent.headers["OCPI-to-country-code"] == "DE"
    assert result.ok and result.data == [1]


def test_request_raw_token_form() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=envelope())

    OcpiClient(token="t0k", token_encoding="RAW", transport=httpx.MockTransport(handler)).get(URL)
    assert seen[0].headers["Authorization"] == "Token t0k"


def test_request_each_call_gets_a_new_request_id() -> None:
    ids: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        ids.append(request.headers["X-Request-ID"])
        return httpx.Response(200, json=envelope())

    client = OcpiClient(token="t", transport=httpx.MockTransport(handler))
    client.get(URL, correlation_id="same")
    client.get(URL, correlation_id="same")
    assert len(set(ids)) == 2


@pytest.mark.parametrize(
    ("response", "http_status", "ocpi_status"),
    [
        (httpx.Response(200, json=envelope(status=2001)), 200, 2001),
        (httpx.Response(500, json=envelope(status=3000)), 500, 3000),
        (httpx.Response(403, text="Forbidden"), 403, None),
        (httpx.Response(200, text="<html>"), 200, None),
        (httpx.Response(302, headers={"Location": "http://127.0.0.1:9/x"}), 302, None),
    ],
)
def test_request_failures_raise_remote_error(
    response: httpx.Response, http_status: int, ocpi_status: int | None
) -> None:
    client = OcpiClient(token="t", transport=httpx.MockTransport(lambda r: response))
    with pytest.raises(OcpiRemoteError) as raised:
        client.get(URL)
    assert raised.value.http_status == http_status
    assert raised.value.ocpi_status == ocpi_status


def test_request_require_success_off_returns_the_error_envelope() -> None:
    client = OcpiClient(
        token="t",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=envelope(status=2004))),
    )
    result = client.get(URL, require_success=False)
    assert not result.ok and result.ocpi_status == 2004


def test_request_timeout_raises_transport_error_marked_timeout() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    with pytest.raises(OcpiTransportError) as raised:
        OcpiClient(token="t", transport=httpx.MockTransport(handler)).get(URL)
    assert raised.value.timeout


def test_request_private_url_refused_when_not_allowed(settings: object) -> None:
    settings.OCPI_ALLOW_PRIVATE_URLS = False  # type: ignore[attr-defined]
    called = []
    client = OcpiClient(token="t", transport=httpx.MockTransport(lambda r: called.append(r)))
    for url in (
        "http://127.0.0.1/x",
        "http://10.0.0.1/x",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/x",
        "http://localhost/x",
        "ftp://example.com/x",
        "file:///etc/passwd",
    ):
        with pytest.raises(UrlNotAllowedError):
            client.get(url)
    assert called == []


def test_request_logged_without_the_token() -> None:
    client = OcpiClient(
        token="very-secret-token-value",
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json=envelope())),
    )
    client.post(URL, json={"a": 1}, correlation_id="corr-log")
    row = OcpiExchange.objects.get(correlation_id="corr-log")
    assert row.direction == "OUT" and row.http_status == 200 and row.ocpi_status == 1000
    dumped = json.dumps([str(v) for v in row.__dict__.values()])
    assert "very-secret-token-value" not in dumped
    assert base64.b64encode(b"very-secret-token-value").decode() not in dumped
