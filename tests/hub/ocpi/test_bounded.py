"""`read_bounded` on bytes alone: codings, the cap on decompressed size, the deadline."""

import gzip
import json
import time
import zlib
from collections.abc import Iterator

import pytest

from hub.ocpi.bounded import (
    BoundedReadError,
    DeadlineExceededError,
    ResponseTooLargeError,
    UnsupportedEncodingError,
    read_bounded,
)

BODY = json.dumps({"data": list(range(500)), "status_code": 1000}).encode()
FAR = time.monotonic() + 3600


def chunks(data: bytes, size: int = 4096) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def raw_deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    return compressor.compress(data) + compressor.flush()


@pytest.mark.parametrize(
    ("encoding", "wire"),
    [
        ("", BODY),
        ("identity", BODY),
        ("gzip", gzip.compress(BODY)),
        ("x-gzip", gzip.compress(BODY)),
        ("gzip", gzip.compress(BODY[:100]) + gzip.compress(BODY[100:])),
        ("gzip", gzip.compress(BODY) + b"\0\0\0\0"),
        ("deflate", zlib.compress(BODY)),
        ("deflate", raw_deflate(BODY)),
    ],
    ids=["none", "identity", "gzip", "x-gzip", "members", "padding", "deflate", "raw-deflate"],
)
def test_read_bounded_decodes(encoding: str, wire: bytes) -> None:
    assert (
        read_bounded(
            chunks(wire), content_encoding=encoding, limit=len(BODY), deadline=FAR, seconds=1
        )
        == BODY
    )


def test_read_bounded_cap_is_on_decompressed_bytes() -> None:
    bomb = gzip.compress(b" " * (64 * 1024 * 1024))  # 64 KiB on the wire
    with pytest.raises(ResponseTooLargeError, match="exceeded 1048576 bytes"):
        read_bounded(
            chunks(bomb), content_encoding="gzip", limit=1024 * 1024, deadline=FAR, seconds=1
        )
    with pytest.raises(ResponseTooLargeError):
        read_bounded(chunks(BODY), limit=len(BODY) - 1, deadline=FAR, seconds=1)


def test_read_bounded_deadline_between_chunks() -> None:
    clock = iter(range(100))
    with pytest.raises(DeadlineExceededError, match="within 3s"):
        read_bounded(
            chunks(BODY, 10), limit=10**6, deadline=5, seconds=3, clock=lambda: next(clock)
        )


def test_read_bounded_refuses_codings_it_did_not_offer() -> None:
    for encoding in ("br", "zstd", "gzip, gzip"):
        with pytest.raises(UnsupportedEncodingError):
            read_bounded(
                chunks(BODY), content_encoding=encoding, limit=10**6, deadline=FAR, seconds=1
            )
    with pytest.raises(BoundedReadError, match="corrupt"):
        read_bounded(
            iter([b"not gzip at all"]),
            content_encoding="gzip",
            limit=10**6,
            deadline=FAR,
            seconds=1,
        )
