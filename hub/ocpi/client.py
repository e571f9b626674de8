"""The one outbound OCPI client: the only code that talks HTTP to partners.

Every call has timeouts, checks the URL policy, sends the partner's token in the form that
partner expects, issues a new X-Request-ID (keeping the caller's X-Correlation-ID), never
follows redirects, parses the envelope into an `OcpiResult` or raises a typed error, and is
recorded in the exchange log (never with the token).

Threads share one pooled `httpx.Client` per process (DESIGN §5: a threaded sync client
reached 90% of the Little's-law bound here, AsyncClient 14%). Tests inject a transport.

The pooled client connects through `PolicyCheckedBackend`: each new connection resolves the
host once, checks every address against the URL policy and connects to a checked address,
while the Host header, TLS SNI and certificate check keep the host name. Resolving again in
httpx after `check_url` would leave a DNS-rebinding window (public on the check, private on
the connect).

Every answer is bounded (issue 10, partners are untrusted): the body is streamed through
`hub.ocpi.bounded.read_bounded`, which stops at `OCPI_MAX_RESPONSE_BYTES` decompressed bytes
(or the platform's own `max_response_bytes`), and the whole call has a wall-clock deadline
(`OCPI_CALL_DEADLINE_S` unless the caller gives a shorter one). httpx's timeouts are per
operation, so a partner trickling one byte a second, in its headers or its body, never trips
them: `DeadlineStream` clamps every socket read, write and TLS handshake to the time the call
has left, and `read_bounded` checks the clock between chunks as well (an injected transport
has no socket).
"""

import os
import socket
import ssl
import threading
import time
from collections.abc import Iterable
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import httpcore
import httpx
from django.conf import settings

from hub.models import ExchangeDirection, Platform, TokenEncoding
from hub.ocpi.bounded import (
    ACCEPT_ENCODING,
    BoundedReadError,
    DeadlineExceededError,
    ResponseTooLargeError,
    read_bounded,
)
from hub.ocpi.envelope import is_envelope
from hub.ocpi.exchange_log import ExchangeRecord, record_exchange
from hub.ocpi.parsers import loads_bounded
from hub.ocpi.routing import CORRELATION_ID, REQUEST_ID, PartyRef, outbound_headers
from hub.ocpi.tokens import encode_token, redact_token
from hub.ocpi.urlpolicy import (
    UnresolvableHostError,
    UrlNotAllowedError,
    check_address,
    check_url,
    resolve,
)

__all__ = [
    "OcpiClient",
    "OcpiClientError",
    "OcpiDeadlineError",
    "OcpiRemoteError",
    "OcpiResponseTooLargeError",
    "OcpiResult",
    "OcpiTransportError",
    "UrlNotAllowedError",
]

# When the current outbound call must end (time.monotonic()), for the streams below. A
# context variable: the sync client runs in the calling thread, and pooled connections are
# shared between threads, so the deadline belongs to the call, not to the connection.
_call_deadline: ContextVar[float | None] = ContextVar("ocpi_call_deadline", default=None)

# A read that timed out this close to the deadline was cut short by it.
_DEADLINE_SLACK_S = 0.05

_shared_client: httpx.Client | None = None
_shared_lock = threading.Lock()


def _reset_after_fork() -> None:
    # A pooled client must not cross a fork (Celery prefork children, gunicorn workers).
    global _shared_client
    _shared_client = None


os.register_at_fork(after_in_child=_reset_after_fork)


def _within_deadline(timeout: float | None, error: type[httpcore.TimeoutException]) -> float | None:
    """`timeout` shortened to what the current call has left; `error` once nothing is left."""
    deadline = _call_deadline.get()
    if deadline is None:
        return timeout
    left = deadline - time.monotonic()
    if left <= 0:
        raise error("the call's deadline has passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation ends by the current call's deadline.

    httpcore gives each socket read the read timeout afresh, so headers or a body sent one
    byte at a time would hold the call for as long as the partner likes; here each read,
    write and TLS handshake gets at most the time left (`_call_deadline`), and none starts
    once it is gone. Connections stay pooled: the deadline is looked up per operation.
    """

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _within_deadline(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._inner.write(buffer, _within_deadline(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        timeout = _within_deadline(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> Any:
        return self._inner.get_extra_info(info)


class PolicyCheckedBackend(httpcore.SyncBackend):
    """Opens TCP connections only to addresses the URL policy allows (DESIGN §7).

    httpcore hands over the URL's host name; this resolves it once, refuses the connection
    with `UrlNotAllowedError` when any address is not allowed, and connects to the checked
    addresses themselves (in the resolver's order), so nothing resolves the name again.
    TLS is started by httpcore on the returned stream with the host name as SNI. Streams are
    `DeadlineStream`s: no operation outlives the call's deadline.
    """

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        try:
            addresses = resolve(host, port)
        except socket.gaierror as exc:
            # A resolver failure is a transport problem (retried), as it was inside httpx.
            raise httpcore.ConnectError(f"cannot resolve {host!r}: {exc.strerror}") from exc
        for address in addresses:
            check_address(host, address)
        last_error: httpcore.ConnectError | None = None
        for address in addresses:
            try:
                stream = super().connect_tcp(
                    address,
                    port,
                    _within_deadline(timeout, httpcore.ConnectTimeout),
                    local_address,
                    socket_options,
                )
            except httpcore.ConnectError as exc:
                last_error = exc
            else:
                return DeadlineStream(stream)
        raise last_error or httpcore.ConnectError(f"{host!r} resolves to no address")


def policy_checked_transport(limits: httpx.Limits) -> httpx.HTTPTransport:
    """An `httpx.HTTPTransport` whose connection pool connects through `PolicyCheckedBackend`.

    httpx takes no network backend argument, so the pool it builds is replaced by an
    identical one with the backend (httpx's documented way to customise the pool is a
    transport; the pool is its only state).
    """
    transport = httpx.HTTPTransport(limits=limits)
    transport._pool = httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(),
        max_connections=limits.max_connections,
        max_keepalive_connections=limits.max_keepalive_connections,
        keepalive_expiry=limits.keepalive_expiry,
        network_backend=PolicyCheckedBackend(),
    )
    return transport


def shared_http_client() -> httpx.Client:
    """The process's pooled client (created on first use).

    With a transport given, httpx reads no proxy from the environment: a proxy would resolve
    partner names itself, out of the URL policy's reach.
    """
    global _shared_client
    if _shared_client is None:
        with _shared_lock:
            if _shared_client is None:
                limits = httpx.Limits(max_connections=200, max_keepalive_connections=50)
                _shared_client = httpx.Client(
                    transport=policy_checked_transport(limits),
                    follow_redirects=False,
                    headers={"User-Agent": "ocpi-hub/2.2.1", "Accept-Encoding": ACCEPT_ENCODING},
                )
    return _shared_client


@dataclass
class OcpiResult:
    """A partner's answer: HTTP status, the envelope's fields and the response headers."""

    http_status: int
    ocpi_status: int | None
    data: Any
    message: str
    headers: httpx.Headers
    request_id: str
    correlation_id: str
    body: Any = field(repr=False, default=None)

    @property
    def ok(self) -> bool:
        """HTTP 2xx and OCPI 1xxx."""
        return (
            200 <= self.http_status < 300
            and self.ocpi_status is not None
            and 1000 <= self.ocpi_status < 2000
        )


class OcpiClientError(Exception):
    """Base of every outbound failure."""


class OcpiTransportError(OcpiClientError):
    """The partner could not be reached or did not answer in time."""

    def __init__(self, message: str, *, timeout: bool = False) -> None:
        super().__init__(message)
        self.timeout = timeout


class OcpiDeadlineError(OcpiTransportError):
    """The partner did not finish its answer within the call's wall-clock deadline."""

    def __init__(self, message: str) -> None:
        super().__init__(message, timeout=True)


class OcpiResponseTooLargeError(OcpiTransportError):
    """The partner's answer exceeded the byte cap; it was dropped, none of it is used."""

    def __init__(self, message: str, *, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


class OcpiRemoteError(OcpiClientError):
    """The partner answered, but not with a success envelope."""

    def __init__(self, message: str, result: OcpiResult) -> None:
        super().__init__(message)
        self.result = result

    @property
    def http_status(self) -> int:
        return self.result.http_status

    @property
    def ocpi_status(self) -> int | None:
        return self.result.ocpi_status


class OcpiClient:
    """Calls one partner platform (or a bare URL during registration) on the hub's behalf."""

    def __init__(
        self,
        *,
        token: str | None,
        token_encoding: str = TokenEncoding.BASE64,
        platform: Platform | None = None,
        timeout: float | None = None,
        deadline: float | None = None,
        max_response_bytes: int | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        """`timeout`: the longest wait for any one network operation (`OCPI_HTTP_TIMEOUT_S`);
        `deadline`: the longest a whole call may take, in seconds (`OCPI_CALL_DEADLINE_S`;
        never more); `max_response_bytes`: the cap on an answer's decompressed size (else
        the platform's `max_response_bytes`, else `OCPI_MAX_RESPONSE_BYTES`)."""
        self.token = token
        self.token_encoding = token_encoding
        self.platform = platform
        self.deadline = min(
            deadline if deadline is not None else settings.OCPI_CALL_DEADLINE_S,
            settings.OCPI_CALL_DEADLINE_S,
        )
        read = min(timeout if timeout is not None else settings.OCPI_HTTP_TIMEOUT_S, self.deadline)
        self.timeout = httpx.Timeout(read, connect=min(settings.OCPI_HTTP_CONNECT_TIMEOUT_S, read))
        self.max_response_bytes = (
            max_response_bytes
            or (platform.max_response_bytes if platform is not None else None)
            or settings.OCPI_MAX_RESPONSE_BYTES
        )
        self._http = (
            httpx.Client(
                transport=transport,
                follow_redirects=False,
                headers={"Accept-Encoding": ACCEPT_ENCODING},
            )
            if transport
            else None
        )

    @classmethod
    def for_platform(cls, platform: Platform, **kwargs: Any) -> "OcpiClient":
        """A client sending `platform`'s token in the form it expects."""
        return cls(
            token=platform.outbound_token,
            token_encoding=platform.token_encoding,
            platform=platform,
            **kwargs,
        )

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        correlation_id: str | None = None,
        from_party: PartyRef | None = None,
        to_party: PartyRef | None = None,
        extra_headers: dict[str, str] | None = None,
        module: str = "",
        require_success: bool = True,
    ) -> OcpiResult:
        """Send one OCPI request and return the parsed answer.

        Raises `UrlNotAllowedError` (policy), `OcpiTransportError` (unreachable, timeout; its
        subclasses `OcpiDeadlineError` past the call's deadline and `OcpiResponseTooLargeError`
        past the byte cap, the answer then dropped whole) and, unless `require_success` is off,
        `OcpiRemoteError` for anything but HTTP 2xx with an OCPI 1xxx envelope.
        """
        headers = outbound_headers(
            correlation_id=correlation_id, from_party=from_party, to_party=to_party
        )
        if extra_headers:
            headers.update(extra_headers)
        if self.token:
            headers["Authorization"] = encode_token(self.token, self.token_encoding)
        record = ExchangeRecord(
            direction=ExchangeDirection.OUTBOUND,
            method=method.upper(),
            url=url,
            platform=self.platform,
            module=module,
            from_party=str(from_party) if from_party else "",
            to_party=str(to_party) if to_party else "",
            request_id=headers[REQUEST_ID],
            correlation_id=headers[CORRELATION_ID],
        )
        started = time.perf_counter()
        deadline = time.monotonic() + self.deadline
        deadline_token = _call_deadline.set(deadline)
        response: httpx.Response | None = None
        try:
            check_url(url)
            http = self._http or shared_http_client()
            request = http.build_request(
                method.upper(), url, json=json, params=params, headers=headers, timeout=self.timeout
            )
            response = http.send(request, stream=True)
            try:
                content = self._read(response, deadline)
            finally:
                response.close()
        except ResponseTooLargeError as exc:
            # Dropped whole: a truncated page or envelope must never pass for the answer.
            record.duration_ms = (time.perf_counter() - started) * 1000
            record.http_status = response.status_code if response is not None else None
            record.error = f"too large: {exc}"[:255]
            record_exchange(record)
            raise OcpiResponseTooLargeError(f"{method} {url}: {exc}", limit=exc.limit) from exc
        except DeadlineExceededError as exc:
            record.duration_ms = (time.perf_counter() - started) * 1000
            record.http_status = response.status_code if response is not None else None
            record.error = f"deadline: {exc}"
            record_exchange(record)
            raise OcpiDeadlineError(f"{method} {url}: {exc}") from exc
        except BoundedReadError as exc:
            record.duration_ms = (time.perf_counter() - started) * 1000
            record.http_status = response.status_code if response is not None else None
            record.error = f"transport: {exc}"[:255]
            record_exchange(record)
            raise OcpiTransportError(f"{method} {url} failed: {exc}") from exc
        except UnresolvableHostError as exc:
            # A resolver hiccup must not fail a delivery for good (CDRs retry for days).
            record.error = f"transport: {exc}"[:255]
            record_exchange(record)
            raise OcpiTransportError(f"{method} {url} failed: {exc}") from exc
        except UrlNotAllowedError as exc:
            record.error = f"refused: {exc}"
            record_exchange(record)
            raise
        except httpx.TimeoutException as exc:
            record.duration_ms = (time.perf_counter() - started) * 1000
            record.http_status = response.status_code if response is not None else None
            if time.monotonic() >= deadline - _DEADLINE_SLACK_S:
                # A socket operation cut short by DeadlineStream (trickled headers or body).
                record.error = f"deadline: no complete answer within {self.deadline:g}s"
                record_exchange(record)
                raise OcpiDeadlineError(
                    f"{method} {url}: no complete answer within {self.deadline:g}s"
                ) from exc
            record.error = f"timeout: {type(exc).__name__}"
            record_exchange(record)
            raise OcpiTransportError(f"{method} {url} timed out", timeout=True) from exc
        except httpx.HTTPError as exc:
            record.duration_ms = (time.perf_counter() - started) * 1000
            record.error = f"transport: {type(exc).__name__}: {exc}"[:255]
            record_exchange(record)
            raise OcpiTransportError(f"{method} {url} failed: {type(exc).__name__}") from exc
        finally:
            _call_deadline.reset(deadline_token)
        record.duration_ms = (time.perf_counter() - started) * 1000
        result = self._parse(response, content, headers, self.token)
        record.http_status = result.http_status
        record.ocpi_status = result.ocpi_status
        record.status_message = result.message
        if not result.ok:
            record.error = self._failure_reason(result)
        record_exchange(record)
        if require_success and not result.ok:
            raise OcpiRemoteError(f"{method} {url}: {self._failure_reason(result)}", result)
        return result

    def get(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("POST", url, **kwargs)

    def put(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("PUT", url, **kwargs)

    def patch(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("PATCH", url, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> OcpiResult:
        return self.request("DELETE", url, **kwargs)

    def _read(self, response: httpx.Response, deadline: float) -> bytes:
        """The body, decoded, within the byte cap and the deadline (`read_bounded`).

        `iter_raw` gives the bytes as they came off the wire: httpx's own decoders would
        inflate a whole network chunk at once, a gzip bomb's worth, before anything counts.
        """
        declared = response.headers.get("Content-Length", "")
        if declared.isdigit() and int(declared) > self.max_response_bytes:
            raise ResponseTooLargeError(self.max_response_bytes)  # known before reading it
        if response.is_stream_consumed:
            # An injected transport's in-memory answer (tests): httpx has decoded it already.
            chunks, encoding = iter([response.content]), ""
        else:
            chunks, encoding = response.iter_raw(), response.headers.get("Content-Encoding", "")
        return read_bounded(
            chunks,
            content_encoding=encoding,
            limit=self.max_response_bytes,
            deadline=deadline,
            seconds=self.deadline,
        )

    @staticmethod
    def _parse(
        response: httpx.Response, content: bytes, sent: dict[str, str], token: str | None
    ) -> OcpiResult:
        try:
            # Bounded nesting: a partner's `[[[[...` must not crash a forward or a worker.
            body = loads_bounded(content) if content else None
        except ValueError:
            body = None
        envelope = body if is_envelope(body) else None
        message = str(envelope.get("status_message") or "") if envelope else ""
        if envelope and token and redact_token(message, token) != message:
            # A partner echoing the token it was sent: the message is logged, stored and may
            # be relayed to another party (a forwarded answer), so the token goes first.
            message = redact_token(message, token)
            body = {**envelope, "status_message": message}
        return OcpiResult(
            http_status=response.status_code,
            ocpi_status=envelope["status_code"] if envelope else None,
            data=envelope.get("data") if envelope else None,
            message=message,
            headers=response.headers,
            request_id=sent[REQUEST_ID],
            correlation_id=sent[CORRELATION_ID],
            body=body,
        )

    @staticmethod
    def _failure_reason(result: OcpiResult) -> str:
        if 300 <= result.http_status < 400:
            return f"HTTP {result.http_status} redirect (redirects are not followed)"
        if result.ocpi_status is None:
            return f"HTTP {result.http_status} without an OCPI envelope"
        detail = f": {result.message}" if result.message else ""
        return f"HTTP {result.http_status}, OCPI {result.ocpi_status}{detail}"
