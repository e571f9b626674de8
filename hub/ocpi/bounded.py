"""Reading a partner's answer within bounds: a cap on decompressed bytes and a deadline.

Partners are untrusted (issue 10). A gzip bomb is a few kilobytes on the wire and gigabytes
once decompressed; httpx's own decoders inflate each network chunk in full before anyone can
count, and `Response.json()` keeps reading until the partner stops. `read_bounded` takes the
body as it arrives on the wire (undecoded), inflates it in steps of at most `_STEP` bytes and
stops as soon as the decompressed size passes the cap, or the call's wall-clock deadline
passes between two steps. Memory is then bounded by the cap, whatever the compression ratio.

Only the codings the hub asks for (`ACCEPT_ENCODING`) are decoded; anything else is refused
rather than guessed at. No httpx here: the client (`hub.ocpi.client`) hands over the raw
chunks, so this module can be tested, and reasoned about, on bytes alone.
"""

import time
import zlib
from collections.abc import Callable, Iterable
from typing import Protocol

__all__ = [
    "ACCEPT_ENCODING",
    "BoundedReadError",
    "DeadlineExceededError",
    "ResponseTooLargeError",
    "UnsupportedEncodingError",
    "read_bounded",
]

# What the hub offers partners (sent explicitly: httpx's default grows with whatever codec
# packages happen to be installed, and each is a decoder that must be bounded here).
ACCEPT_ENCODING = "gzip, deflate"

# Decompressed bytes produced per step: the most that exists beyond the cap at any moment.
_STEP = 64 * 1024


class BoundedReadError(Exception):
    """The answer was abandoned before its end; nothing of it may be used."""


class ResponseTooLargeError(BoundedReadError):
    """The answer exceeded the cap (on the wire or decompressed)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer exceeded {limit} bytes")
        self.limit = limit


class DeadlineExceededError(BoundedReadError):
    """The call's wall-clock deadline passed while the body was still arriving."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no complete answer within {seconds:g}s")
        self.seconds = seconds


class UnsupportedEncodingError(BoundedReadError):
    """A Content-Encoding the hub did not offer (it cannot bound what it cannot decode)."""

    def __init__(self, encoding: str) -> None:
        super().__init__(f"unsupported Content-Encoding {encoding!r} (the hub accepts gzip)")


class _Decoder(Protocol):
    def feed(self, data: bytes, max_length: int) -> bytes: ...

    @property
    def pending(self) -> bool: ...

    def finish(self) -> bytes: ...


class _Identity:
    """No content coding: bytes pass as they are (`pending` holds what did not fit a step)."""

    def __init__(self) -> None:
        self._tail = b""

    def feed(self, data: bytes, max_length: int) -> bytes:
        data = self._tail + data
        self._tail = data[max_length:]
        return data[:max_length]

    @property
    def pending(self) -> bool:
        return bool(self._tail)

    def finish(self) -> bytes:
        return b""


class _Inflate:
    """gzip (RFC 1952, several members allowed) or deflate (RFC 9110: zlib-wrapped; some
    servers send it raw, which httpx tolerates too), inflated at most `max_length` at a time."""

    def __init__(self, coding: str) -> None:
        self._gzip = coding in ("gzip", "x-gzip")
        self._wbits = 16 + zlib.MAX_WBITS if self._gzip else zlib.MAX_WBITS
        self._inflater = zlib.decompressobj(self._wbits)
        self._started = False  # some output or a complete header came out of this stream
        self._members = 1
        self._done = False
        self._tail = b""

    def feed(self, data: bytes, max_length: int) -> bytes:
        data = self._tail + data
        self._tail = b""
        if self._done:
            return b""
        if self._inflater.eof:
            if not (self._gzip and data):
                self._done = True  # bytes after the end of a deflate stream are not the body
                return b""
            self._inflater = zlib.decompressobj(self._wbits)  # the next gzip member
            self._members += 1
        try:
            out = self._inflater.decompress(data, max_length)
        except zlib.error:
            if self._members > 1:
                self._done = True  # padding after the last member, ignored as gzip(1) does
                return b""
            if self._gzip or self._started:
                raise
            self._inflater = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate
            out = self._inflater.decompress(data, max_length)
        self._started = True
        self._tail = self._inflater.unconsumed_tail
        if self._inflater.eof:
            self._tail = self._inflater.unused_data
        return out

    @property
    def pending(self) -> bool:
        return bool(self._tail) and not self._done

    def finish(self) -> bytes:
        # What inflate still holds once all input is in: at most one match (258 bytes).
        return self._inflater.flush() if not (self._inflater.eof or self._done) else b""


def _decoder(content_encoding: str) -> _Decoder:
    codings = [
        coding.strip().lower()
        for coding in content_encoding.split(",")
        if coding.strip() and coding.strip().lower() != "identity"
    ]
    if not codings:
        return _Identity()
    if len(codings) == 1 and codings[0] in ("gzip", "x-gzip", "deflate"):
        return _Inflate(codings[0])
    raise UnsupportedEncodingError(content_encoding)


def read_bounded(
    chunks: Iterable[bytes],
    *,
    content_encoding: str = "",
    limit: int,
    deadline: float,
    seconds: float,
    clock: Callable[[], float] = time.monotonic,
) -> bytes:
    """The decoded body from its raw `chunks`, or an error as soon as it cannot be within
    bounds: more than `limit` bytes on the wire or decompressed (`ResponseTooLargeError`),
    `clock()` past `deadline` between two steps (`DeadlineExceededError`, naming `seconds`,
    the call's budget), a coding not offered (`UnsupportedEncodingError`), a corrupt stream
    (`zlib.error` as `BoundedReadError`).

    The caller stops the network side (closes the response) on any error; a blocked read is
    the transport's to bound (the client clamps every socket read to the same deadline).
    """
    decoder = _decoder(content_encoding)
    body = bytearray()
    received = 0
    try:
        for chunk in chunks:
            received += len(chunk)
            if received > limit:
                # Compression never makes a JSON body bigger than this on the wire; an endless
                # stream that inflates to nothing (empty deflate blocks) ends here too.
                raise ResponseTooLargeError(limit)
            data = chunk
            while data or decoder.pending:
                body += decoder.feed(data, min(_STEP, limit - len(body) + 1))
                data = b""
                if len(body) > limit:
                    raise ResponseTooLargeError(limit)
                if clock() > deadline:
                    raise DeadlineExceededError(seconds)
            if clock() > deadline:
                raise DeadlineExceededError(seconds)
        body += decoder.finish()
    except zlib.error as exc:
        raise BoundedReadError(f"corrupt {content_encoding} body: {exc}") from exc
    if len(body) > limit:
        raise ResponseTooLargeError(limit)
    return bytes(body)
